"""Corrections from the record-by-record audit of the knowledge data (2026-12-06, issue 13).

Imported by seed_knowledge.py, which applies them after its own fields, so a rerun of the seed
gives the same files. Each correction names the primary source it comes from:

- S3c: ``PYTORCH_RELEASES_CODE_CC`` in ``torch/cuda/__init__.py`` of the PyPI wheels 2.11.0 to
  2.15.0 (read by HTTP range requests, 2026-12-07): the CUDA lines each release was built for
  and their GPU code per host architecture.
- S6b: pytorch/pytorch ``.ci/aarch64_linux/aarch64_ci_build.sh`` as of the 2.6/2.7, 2.8 and
  2.9 releases: the aarch64 (SBSA) TORCH_CUDA_ARCH_LIST per CUDA version.
- S16: the download.pytorch.org file lists as read by the audit (that index is not reachable
  from the machine this data was built on; ``torchenv db update`` re-reads it).
- S2: the torchaudio 2.11.1 METADATA on PyPI (``Requires-Dist: torch>=2.11``, py3-none wheels).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# PYTORCH_RELEASES_CODE_CC as read from the wheels (S3c): what `db update --full` records as
# cuda_code_cc, kept here so the packaged records carry it too
RECORDED_CODE_CC = Path(__file__).with_name("recorded") / "cuda_code_cc.json"

SOURCES = [
    {
        "id": "S3c",
        "what": "PYTORCH_RELEASES_CODE_CC in torch/cuda/__init__.py of the PyPI Linux x86_64 "
        "wheels 2.11.0-2.15.0 (CUDA lines built per release, GPU code per host arch), read by "
        "HTTP range requests",
        "url": "https://pypi.org/simple/torch/",
        "retrieved": "2026-12-07",
    },
    {
        "id": "S6b",
        "what": "pytorch/pytorch .ci/aarch64_linux/aarch64_ci_build.sh as of the 2.6/2.7 "
        "(12.6: 9.0; 12.8: 9.0;10.0;12.0), 2.8 (12.9: 8.0;9.0;10.0;12.0) and 2.9 releases "
        "(12.6: 8.0;9.0; 12.8: 8.0;9.0;10.0;12.0; 13.0: 8.0;9.0;10.0;11.0;12.0+PTX)",
        "url": "https://github.com/pytorch/pytorch",
        "retrieved": "2026-12-07",
    },
    {
        "id": "S16",
        "what": "download.pytorch.org/whl/<variant>/torch/ and torchvision/ file lists as read by "
        "the knowledge audit of 2026-12-06: cu129 wheels of 2.9-2.13, aarch64 CUDA wheels of "
        "2.4-2.6, unlabeled torchvision aarch64 wheels for 2.7-2.9, manylinux_2_28 cu126 wheels "
        "of 2.6.0",
        "url": "https://download.pytorch.org/whl/",
        "retrieved": "2026-12-06",
    },
]

# minor -> (Linux x86_64 variants to add, linux_aarch64 variants to add, source)
VARIANTS = {
    "2.9": (["cu129"], [], "S16"),
    "2.10": (["cu129"], [], "S16"),
    "2.11": (["cu129"], [], "S16"),
    "2.12": (["cu129"], [], "S16"),
    "2.13": (["cu129"], ["cu129"], "S3c,S16"),
    "2.15": (["cu126", "cu130"], ["cu126", "cu130"], "S3c"),
}
# The aarch64 CUDA builds before 2.7: one variant each, for Grace Hopper (sm_90)
AARCH64_EARLY = {"2.4": ["cu124"], "2.5": ["cu124"], "2.6": ["cu126"]}

SBSA13 = ["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"]
# (variant, platform, minors, archs, source, verified, note); replaces a row of the same
# variant and platform that covers one of these minors
ARCH_ROWS = [
    ("cu124", "linux_aarch64", ["2.4", "2.5"], ["sm_90"], "S5,S16", False,
     "pytorch/builder build_cuda.sh cuda-aarch64 case: 9.0 (Grace Hopper)"),
    ("cu126", "linux_aarch64", ["2.6"], ["sm_90"], "S6b,S16", False,
     "aarch64_ci_build.sh for CUDA 12.6: 9.0"),
    ("cu128", "linux_aarch64", ["2.7"], ["sm_90", "sm_100", "sm_120"], "S6b", False,
     "aarch64_ci_build.sh for CUDA 12.8 at 2.7: 9.0;10.0;12.0 (no 8.0, no PTX)"),
    ("cu129", "linux_aarch64", ["2.8"], ["sm_80", "sm_90", "sm_100", "sm_120"], "S6b", False,
     "aarch64_ci_build.sh for CUDA 12.9: 8.0;9.0;10.0;12.0 (no PTX)"),
    ("cu129", "linux_aarch64", ["2.13"], ["sm_80", "sm_90", "sm_100", "sm_120"], "S3c", False,
     "PYTORCH_RELEASES_CODE_CC of the 2.13.0 wheel (GPU code only: PTX is not listed there)"),
    ("cu126", "linux_aarch64", ["2.15"], ["sm_80", "sm_90"], "S3c", False,
     "PYTORCH_RELEASES_CODE_CC of the 2.15.0 wheel"),
    ("cu130", "linux_aarch64", ["2.15"], SBSA13, "S3c", False,
     "PYTORCH_RELEASES_CODE_CC of the 2.15.0 wheel"),
    ("cu129", "linux_x86_64", ["2.8", "2.9", "2.10"],
     ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"], "S6", False,
     "build_cuda.sh for CUDA 12.9: 7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX"),
    ("cu129", "linux_x86_64", ["2.11", "2.12", "2.13"],
     ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"], "S3c", False,
     "PYTORCH_RELEASES_CODE_CC of the 2.13.0 wheel (GPU code only: PTX is not listed there), "
     "taken for 2.11 and 2.12 too, whose own tables do not list CUDA 12.9"),
    ("cu126", "linux_x86_64", ["2.15"],
     ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], "S3c", False,
     "PYTORCH_RELEASES_CODE_CC of the 2.15.0 wheel"),
    ("cu130", "linux_x86_64", ["2.15"],
     ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"], "S3c", False,
     "PYTORCH_RELEASES_CODE_CC of the 2.15.0 wheel"),
]  # fmt: skip

# torchaudio 2.11.1: py3-none wheels, Requires-Dist torch>=2.11 (S2): the torchaudio of 2.12+
AUDIO = "2.11.1"
AUDIO_FROM = (2, 12)
AUDIO_NOTE = (
    "torchaudio 2.11.1 (py3-none wheels, one per platform for every Python 3) requires "
    "torch>=2.11 and is the newest torchaudio: it pairs with this release (S1,S2)"
)
# glibc floors that differ by variant (the release's ``glibc`` is its PyPI wheels')
GLIBC_BY_VARIANT = {"2.6.0": {"cu126": "2.28"}}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _ordered(variants: list[str]) -> list[str]:
    """CUDA variants by version, then ROCm, XPU, CPU: the order the data files use."""

    def rank(v: str) -> tuple[int, tuple[int, ...], str]:
        if v.startswith("cu"):
            return (0, (int(v[2:]),), v)
        if v.startswith("rocm"):
            return (1, _key(v[4:]), v)
        return (2 if v == "xpu" else 3, (), v)

    return sorted(dict.fromkeys(variants), key=rank)


def apply_variants(minors: dict[str, Any]) -> None:
    """Before seed_minor, which derives the Windows list from the Linux one."""
    for minor, (linux, _aarch64, source) in VARIANTS.items():
        entry = minors[minor]
        entry["index_variants"] = _ordered([*entry["index_variants"], *linux])
        # rewritten, not appended: a rerun gives the same text
        base = re.sub(r"; [a-z0-9, ]+ from [A-Za-z0-9,]+$", "", entry["source"])
        entry["source"] = f"{base}; {', '.join(linux)} from {source}"


def apply_aarch64(minors: dict[str, Any]) -> None:
    """After seed_minor, which sets the aarch64 lists from test-infra."""
    for minor, variants in AARCH64_EARLY.items():
        entry = minors[minor]
        entry["index_variants_by_platform"]["linux_aarch64"] = [*variants, "cpu"]
        # read by the audit, not from here: db update re-reads the index where it is reachable
        entry["platform_variants_verified"]["linux_aarch64"] = False
        windows = entry["platform_variants_note"].partition(" win_amd64:")[2]
        entry["platform_variants_note"] = (
            f"linux_aarch64: {', '.join(variants)} (sm_90, Grace Hopper) and cpu, from the "
            "download.pytorch.org file list (S16)." + (f" win_amd64:{windows}" if windows else "")
        )
    for minor, (_linux, aarch64, _source) in VARIANTS.items():
        lists = minors[minor]["index_variants_by_platform"]
        lists["linux_aarch64"] = _ordered([*lists["linux_aarch64"], *aarch64])


def apply_arch_lists(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        platform = row.get("platform", "linux_x86_64")
        covered = {
            m
            for variant, plat, minors, *_ in ARCH_ROWS
            if variant == row["variant"] and plat == platform
            for m in minors
        }
        kept = [m for m in row["torch"] if m not in covered]
        if kept:
            out.append({**row, "torch": kept})
    for variant, platform, minors, archs, source, verified, note in ARCH_ROWS:
        row = {"torch": minors, "variant": variant, "archs": archs}
        if platform != "linux_x86_64":
            row["platform"] = platform
        out.append({**row, "source": source, "verified": verified, "note": note})
    return out


def apply_release(rel: dict[str, Any]) -> None:
    version = rel["version"]
    tables = json.loads(RECORDED_CODE_CC.read_text("utf-8"))["releases"]
    if version in tables:
        rel["cuda_code_cc"] = tables[version]
        if "S3c" not in rel["source"]:
            rel["source"] += ",S3c"
    if _key(version)[:2] >= AUDIO_FROM:
        rel["torchaudio"] = AUDIO
        notes = [n for n in rel.get("notes", []) if not n.startswith("no torchaudio was released")]
        rel["notes"] = [*notes, AUDIO_NOTE]
    if version in GLIBC_BY_VARIANT:
        rel["glibc_by_variant"] = GLIBC_BY_VARIANT[version]
        if "S16" not in rel["source"]:
            rel["source"] += ",S16"


def apply_sources(sources: dict[str, Any]) -> None:
    have = {row["id"] for row in sources["sources"]}
    sources["sources"] += [row for row in SOURCES if row["id"] not in have]
