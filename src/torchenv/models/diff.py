"""What ``torchenv diff A B`` compares and what it reports (schema ``torchenv.diff/1``).

``DiffInput`` is one side as plain data, whatever it was read from (an environment prefix, a
lock, an inspect document), so that the comparison itself is a pure function over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from torchenv.models.machine import Machine

DIFF_SCHEMA = "torchenv.diff/1"

# the kinds of side, as the report names them
PREFIX = "prefix"
PYLOCK = "pylock"
CONDA_LOCK = "conda-lock"
MACHINE = "machine"

# what the package lists of the two sides were compared as
PYTHON_PACKAGES = "python"  # Python distributions, names normalized as PEP 503 says
CONDA_PACKAGES = "conda"  # conda package names (pytorch, not torch)


@dataclass(frozen=True)
class TorchSummary:
    """The torch build of one side: what `torch.__version__`, its variant and CUDA say."""

    version: str  # "2.13.0+cu130"
    variant: str | None = None  # "cu130", "cpu", "rocm6.4"; None when it cannot be told
    cuda: str | None = None  # "13.0"; None for a CPU or ROCm build


@dataclass(frozen=True)
class DiffInput:
    """One side of a diff. ``python`` and ``conda`` map package names to versions; None where
    the side has no such list (a pylock has no conda records, an inspect document whose package
    list was emptied has neither)."""

    kind: str  # PREFIX, PYLOCK, CONDA_LOCK or MACHINE
    path: str
    detail: str | None = None  # "venv, Python 3.11.7", "platform linux-64"
    python: Mapping[str, str | None] | None = None
    conda: Mapping[str, str | None] | None = None
    torch: TorchSummary | None = None
    machine: Machine | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffSide:
    kind: str
    path: str
    detail: str | None = None


@dataclass(frozen=True)
class PackageVersion:
    name: str
    version: str | None


@dataclass(frozen=True)
class PackageChange:
    name: str
    a: str | None
    b: str | None


@dataclass(frozen=True)
class TorchDiff:
    """torch on both sides; ``changed`` names what differs: "version", "variant", "cuda"."""

    a: TorchSummary | None
    b: TorchSummary | None
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class GpuGroup:
    """GPUs of one model and compute capability, counted."""

    name: str
    compute_capability: str | None
    count: int


@dataclass(frozen=True)
class MachineSummary:
    """The facts of a machine that decide which stack runs on it."""

    platform: str  # "linux-x86_64"
    os_release: str | None
    libc: str | None  # "glibc 2.36"
    driver: str | None
    cuda_driver_api: str | None
    gpus: tuple[GpuGroup, ...] = ()
    toolkits: tuple[str, ...] = ()  # CUDA toolkit versions found


@dataclass(frozen=True)
class FieldChange:
    """One fact that differs, shown as text: "driver", "580.65.06", "535.183.01"."""

    field: str
    a: str | None
    b: str | None


@dataclass(frozen=True)
class MachineDiff:
    a: MachineSummary
    b: MachineSummary
    changed: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class DiffReport:
    schema: str  # first field: the JSON document starts with it
    a: DiffSide
    b: DiffSide
    added: tuple[PackageVersion, ...]  # in B only
    removed: tuple[PackageVersion, ...]  # in A only
    changed: tuple[PackageChange, ...]
    torch: TorchDiff | None  # None when neither side has torch
    machine: MachineDiff | None  # None unless both sides are inspect documents
    same: bool
    packages: str | None = None  # PYTHON_PACKAGES, CONDA_PACKAGES; None: not compared
    notes: tuple[str, ...] = field(default_factory=tuple)
