"""Where PyTorch wheels come from and how an exact pin names one build: the one definition of
the index URLs and of the local-label rule, used by the plan's recipes, the lock, the fixes of
``doctor`` and ``db update``.

A pin needs the local label (``torch==2.13.0+cu130``): PEP 440 lets ``==2.13.0`` match any local
label, so without it an index that also holds ``+cpu`` wheels could satisfy the pin with a CPU
build (failure catalog 3.11).
"""

from __future__ import annotations

from collections.abc import Iterable

PYPI_INDEX = "https://pypi.org/simple"
PYTORCH_INDEX = "https://download.pytorch.org/whl"

# aarch64 CPU wheels carry "+cpu" from 2.8 on (compat-matrix.md section 2, read from the
# wheels: 2.8.0+cpu ... 2.15.0+cpu); torch 1.13.1's aarch64 version.py says plain "1.13.1"
# (S3), and the releases between were not inspected, so no label is pinned for them: the
# commands then read the variant's index only, where every wheel is that variant.
AARCH64_CPU_LABEL_FROM = (2, 8)


def variant_index(variant: str, base: str = PYTORCH_INDEX) -> str:
    """The variant's PEP 503 index under a PyTorch index (or a mirror of one)."""
    return f"{base.rstrip('/')}/{variant}"


def local_label(torch: str, variant: str, platforms: Iterable[str]) -> str:
    """The local version label to pin (``"+cu130"``), or "" where the wheels carry none: macOS
    wheels have no label, nor do older aarch64 CPU wheels."""
    kinds = set(platforms)
    if any(p.startswith("macos") for p in kinds):
        return ""
    if variant == "cpu" and "linux_aarch64" in kinds and _minor(torch) < AARCH64_CPU_LABEL_FROM:
        return ""
    return f"+{variant}"


# Domain-library wheels that carry no local label where torch's do, so a labeled pin finds
# nothing (the knowledge audit of 2026-12-06, issue 13; knowledge source S16 and S2):
# - torchvision's linux_aarch64 CUDA wheels of the torch 2.7-2.9 releases (0.22-0.24) are named
#   without one on download.pytorch.org;
# - torchaudio 2.11.1 is one py3-none wheel per platform (requires torch>=2.11), unlabeled on
#   PyPI, and serves torch 2.12 and later.
# An unlabeled exact pin still matches a labeled wheel (PEP 440), and uv takes these libraries
# from the variant's index only (installer_argv.index_options), so it cannot pick another build.
UNLABELED_RELEASES = frozenset({("torchaudio", "2.11.1")})
UNLABELED_AARCH64_TORCHVISION = ((2, 7), (2, 9))


def library_label(
    library: str, version: str, torch: str, label: str, platforms: Iterable[str]
) -> str:
    """The local label to pin a domain library with, given torch's."""
    if not label or (library, version) in UNLABELED_RELEASES:
        return ""
    low, high = UNLABELED_AARCH64_TORCHVISION
    if (
        library == "torchvision"
        and label != "+cpu"
        and "linux_aarch64" in set(platforms)
        and low <= _minor(torch) <= high
    ):
        return ""
    return label


def pins(
    torch: str,
    label: str,
    libraries: Iterable[tuple[str, str | None]],
    platforms: Iterable[str] = (),
) -> list[str]:
    """Exact pins of torch and its domain libraries, each with torch's local label unless its
    wheels carry none (``library_label``); a library without a version is left out."""
    kinds = tuple(platforms)
    lines = [f"torch=={torch}{label}"]
    lines += [
        f"{name}=={version}{library_label(name, version, torch, label, kinds)}"
        for name, version in libraries
        if version
    ]
    return lines


def _minor(version: str) -> tuple[int, int]:
    parts = version.split("+", maxsplit=1)[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return (0, 0)
