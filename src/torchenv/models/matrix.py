"""What ``torchenv matrix`` returns: one row per torch release, with where the facts came from;
and what ``matrix --check`` returns (schema ``torchenv.matrix-check/1``): every place where the
packaged torch data differs from the facts a fresh ``db update`` reads from the indexes, and
which sources could be read at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MATRIX_SCHEMA = "torchenv.matrix/1"


@dataclass(frozen=True)
class MatrixRow:
    """One torch release as PyPI and download.pytorch.org ship it for Linux x86_64."""

    torch: str  # "2.13.0"
    released: str | None  # first upload on PyPI, "2026-07-08"
    yanked: bool
    python: tuple[str, ...]  # CPython versions with a Linux x86_64 wheel ("3.10", ..., "3.14t")
    pypi_variant: str | None  # the build `pip install torch` gets there ("cu130")
    cuda: str | None  # its CUDA version ("13.0"), None for a CPU build
    archs: tuple[str, ...]  # GPU code in that build ("sm_75", ..., "sm_120")
    driver_floor: str | None  # the Linux driver below which that CUDA major does not run
    index_variants: tuple[str, ...]  # variants on download.pytorch.org ("cu126", ..., "cpu")
    index_verified: bool  # False when the variant list is inferred
    torchvision: str | None
    torchaudio: str | None
    notes: tuple[str, ...]
    source: str  # source ids, comma-separated


@dataclass(frozen=True)
class SourceRef:
    id: str  # "S3"
    what: str
    url: str | None
    retrieved: str | None


@dataclass(frozen=True)
class MatrixReport:
    schema: str  # first field: the JSON document starts with it
    torch_spec: str | None  # the --torch filter, None for all releases
    rows: tuple[MatrixRow, ...]  # newest first
    origin: str  # "packaged data retrieved 2026-11-23"
    sources: tuple[SourceRef, ...]  # every source the rows cite


# --- matrix --check -------------------------------------------------------------------------
MATRIX_CHECK_SCHEMA = "torchenv.matrix-check/1"

# Difference.change: how the two sides differ
MISSING = "missing"  # on the index, not in the packaged data
ABSENT = "absent"  # in the packaged data, not on the index (yanked files stay listed: deleted)
CHANGED = "changed"  # both hold the record; one field has another value


@dataclass(frozen=True)
class DataDifference:
    where: str  # "release 2.13.0", "minor 2.13", "arch list 2.13 cu130"
    # a dotted path into the record ("python.win_amd64"); "" for a whole release or minor (an
    # arch list missing from the data: "archs", with the list read)
    field: str
    change: str  # MISSING, ABSENT or CHANGED
    packaged: Any  # the value in the packaged data (JSON data), None where it has none
    fresh: Any  # the value read now, None where the index has none
    source: str  # what was read for it: the index page, or the wheels it lists; no credentials


@dataclass(frozen=True)
class SourceStatus:
    """One source the fresh run needed. A source that was not read is reported, never taken as
    evidence: the facts only it provides are not compared."""

    # "pypi", "pypi-wheels", "torchvision", "torchaudio", "cuda-toolkit", "pytorch-index",
    # "pytorch-wheels" (the wheels: the page that lists them)
    id: str
    url: str  # without credentials
    checked: bool
    why: str | None = None  # why it was not checked


@dataclass(frozen=True)
class MatrixCheckReport:
    schema: str  # first field: the JSON document starts with it
    packaged: str  # "packaged data retrieved 2026-11-23"
    pypi_index: str  # without credentials
    pytorch_index: str
    only: tuple[str, ...]  # --only, empty when the default selection was used
    read: tuple[str, ...]  # releases whose wheels were read (compared field by field)
    missing: tuple[str, ...]  # on the index, not in the packaged data
    absent: tuple[str, ...]  # in the packaged data, not on the index
    differences: tuple[DataDifference, ...]  # missing and absent releases included
    sources: tuple[SourceStatus, ...]
    requests: int
    bytes_read: int
    seconds: float
