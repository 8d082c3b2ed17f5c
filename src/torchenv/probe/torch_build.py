"""The installed torch build, read from its files (torch is never imported here).

- ``torch/version.py`` is parsed with ``ast`` (two formats exist: ``cuda = '12.1'`` up to 2.1,
  ``cuda: Optional[str] = '13.2'`` from 2.2; failure catalog 2.1).
- The compiled GPU architectures are the literal ``CUDA_ARCH_FLAGS`` string inside
  ``torch/lib/libtorch_python.so`` (what ``torch.cuda.get_arch_list()`` returns; catalog 2.2).
- The NumPy ABI: a module built against NumPy 2 headers names ``numpy._core._multiarray_umath``;
  one built against NumPy 1 only ``numpy.core._multiarray_umath`` (catalog D2, checked there on
  torch 2.0.1, 2.1.2 and 2.3.1).
The library scan reads ~30 MB, so its result is cached by the file's size, mtime and inode.
"""

from __future__ import annotations

import ast
import glob
import os
import re
from collections.abc import Sequence
from pathlib import Path

from torchenv.models import Distribution, DomainLibrary, ProbeNote, TorchBuild
from torchenv.models.archs import find_arch_flags
from torchenv.models.compat import split_local
from torchenv.probe.binary import mapped
from torchenv.probe.cache import file_stamp
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_text

_NUMPY2 = b"numpy._core._multiarray_umath"
_NUMPY1 = b"numpy.core._multiarray_umath"
_SCAN_FORMAT = "1"
_VERSION_PY_LIMIT = 1 << 20  # torch's version.py is a dozen lines


