"""Compatibility facts as the diagnosis rules consume them.

The rules (report/) must not import the knowledge layer, so they depend on this protocol; the
knowledge package implements it from its packaged, sourced data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class DriverRequirement:
    """The NVIDIA driver a CUDA X.Y runtime needs (NVIDIA CUDA release notes, Tables 2 and 3)."""

    cuda: str  # "12.8"
    hard_floor: str  # minor-version compatibility floor of the major: below it nothing runs
    release_floor: str | None  # the toolkit driver of X.Y GA: full features, PTX JIT of X.Y PTX
    source: str


@dataclass(frozen=True)
class VariantArchs:
    """GPU code compiled into one build variant of a torch release."""

    variant: str  # "cu126"
    archs: tuple[str, ...]  # ("sm_50", ..., "compute_90")
    source: str
    verified: bool  # read from the wheel itself rather than from a build script


@dataclass(frozen=True)
class DomainPairing:
    torch: str
    torchvision: str | None
    torchaudio: str | None
    source: str


@dataclass(frozen=True)
class DefaultBuild:
    """The Linux x86_64 wheel PyPI serves for a release, as read from its files."""

    variant: str  # "cu130"
    cuda: str | None  # "13.0"
    archs: tuple[str, ...]
    cudnn: str | None = None
    nccl: str | None = None
    cublas: str | None = None
    cudart: str | None = None


@dataclass(frozen=True)
class TorchRelease:
    """One torch release (knowledge/data/README.md, torch.json ``releases``)."""

    version: str  # "2.13.0"
    released: str | None  # "2026-07-08", first upload on PyPI
    requires_python: str | None  # ">=3.10"
    python: dict[str, tuple[str, ...]]  # platform -> ("3.10", ..., "3.14t") with wheels on PyPI
    pypi_default: dict[str, str]  # platform -> variant PyPI serves there ("cu130", "cpu")
    torchvision: str | None
    torchaudio: str | None
    source: str
    yanked: bool = False
    glibc: str | None = None  # "2.28": the manylinux floor of the Linux wheels
    default_build: DefaultBuild | None = None
    notes: tuple[str, ...] = ()
    # variant -> glibc floor where a variant's wheels differ from ``glibc`` (2.6.0: cu126 is
    # manylinux_2_28 while the PyPI wheels are manylinux1)
    glibc_by_variant: dict[str, str] = field(default_factory=dict)

    def glibc_for(self, variant: str | None) -> str | None:
        return self.glibc_by_variant.get(variant or "", self.glibc)


@dataclass(frozen=True)
class GpuModel:
    name: str  # "H100"
    cc: str  # "9.0"
    arch: str  # "Hopper"
    segment: str  # datacenter|workstation|consumer|embedded|desktop
    source: str
    # lower-case regexes searched in a normalised name (models.gpunames.normalise), gpus.json
    match: tuple[str, ...] = ()


@dataclass(frozen=True)
class CondaForgeBuild:
    """CUDA builds of one pytorch version on conda-forge for one platform."""

    torch: str  # "2.13.0"
    platform: str  # "linux_x86_64"
    cuda: tuple[str, ...]  # ("12.9", "13.0")
    source: str


class CompatKnowledge(Protocol):
    def driver_requirement(self, cuda: str, os: str = "linux") -> DriverRequirement | None:
        """What driver a runtime of CUDA ``cuda`` ("12.8") needs, or None when unknown."""
        ...

    def index_variants(self, torch_version: str) -> tuple[str, ...]:
        """Build variants on download.pytorch.org for that release ("cu126", "cpu", ...)."""
        ...

    def variant_archs(
        self, torch_version: str, variant: str, platform: str = "linux_x86_64"
    ) -> VariantArchs | None: ...

    def pairing(self, torch_version: str) -> DomainPairing | None:
        """The torchvision/torchaudio released for that torch (Requires-Dist pins)."""
        ...

    def last_pytorch_channel_version(self) -> str:
        """The last torch published on the deprecated ``pytorch`` conda channel."""
        ...

    def gpu_models(self) -> tuple[GpuModel, ...]: ...


class PlanKnowledge(CompatKnowledge, Protocol):
    """What the planner asks of the knowledge base, beyond the diagnosis queries."""

    def torch_releases(self) -> tuple[TorchRelease, ...]:
        """Every known release, oldest first."""
        ...

    def platform_variants(self, torch_version: str, platform: str) -> tuple[str, ...]:
        """Variants on download.pytorch.org for that release and platform ("linux_x86_64")."""
        ...

    def conda_forge_builds(self) -> tuple[CondaForgeBuild, ...]: ...

    def conda_forge_archs(self, cuda: str, platform: str) -> VariantArchs | None: ...

    def library_pythons(self, library: str, version: str, platform: str) -> tuple[str, ...] | None:
        """CPython versions with a wheel of torchvision/torchaudio ``version`` on ``platform``;
        None when unknown or when every Python 3 works (a stable-ABI wheel)."""
        ...

    def variants_verified(self, torch_version: str) -> bool:
        """Whether the release's variant list was read from a release source (not inferred)."""
        ...

    def describe_origin(self) -> str:
        """Where the data came from and when, e.g. "packaged data retrieved 2026-11-23"."""
        ...


def driver_key(version: str) -> tuple[int, ...]:
    """ "580.65.06" -> (580, 65, 6) for ordering; non-numeric parts are dropped."""
    parts = []
    for part in version.strip().split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def driver_at_least(version: str, floor: str) -> bool:
    return driver_key(version) >= driver_key(floor)


def split_local(version: str) -> tuple[str, str | None]:
    """ "2.13.0+cu130" -> ("2.13.0", "cu130"); no local label -> (version, None)."""
    public, _, local = version.partition("+")
    return public, local or None


def minor_of(version: str) -> str:
    """ "2.13.0+cpu" -> "2.13"."""
    return ".".join(split_local(version)[0].split(".")[:2])


def variant_cuda(variant: str | None) -> str | None:
    """ "cu128" -> "12.8", "cu118" -> "11.8"; None for cpu, rocm, xpu or anything else."""
    if variant is None or not variant.startswith("cu") or not variant[2:].isdigit():
        return None
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 3 else None
