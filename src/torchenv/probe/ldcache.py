"""The dynamic loader's view: /etc/ld.so.cache and LD_LIBRARY_PATH, read without ``ldconfig -p``.

The cache format is glibc's "new" format (``glibc-ld.so.cache1.1``, elf/cache.c, sysdeps
dl-cache.h): a 48-byte header, then 24-byte entries whose key/value are offsets of the soname and
the path from the start of that header. Older caches prepend an "ld.so-1.7.0" table; the new table
follows it and is found by its magic.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable

from torchenv.models import LoaderLibraries, ProbeNote
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_bytes

_MAGIC = b"glibc-ld.so.cache1.1"
_HEADER = struct.Struct("<20sII4xI12x")  # magic+version, nlibs, len_strings, flags+pad, ext
_ENTRY = struct.Struct("<iIIIQ")  # flags, key, value, osversion, hwcap
# 546 libraries make 35 kB (this development machine): 64 MiB is far above any real cache
LD_CACHE_LIMIT = 64 << 20

# Libraries that torch's pip wheels bring themselves; a copy of the same soname major found
# first through LD_LIBRARY_PATH can shadow them (failure catalog B2/B3).
SHADOW_CANDIDATES = re.compile(
    r"^lib(cublas|cublasLt|cudnn\w*|cupti|nvrtc|nvJitLink|cusparse|cusparseLt|cufft|curand|"
    r"cusolver|nccl|cudart)\.so\.\d+"
)


def parse_ld_cache(data: bytes) -> dict[str, list[str]]:
    """soname -> paths, in cache order. Raises ValueError on a cache it cannot read."""
    start = data.find(_MAGIC)
    if start < 0:
        raise ValueError("no glibc-ld.so.cache1.1 table")
    if start + _HEADER.size > len(data):
        raise ValueError("truncated ld.so.cache")
    _, nlibs, _, _ = _HEADER.unpack_from(data, start)
    entries_at = start + _HEADER.size
    if entries_at + nlibs * _ENTRY.size > len(data):
        raise ValueError("truncated ld.so.cache")
    result: dict[str, list[str]] = {}
    for i in range(nlibs):
        _, key, value, _, _ = _ENTRY.unpack_from(data, entries_at + i * _ENTRY.size)
        name = _cstring(data, start + key)
        path = _cstring(data, start + value)
        result.setdefault(name, []).append(path)
    return result


def _cstring(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    if end < 0 or offset >= len(data):
        raise ValueError("string offset outside ld.so.cache")
    return data[offset:end].decode("utf-8", "replace")


def _realpaths(paths: Iterable[str]) -> tuple[str, ...]:
    # the real file name carries the version (libcuda.so.1 -> libcuda.so.580.65.06)
    seen: list[str] = []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen:
            seen.append(real)
    return tuple(seen)


def probe_loader_libraries(ctx: ProbeContext) -> LoaderLibraries:
    notes: list[ProbeNote] = []
    cache: dict[str, list[str]] = {}
    try:
        cache = parse_ld_cache(read_bytes(ctx.path("/etc/ld.so.cache"), LD_CACHE_LIMIT))
    except FileNotFoundError:
        notes.append(ProbeNote("/etc/ld.so.cache", "not present"))
    except OSError as exc:
        notes.append(ProbeNote("/etc/ld.so.cache", f"unreadable: {describe(exc)}"))
    except ValueError as exc:
        notes.append(ProbeNote("/etc/ld.so.cache", f"unreadable: {exc}"))
    ld_path = tuple(p for p in ctx.env.get("LD_LIBRARY_PATH", "").split(":") if p)
    in_dirs = _scan_dirs(ld_path)

    def find(sonames: tuple[str, ...]) -> tuple[str, ...]:
        # LD_LIBRARY_PATH is searched before the cache; cache paths are host paths under root.
        paths = [p for d in ld_path for n in sonames for p in in_dirs.get(d, {}).get(n, [])]
        paths += [str(ctx.path(p)) for n in sonames for p in cache.get(n, [])]
        return _realpaths(paths)

    shadowing: dict[str, list[str]] = {}
    for directory in ld_path:
        for name, paths in sorted(in_dirs.get(directory, {}).items()):
            if SHADOW_CANDIDATES.match(name):
                shadowing.setdefault(name, []).extend(paths)
    libcuda_names = ("libcuda.so.1", "libcuda.so")
    # where the first libcuda comes from, as the user wrote it: what a fix has to change
    libcuda_from = next(
        (d for d in ld_path for n in libcuda_names if in_dirs.get(d, {}).get(n)),
        "/etc/ld.so.cache" if any(cache.get(n) for n in libcuda_names) else None,
    )
    return LoaderLibraries(
        libcuda=find(libcuda_names),
        libcuda_from=libcuda_from,
        libnvidia_ml=find(("libnvidia-ml.so.1", "libnvidia-ml.so")),
        libcudart=find(tuple(n for n in cache if n.startswith("libcudart.so."))),
        ld_library_path=ld_path,
        shadowing={k: tuple(v) for k, v in shadowing.items()},
        notes=tuple(notes),
    )


def _scan_dirs(directories: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """For each directory: soname-like file names (libX.so.N) -> paths."""
    found: dict[str, dict[str, list[str]]] = {}
    for directory in directories:
        names: dict[str, list[str]] = {}
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            match = re.match(r"^(lib[\w+.-]*?\.so\.\d+)", entry)
            if match:
                names.setdefault(match.group(1), []).append(os.path.join(directory, entry))
        found[directory] = names
    return found


_DEFAULT_DIRS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/lib/wsl/lib")


def nvml_findable(ctx: ProbeContext, libs: LoaderLibraries) -> bool:
    """Whether dlopen("libnvidia-ml.so.1") can succeed: the library is in the loader cache, on
    LD_LIBRARY_PATH or in a default directory. Saves importing nvidia-ml-py (~60 ms) and the
    fork that isolates the load (probe.runner.call_with_timeout) when not."""
    return bool(libs.libnvidia_ml) or _in_default_dirs(ctx, "libnvidia-ml.so.1")


def libcuda_findable(ctx: ProbeContext, libs: LoaderLibraries) -> bool:
    """The same for dlopen("libcuda.so.1")."""
    return bool(libs.libcuda) or _in_default_dirs(ctx, "libcuda.so.1")


def _in_default_dirs(ctx: ProbeContext, soname: str) -> bool:
    return any(ctx.path(f"{d}/{soname}").exists() for d in _DEFAULT_DIRS)
