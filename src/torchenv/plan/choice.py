"""Which of a release's working variants to take, and the one line that says why.

The order, each criterion deciding only between variants equal in the ones before it:
1. no GPU runs it through PTX JIT only: JIT-compiled kernels start slowly and need a driver
   that knows the PTX (failure catalog 3.3);
2. the build PyPI serves for every target: the most used and tested build of the release;
3. the driver runs its CUDA without minor-version compatibility. With cubins for the GPU,
   minor-version compatibility runs the wheel (NVIDIA CUDA compatibility guide, "Minor Version
   Compatibility"): only PTX JIT and a few toolkit features need the newer driver, so this
   decides only between otherwise equal builds (an A100 with driver 535 and torch 2.6 gets
   PyPI's cu124, not cu118);
4. the newest CUDA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torchenv.models.plan import PlanTarget
from torchenv.plan.evaluate import CONDA_FORGE, Candidate, Verdict

Rank = tuple[bool, bool, bool, tuple[int, ...]]


@dataclass(frozen=True)
class Option:
    candidate: Candidate
    verdict: Verdict
    default: bool  # the variant PyPI serves on every target

    @property
    def rank(self) -> Rank:
        cuda = tuple(int(p) for p in (self.candidate.cuda or "0").split(".") if p.isdigit())
        return (not self.verdict.ptx, self.default, not self.verdict.compat, cuda)


def option(cand: Candidate, verdict: Verdict, targets: Sequence[PlanTarget]) -> Option:
    # a conda-forge build is never PyPI's, whatever its CUDA
    default = cand.channel != CONDA_FORGE and all(
        cand.release.pypi_default.get(t.platform) == cand.variant for t in targets
    )
    return Option(cand, verdict, default)


def best(options: Sequence[Option]) -> Option:
    return max(options, key=lambda o: o.rank)


def explain(chosen: Option, options: Sequence[Option]) -> str | None:
    """``chose 2.6.0+cu124 over cu118, cu126: ...``: for each other working variant, the first
    criterion that put it behind; None when there was no choice."""
    others = [o for o in options if o.candidate.variant != chosen.candidate.variant]
    if not others:
        return None
    groups: dict[str, list[str]] = {}
    for other in sorted(others, key=lambda o: o.rank, reverse=True):
        groups.setdefault(_why_behind(chosen, other), []).append(other.candidate.variant)
    parts = [f"{', '.join(variants)} ({why})" for why, variants in groups.items()]
    return f"chose {chosen.candidate.label} over " + "; ".join(parts)


def _why_behind(chosen: Option, other: Option) -> str:
    release = chosen.candidate.release.version
    if chosen.verdict.ptx != other.verdict.ptx:
        return "a GPU would run it through PTX JIT only"
    if chosen.default != other.default:
        return f"{chosen.candidate.variant} is PyPI's build of torch {release}, the most used"
    if chosen.verdict.compat != other.verdict.compat:
        return "the driver would run its CUDA through minor-version compatibility only"
    return f"{chosen.candidate.variant} has the newer CUDA"
