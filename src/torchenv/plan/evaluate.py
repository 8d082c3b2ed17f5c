"""Does one candidate build (a torch release in one variant) run on one target machine?

The checks, each citing its fact:
- the driver: below the minor-version-compatibility floor of the build's CUDA major nothing runs;
  below the toolkit driver of that CUDA release it runs with caveats (NVIDIA CUDA release notes,
  Tables 2 and 3; knowledge ``cuda_drivers.json``);
- the GPU code: a cubin sm_XY runs on X.Z with Z >= Y, PTX compute_XY is JIT-compiled on newer
  GPUs (``models.archs.coverage``; knowledge ``arch_lists``);
- Jetson (Tegra) GPUs run only code built for exactly them: Thor (11.0) is in the CUDA 13 aarch64
  lists, Orin (8.7) only through the CUDA 13.2 unification of torch >= 2.15; otherwise NVIDIA's
  JetPack builds are the way (reference failure catalog 3.4, 3.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torchenv.models.archs import coverage, describe, unified_tegra
from torchenv.models.compat import (
    DriverRequirement,
    PlanKnowledge,
    TorchRelease,
    VariantArchs,
    driver_at_least,
)
from torchenv.models.plan import PlanTarget, TargetFit

PYTORCH_INDEX = "pytorch-index"
PYPI = "pypi"  # the PyPI index (or its mirror) alone: each release's one build per platform
# A GPU generation needs a driver that knows it, whatever the wheel's CUDA: Blackwell (compute
# capability 10.x, 11.x, 12.x) needs the R570 branch or newer, the branch that introduced CUDA
# 12.8 (failure catalog 3.2); its first release is 570.26 on Linux, 570.65 on Windows (NVIDIA
# CUDA 12.8 GA release notes, Table 3; compat-matrix.md). (first cc major, OS) -> driver
GENERATION_DRIVERS = {
    (10, "linux"): ("570.26", "Blackwell"),
    (10, "windows"): ("570.65", "Blackwell"),
}
JETSON_HINT = (
    " (Jetson: NVIDIA's JetPack PyTorch wheels, or conda-forge's tegra build for Orin, are built "
    "for it)"
)
CONDA_FORGE = "conda-forge"


@dataclass(frozen=True)
class Candidate:
    release: TorchRelease
    variant: str  # "cu130", "cpu" (conda-forge builds are named the same way: cuda130 -> cu130)
    cuda: str | None
    channel: str  # PYTORCH_INDEX, PYPI or CONDA_FORGE

    @property
    def label(self) -> str:
        if self.channel == CONDA_FORGE:
            build = f"cuda{self.variant[2:]}" if self.cuda else "cpu"
            return f"conda-forge pytorch {self.release.version} ({build})"
        if self.channel == PYPI:  # PyPI's wheels carry no local label
            return f"{self.release.version} from PyPI ({self.variant})"
        return f"{self.release.version}+{self.variant}"


@dataclass
class Verdict:
    reasons: list[str] = field(default_factory=list)  # why it cannot run: rejected
    caveats: list[str] = field(default_factory=list)  # it runs, but the user must know this
    fits: list[TargetFit] = field(default_factory=list)
    ptx: bool = False  # a GPU runs it only through PTX JIT (slow first start, needs new driver)
    compat: bool = False  # the driver runs its CUDA through minor-version compatibility only

    @property
    def ok(self) -> bool:
        return not self.reasons


def os_of(platform: str) -> str:
    return "windows" if platform.startswith("win") else "linux"


def archs_of(kb: PlanKnowledge, cand: Candidate, platform: str) -> VariantArchs | None:
    if cand.cuda is None:
        return None
    if cand.channel == CONDA_FORGE:
        return kb.conda_forge_archs(cand.cuda, platform)
    build = cand.release.default_build
    if (
        cand.channel == PYPI
        and platform == "linux_x86_64"
        and build is not None
        and build.variant == cand.variant
        and build.archs
    ):
        # the flags read from the PyPI wheel itself (S3), the very file PyPI serves
        return VariantArchs(cand.variant, build.archs, "S3", True)
    return kb.variant_archs(cand.release.version, cand.variant, platform)


def driver_requirement(
    kb: PlanKnowledge, cand: Candidate, platform: str
) -> DriverRequirement | None:
    return kb.driver_requirement(cand.cuda, os_of(platform)) if cand.cuda else None


def evaluate(kb: PlanKnowledge, cand: Candidate, target: PlanTarget) -> Verdict:
    verdict = Verdict()
    prefix = f"{target.name}: "
    if cand.cuda is None:
        if target.gpus:
            verdict.caveats.append(prefix + "CPU-only build: the NVIDIA GPUs stay unused")
        verdict.fits.append(TargetFit(target.name, ()))
        return verdict
    if target.platform.startswith("macos"):
        verdict.reasons.append(prefix + "macOS has no CUDA builds (use the cpu build; MPS)")
        return verdict
    _check_variant_glibc(cand, target, verdict)
    _check_driver(kb, cand, target, verdict)
    gpus = _check_archs(kb, cand, target, verdict)
    if not target.gpus:
        verdict.caveats.append(prefix + "no NVIDIA GPU: the CUDA build runs on the CPU only")
    verdict.fits.append(
        TargetFit(
            target.name, tuple(gpus), tuple(c for c in verdict.caveats if c.startswith(prefix))
        )
    )
    return verdict


def _check_driver(kb: PlanKnowledge, cand: Candidate, target: PlanTarget, verdict: Verdict) -> None:
    prefix = f"{target.name}: "
    req = driver_requirement(kb, cand, target.platform)
    if req is None:
        verdict.caveats.append(prefix + f"no driver table for CUDA {cand.cuda}; driver unchecked")
        return
    wanted = f"{req.hard_floor}" + (
        f" ({req.release_floor} for full CUDA {req.cuda} support)"
        if req.release_floor and req.release_floor != req.hard_floor
        else ""
    )
    if not target.gpus:
        return
    if target.driver is None:
        if target.has_driver_facts:
            verdict.caveats.append(prefix + f"no NVIDIA driver installed: install >= {wanted}")
        else:
            verdict.caveats.append(prefix + f"driver not given: needs >= {wanted}")
        return
    _check_generation_driver(target, target.driver, verdict)
    if not driver_at_least(target.driver, req.hard_floor):
        verdict.reasons.append(
            prefix + f"driver {target.driver} is older than {req.hard_floor}, the oldest that "
            f"runs CUDA {req.cuda.split('.')[0]}.x"
        )
    elif req.release_floor and not driver_at_least(target.driver, req.release_floor):
        verdict.compat = True
        verdict.caveats.append(
            prefix + f"driver {target.driver} runs CUDA {req.cuda} through minor-version "
            f"compatibility only (full support, PTX JIT of {req.cuda} code: >= {req.release_floor})"
        )


def _check_variant_glibc(cand: Candidate, target: PlanTarget, verdict: Verdict) -> None:
    """A variant whose wheels need a newer glibc than the release's PyPI wheels (2.6.0+cu126:
    manylinux_2_28; knowledge ``glibc_by_variant``)."""
    if cand.channel != PYTORCH_INDEX:  # conda-forge's and PyPI's builds have their own floors
        return
    floor = cand.release.glibc_by_variant.get(cand.variant)
    linux = target.platform.startswith("linux") and not target.musl
    if floor and linux and target.glibc and _version_tuple(target.glibc) < _version_tuple(floor):
        verdict.reasons.append(
            f"{target.name}: glibc {target.glibc} is older than {floor}, which the "
            f"{cand.label} wheels need (manylinux_{floor.replace('.', '_')})"
        )


def generation_driver(cc: str | None, platform: str) -> tuple[str, str] | None:
    """(the oldest driver that knows the GPU's generation, the generation's name), or None
    when no floor is recorded for it."""
    major = cc.split(".")[0] if cc else ""
    if not major.isdigit():
        return None
    floors = [(m, v) for (m, osname), v in GENERATION_DRIVERS.items() if osname == os_of(platform)]
    known = [v for m, v in sorted(floors) if int(major) >= m]
    return known[-1] if known else None


def _check_generation_driver(target: PlanTarget, driver: str, verdict: Verdict) -> None:
    prefix = f"{target.name}: "
    for gpu in target.gpus:
        floor = generation_driver(gpu.cc, target.platform)
        if floor and not driver_at_least(driver, floor[0]):
            verdict.reasons.append(
                prefix + f"driver {driver} does not know {gpu.name} ({floor[1]}, {gpu.cc}): "
                f"it needs {floor[0]} or newer (the R570 branch), whatever the wheel's CUDA"
            )
            return


def _check_archs(
    kb: PlanKnowledge, cand: Candidate, target: PlanTarget, verdict: Verdict
) -> list[str]:
    prefix = f"{target.name}: "
    archs = archs_of(kb, cand, target.platform)
    unified = unified_tegra(cand.release.version, cand.cuda)
    described: list[str] = []
    for gpu in target.gpus:
        label = f"{gpu.name} ({gpu.cc})" if gpu.cc else gpu.name
        if gpu.cc is None:
            verdict.caveats.append(
                prefix + f"compute capability of {gpu.name} unknown; pass --gpu X.Y to check it"
            )
            described.append(f"{label}: unchecked")
            continue
        if archs is None and target.jetson:
            verdict.reasons.append(
                prefix + f"the GPU code of {cand.label} is not recorded, and {label} runs only "
                "code built for it" + JETSON_HINT
            )
            described.append(f"{label}: unknown")
            continue
        if archs is None:
            verdict.caveats.append(
                prefix + f"the GPU code of {cand.label} is not recorded; {label} unchecked"
            )
            described.append(f"{label}: unchecked")
            continue
        how = coverage(archs.archs, gpu.cc, unified=unified)
        if how is None:
            verdict.reasons.append(
                prefix
                + f"no kernels for {label}: the build has {describe(archs.archs)}"
                + (JETSON_HINT if target.jetson else "")
            )
        elif how == "ptx":
            verdict.ptx = True
            verdict.caveats.append(
                prefix + f"{label} runs through PTX JIT only (slow first start, needs a driver "
                "that knows the PTX)"
            )
        described.append(f"{label}: {how}" if how else f"{label}: no kernels")
    return described


def release_reasons(
    release: TorchRelease, target: PlanTarget, python: str | None, channel: str
) -> list[str]:
    """Reasons that hold for every variant of the release on that target."""
    prefix = f"{target.name}: "
    reasons = []
    if channel != CONDA_FORGE:
        pythons = release.python.get(target.platform, ())
        if not pythons:
            reasons.append(prefix + f"no torch {release.version} wheels for {target.platform}")
        elif python is not None and python not in pythons:
            reasons.append(
                prefix + f"no wheels for Python {python} (torch {release.version} has "
                f"{span(pythons)} on {target.platform})"
            )
        if target.platform.startswith("linux") and target.musl:
            reasons.append(
                prefix + "musl libc (Alpine and the like): torch publishes manylinux (glibc) "
                "wheels only"
            )
        elif (
            target.platform.startswith("linux")
            and (floor := _lowest_glibc(release))
            and target.glibc
            and _version_tuple(target.glibc) < _version_tuple(floor)
        ):
            reasons.append(
                prefix + f"glibc {target.glibc} is older than {floor}, which the "
                f"torch {release.version} wheels need (manylinux_{floor.replace('.', '_')})"
            )
    return reasons


def _lowest_glibc(release: TorchRelease) -> str | None:
    """The glibc every variant of the release needs at least; a variant needing more is
    refused on its own (``_check_variant_glibc``)."""
    if release.glibc is None:
        return None
    floors = [release.glibc, *release.glibc_by_variant.values()]
    return min(floors, key=_version_tuple)


def span(pythons: tuple[str, ...]) -> str:
    plain = [p for p in pythons if not p.endswith("t")]
    if not plain:
        return ", ".join(pythons)
    ordered = sorted(plain, key=_version_tuple)
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.rstrip("t").split(".") if p.isdigit())
