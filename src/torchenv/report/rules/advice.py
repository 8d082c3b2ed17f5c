"""Which build variant of the installed torch release would work on this machine.

A small, local question (same release, other variant) answered from the knowledge base: the
newest ``cuXYZ`` variant whose CUDA the driver can run and whose compiled architectures cover
every GPU. Choosing another release is the planner's job (``torchenv plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torchenv.i18n import Msg
from torchenv.models import CompatKnowledge, Environment, Gpu
from torchenv.models.archs import coverage, unified_tegra
from torchenv.models.compat import driver_at_least, variant_cuda
from torchenv.report import fixes


@dataclass(frozen=True)
class VariantAdvice:
    variant: str
    cuda: str
    caveat: str | None  # a Msg, e.g. runs through minor-version compatibility only


def best_variant(
    kb: CompatKnowledge,
    torch_version: str,
    driver: str | None,
    gpus: Sequence[Gpu],
    os: str = "linux",
    arch: str = "x86_64",
) -> VariantAdvice | None:
    candidates = []
    for variant in kb.index_variants(torch_version):
        cuda = variant_cuda(variant)
        if cuda is None:
            continue
        req = kb.driver_requirement(cuda, os)
        caveat = None
        if driver is not None and req is not None:
            if not driver_at_least(driver, req.hard_floor):
                continue
            if req.release_floor and not driver_at_least(driver, req.release_floor):
                caveat = Msg(
                    "driver {driver} runs CUDA {cuda} through minor-version compatibility only "
                    "(full support from {release})",
                    driver=driver,
                    cuda=cuda,
                    release=req.release_floor,
                )
        # the knowledge base holds the x86_64 arch lists; aarch64 builds differ (catalog 3.5)
        archs = kb.variant_archs(torch_version, variant) if arch == "x86_64" else None
        unified = unified_tegra(torch_version, cuda)
        if archs is not None and any(
            g.compute_capability
            and coverage(archs.archs, g.compute_capability, unified=unified) is None
            for g in gpus
        ):
            continue
        candidates.append(
            (caveat is None, tuple(int(p) for p in cuda.split(".")), variant, cuda, caveat)
        )
    if not candidates:
        return None
    _, _, variant, cuda, caveat = max(candidates)
    return VariantAdvice(variant, cuda, caveat)


def reinstall_torch_commands(
    env: Environment, kb: CompatKnowledge, torch_version: str, advice: VariantAdvice
) -> list[str]:
    """Reinstall torch (with its paired torchvision/torchaudio when installed) as ``advice``."""
    base = torch_version.split("+", 1)[0]
    pairing = kb.pairing(base)
    vision = pairing.torchvision if pairing and env.torchvision else None
    audio = pairing.torchaudio if pairing and env.torchaudio else None
    reqs = fixes.torch_requirements(base, advice.variant, vision, audio)
    if fixes.installer_of(env) in ("conda", "pixi"):
        # conda-forge has its own CUDA builds (not the PyPI variants); the solver picks one the
        # driver supports through the __cuda virtual package.
        return [fixes.conda_install(env, ["pytorch-gpu"])]
    return fixes.install(env, reqs, fixes.index_url(advice.variant))