def parse_version_py(source: str) -> dict[str, str | bool | None]:
    """Module-level ``name = 'literal'`` and ``name: T = 'literal'`` assignments."""
    values: dict[str, str | bool | None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not (isinstance(target, ast.Name) and isinstance(value, ast.Constant)):
            continue
        if isinstance(value.value, (str, bool)) or value.value is None:
            values[target.id] = value.value
    return values


def scan_library(path: Path) -> tuple[tuple[str, ...], str | None]:
    """(arch list, numpy ABI) from a compiled torch library; OSError for anything but a
    regular file of a sane size (probe.binary)."""
    with mapped(path) as data:
        if data is None:
            return (), None
        arch = find_arch_flags(data)
        numpy2 = data.find(_NUMPY2) >= 0
        numpy1 = data.find(_NUMPY1) >= 0
    abi = "numpy2" if numpy2 else ("numpy1" if numpy1 else None)
    return arch, abi


def cached_scan(ctx: ProbeContext, path: Path) -> tuple[tuple[str, ...], str | None]:
    stamp = file_stamp(path)
    if stamp is None:
        raise FileNotFoundError(str(path))
    stamp = f"{_SCAN_FORMAT}:{stamp}"
    hit = ctx.cache.get("torch-library", str(path), stamp)
    if isinstance(hit, dict) and isinstance(hit.get("arch"), list):
        abi = hit.get("numpy_abi")
        return tuple(str(a) for a in hit["arch"]), abi if isinstance(abi, str) else None
    arch, abi = scan_library(path)
    ctx.cache.put("torch-library", str(path), stamp, {"arch": list(arch), "numpy_abi": abi})
    return arch, abi


def read_version_py(path: str, notes: list[ProbeNote]) -> dict[str, str | bool | None]:
    """The literal assignments of a package's version.py; a note when it cannot be read (a FIFO
    or /dev/zero in its place, a file over 1 MiB, source that does not parse)."""
    try:
        return parse_version_py(read_text(path, _VERSION_PY_LIMIT, errors="replace"))
    except OSError as exc:
        notes.append(ProbeNote(path, f"unreadable: {describe(exc)}"))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # ast.parse raises RecursionError for a long chain ("x=1+1+1..." 200k long) and
        # MemoryError for deep nesting ("x=-----...1"), not SyntaxError (CPython 3.11)
        notes.append(ProbeNote(path, f"unreadable: {type(exc).__name__}: {exc}"))
    return {}


def _package_dirs(site_dirs: Sequence[str], package: str) -> list[str]:
    return [
        os.path.join(d, package)
        for d in site_dirs
        if os.path.isfile(os.path.join(d, package, "__init__.py"))
    ]


def probe_torch(
    ctx: ProbeContext, site_dirs: Sequence[str], dists: Sequence[Distribution]
) -> TorchBuild | None:
    copies = _package_dirs(site_dirs, "torch")
    dist = next((d for d in dists if d.name == "torch"), None)
    if not copies:
        return None
    location = copies[0]
    notes: list[ProbeNote] = []
    version_file = os.path.join(location, "version.py")
    values = read_version_py(version_file, notes)
    version = values.get("__version__")
    if not isinstance(version, str):
        version = (dist.version if dist else None) or "unknown"
        notes.append(ProbeNote(version_file, "no __version__; using the dist-info version"))
    base, local = split_local(version)
    arch: tuple[str, ...] = ()
    abi = None
    arch_source = None
    library = Path(location) / "lib" / "libtorch_python.so"
    if library.exists():
        try:
            arch, abi = cached_scan(ctx, library)
            arch_source = str(library)
        except OSError as exc:
            notes.append(ProbeNote(str(library), f"could not scan: {describe(exc)}"))
        except ValueError as exc:
            notes.append(ProbeNote(str(library), f"could not scan: {exc}"))

    def text(key: str) -> str | None:
        value = values.get(key)
        return value if isinstance(value, str) else None

    return TorchBuild(
        version=version,
        location=location,
        base_version=base,
        local=local,
        cuda=text("cuda"),
        hip=text("hip"),
        xpu=text("xpu"),
        git_version=text("git_version"),
        arch_list=arch,
        arch_list_source=arch_source,
        numpy_abi=abi,
        has_cuda_library=os.path.exists(os.path.join(location, "lib", "libtorch_cuda.so")),
        installer=dist.installer if dist else None,
        copies=tuple(copies),
        cudnn=_first_version(dists, "nvidia-cudnn-cu"),
        nccl=_first_version(dists, "nvidia-nccl-cu"),
        cuda_runtime=_first_version(dists, "nvidia-cuda-runtime"),
        notes=tuple(notes),
    )


def _first_version(dists: Sequence[Distribution], prefix: str) -> str | None:
    for dist in dists:
        if dist.name.startswith(prefix):
            return dist.version
    return None


def probe_domain_library(
    name: str, site_dirs: Sequence[str], dists: Sequence[Distribution]
) -> DomainLibrary | None:
    """torchvision/torchaudio: version and build tag from version.py, the torch it requires
    from Requires-Dist."""
    dirs = _package_dirs(site_dirs, name)
    dist = next((d for d in dists if d.name == name), None)
    if not dirs and dist is None:
        return None
    notes: list[ProbeNote] = []
    version = dist.version if dist else None
    if dirs:
        found = read_version_py(os.path.join(dirs[0], "version.py"), notes).get("__version__")
        version = found if isinstance(found, str) else version
    requires = None
    for req in dist.requires if dist else ():
        match = re.match(r"^torch\s*\(?\s*([^;)]*)\)?\s*(;.*)?$", req)
        if match and "extra" not in (match.group(2) or ""):
            requires = match.group(1).strip() or None
            break
    _, local = split_local(version or "unknown")
    return DomainLibrary(
        name=name,
        version=version or "unknown",
        local=local,
        requires_torch=requires,
        location=dirs[0] if dirs else (dist.location if dist else None),
        notes=tuple(notes),
    )


_SONAME = re.compile(r"^(lib[\w+.-]*?\.so\.\d+)")


def wheel_cuda_sonames(site_dirs: Sequence[str]) -> tuple[str, ...]:
    """The shared libraries the nvidia-* wheels put under site-packages/nvidia/<component>/lib
    (cu12 layout) or nvidia/cu13/lib (CUDA 13 toolkit wheels; failure catalog 3.11)."""
    names: set[str] = set()
    for site in site_dirs:
        for lib_dir in glob.glob(os.path.join(site, "nvidia", "*", "lib")):
            try:
                entries = os.listdir(lib_dir)
            except OSError:
                continue
            names.update(m.group(1) for m in map(_SONAME.match, entries) if m)
    return tuple(sorted(names))
