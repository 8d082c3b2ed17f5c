"""CUDA toolkits (nvcc) and host compilers: only needed to build extensions and for
torch.compile, never to run the pip wheels (they bring their own CUDA runtime)."""

from __future__ import annotations

import os
import re

from torchenv.models import Compilers, ProbeNote, Toolkit
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_text
from torchenv.untrusted.text import load_json

_NVCC_RELEASE = re.compile(r"release (\d+\.\d+), V(\d+\.\d+\.\d+)")
_NVCC_RELEASE_SHORT = re.compile(r"release (\d+\.\d+)")
_VERSION_FILE_LIMIT = 1 << 20  # version.json lists the components, a few kB


def parse_nvcc_version(text: str) -> str | None:
    """ "Cuda compilation tools, release 12.5, V12.5.82" -> "12.5.82"."""
    match = _NVCC_RELEASE.search(text)
    if match:
        return match.group(2)
    short = _NVCC_RELEASE_SHORT.search(text)
    return short.group(1) if short else None


def parse_version_json(text: str) -> str | None:
    """The SDK version from a toolkit's version.json. Toolkits before 12.2.1 write a date as the
    patch field ("11.6.20220110"); that is reduced to "11.6"."""
    data = load_json(text)
    version = data.get("cuda", {}).get("version") if isinstance(data, dict) else None
    if not isinstance(version, str):
        return None
    parts = version.split(".")
    if len(parts) == 3 and len(parts[2]) == 8:
        return ".".join(parts[:2])
    return version


def _candidates(ctx: ProbeContext) -> list[tuple[str | None, str, str | None]]:
    """(root, found_by, nvcc) for every toolkit hint, without duplicates."""
    found: list[tuple[str | None, str, str | None]] = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        root = ctx.env.get(var)
        if root:
            found.append((root, var, _nvcc_in(root)))
    nvcc = ctx.which("nvcc")
    if nvcc:
        real = os.path.realpath(nvcc)
        parent = os.path.dirname(os.path.dirname(real))
        root = parent if os.path.basename(os.path.dirname(real)) == "bin" else None
        if root is not None and not os.path.isfile(os.path.join(root, "include", "cuda.h")):
            root = None  # a wrapper script in /usr/local/bin is not a toolkit root
        found.append((root, "nvcc on PATH", nvcc))
    default = str(ctx.path("/usr/local/cuda"))
    if os.path.isdir(default):
        found.append((default, "/usr/local/cuda", _nvcc_in(default)))
    unique: list[tuple[str | None, str, str | None]] = []
    seen: set[str] = set()
    for root, how, exe in found:
        key = os.path.realpath(exe) if exe else os.path.realpath(root or "")
        if key not in seen:
            seen.add(key)
            unique.append((root, how, exe))
    return unique


def _nvcc_in(root: str) -> str | None:
    exe = os.path.join(root, "bin", "nvcc")
    return exe if os.access(exe, os.X_OK) else None


def probe_toolkits(ctx: ProbeContext) -> tuple[Toolkit, ...]:
    toolkits = []
    for root, found_by, nvcc in _candidates(ctx):
        notes: list[ProbeNote] = []
        version = None
        if root is not None:
            version = _version_from_files(root, notes)
        if version is None and nvcc is not None:
            output, error = ctx.run_cached([nvcc, "--version"], nvcc)
            if output is not None:
                version = parse_nvcc_version(output)
            else:
                notes.append(ProbeNote("nvcc --version", error or "no output"))
        if root is not None and nvcc is None:
            notes.append(ProbeNote(found_by, f"no bin/nvcc under {root}"))
        toolkits.append(Toolkit(root, found_by, nvcc, version, tuple(notes)))
    return tuple(toolkits)


def _version_from_files(root: str, notes: list[ProbeNote]) -> str | None:
    path = os.path.join(root, "version.json")
    try:
        return parse_version_json(read_text(path, _VERSION_FILE_LIMIT, errors="replace"))
    except FileNotFoundError:
        pass
    except OSError as exc:
        notes.append(ProbeNote(path, f"unreadable: {describe(exc)}"))
    except (ValueError, AttributeError) as exc:
        notes.append(ProbeNote(path, f"unreadable: {exc}"))
    path = os.path.join(root, "version.txt")  # older toolkits have this one only
    try:
        text = read_text(path, _VERSION_FILE_LIMIT, errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(ProbeNote(path, f"unreadable: {describe(exc)}"))
        return None
    match = re.search(r"CUDA Version (\d+\.\d+(?:\.\d+)?)", text)
    return match.group(1) if match else None


def probe_compilers(ctx: ProbeContext) -> Compilers:
    """The C and C++ compilers torch.compile (Inductor, Triton) would use."""
    cc = _first(ctx, ctx.env.get("CC"), "cc", "gcc", "clang")
    cxx = _first(ctx, ctx.env.get("CXX"), "c++", "g++", "clang++")
    version = None
    notes: list[ProbeNote] = []
    if cxx is not None:
        output, error = ctx.run_cached([cxx, "-dumpfullversion", "-dumpversion"], cxx)
        if output is not None:
            version = output.strip().splitlines()[0] if output.strip() else None
        else:
            notes.append(ProbeNote(cxx, error or "no version"))
    return Compilers(cc=cc, cxx=cxx, cxx_version=version, notes=tuple(notes))


def _first(ctx: ProbeContext, *names: str | None) -> str | None:
    for name in names:
        if name:
            path = ctx.which(name)
            if path:
                return path
    return None
