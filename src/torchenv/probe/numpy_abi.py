"""Compiled modules built against NumPy 1 headers, looked for only when NumPy 2 is installed.

A module built with NumPy 2 headers names ``numpy._core._multiarray_umath``; one built with
NumPy 1 headers only ``numpy.core._multiarray_umath`` (failure catalog D2: checked there on
torch 2.0.1/2.1.2 vs 2.3.1 and pandas 2.1.4 vs 2.2.3). Results are cached per file stamp.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from torchenv.models import Distribution
from torchenv.probe.binary import mapped
from torchenv.probe.cache import file_stamp
from torchenv.probe.context import ProbeContext
from torchenv.probe.distributions import read_record_rows

_NUMPY2 = b"numpy._core._multiarray_umath"
_NUMPY1 = b"numpy.core._multiarray_umath"
_NUMPY_REQ = re.compile(r"^\s*numpy(?![\w.-])", re.IGNORECASE)  # numpy, not numpydoc
_SKIP = frozenset({"numpy", "torch"})  # numpy itself; torch has its own, finer check


def module_abi(path: Path) -> str | None:
    """ "numpy1", "numpy2", or None for a module that does not use NumPy's C API. OSError
    for anything but a regular file of a sane size (probe.binary)."""
    with mapped(path) as data:
        if data is None:
            return None
        if data.find(_NUMPY2) >= 0:
            return "numpy2"
        return "numpy1" if data.find(_NUMPY1) >= 0 else None


def _extension_files(dist: Distribution) -> list[Path]:
    return [
        Path(dist.location, row[0])
        for row in read_record_rows(dist.metadata_dir) or ()
        if row and row[0].endswith(".so") and not row[0].startswith(("..", "/"))
    ]


def numpy1_modules(ctx: ProbeContext, dists: Sequence[Distribution]) -> tuple[str, ...]:
    """ "dist: relative/path.so" for every module built against NumPy 1, if NumPy 2 is installed."""
    numpy = next((d for d in dists if d.name == "numpy"), None)
    if numpy is None or not (numpy.version or "").startswith(("2.", "3.")):
        return ()
    found = []
    for dist in dists:
        if dist.name in _SKIP or not any(_NUMPY_REQ.match(r) for r in dist.requires):
            continue
        for path in _extension_files(dist):
            stamp = file_stamp(path)
            if stamp is None:
                continue
            abi = ctx.cache.get("numpy-abi", str(path), stamp)
            if not isinstance(abi, str):
                try:
                    abi = module_abi(path) or "none"
                except (OSError, ValueError):
                    continue
                ctx.cache.put("numpy-abi", str(path), stamp, abi)
            if abi == "numpy1":
                found.append(f"{dist.name}: {path.relative_to(dist.location)}")
    return tuple(found)
