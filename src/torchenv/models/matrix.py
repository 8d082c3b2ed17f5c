"""What ``torchenv matrix`` returns: one row per torch release, with where the facts came from."""

from __future__ import annotations

from dataclasses import dataclass

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
