"""Choose the newest torch build that runs on every target, and explain every rejection.

Releases are tried newest first; within the first release that has a working variant the best
variant wins (``plan.choice``: no PTX JIT, PyPI's own build, no minor-version compatibility,
newest CUDA), and the plan says in one line why it beat the others. Older releases are not
examined once one fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torchenv.models.compat import PlanKnowledge, TorchRelease, variant_cuda
from torchenv.models.indexes import variant_index
from torchenv.models.plan import (
    PLAN_SCHEMA,
    PlanReport,
    PlanRequest,
    PlanTarget,
    Rejection,
    Stack,
    TargetFit,
)
from torchenv.plan import choice
from torchenv.plan.evaluate import (
    CONDA_FORGE,
    PYPI,
    PYTORCH_INDEX,
    Candidate,
    Verdict,
    archs_of,
    driver_requirement,
    evaluate,
    release_reasons,
)
from torchenv.plan.install import recipes
from torchenv.plan.libraries import LIBRARIES, choose_libraries, pythons_of
from torchenv.plan.request import exact_pin, release_matches


def make_plan(kb: PlanKnowledge, request: PlanRequest, targets: Sequence[PlanTarget]) -> PlanReport:
    channel = PYTORCH_INDEX
    if request.installer in ("conda", "pixi"):
        channel = CONDA_FORGE
    elif not request.pytorch_index:
        channel = PYPI
    notes = [_policy_note(request, targets)]
    found = _search(kb, request, targets, channel)
    stack, verdict, rejected = found.stack, found.verdict, found.rejected
    notes += found.notes
    if channel == PYPI:
        notes += _pypi_only_notes(kb, request, targets, stack)
    if channel == CONDA_FORGE:
        notes.append(
            "conda-forge builds as recorded in the feedstock history (S8); which Pythons they "
            "cover is not recorded, so the Python check uses the PyPI wheels"
        )
    per_target: dict[str, str] = {}
    if stack is None:
        if not _releases(kb, request, channel):
            notes.append(f"no known torch release matches {request.torch}")
        inferred = sorted(
            {r.version for r in _releases(kb, request, channel)}
            - {
                r.version
                for r in _releases(kb, request, channel)
                if kb.variants_verified(r.version)
            }
        )
        if inferred and channel == PYTORCH_INDEX:
            notes.append(
                "the variant lists of torch " + ", ".join(inferred) + " are inferred: a build "
                "not recorded may exist (`torchenv db update` reads the PyTorch index)"
            )
        if len(targets) > 1:
            for target in targets:
                alone = _search(kb, request, [target], channel).stack
                per_target[target.name] = (
                    f"torch {alone.build} would fit it alone"
                    if alone
                    else "no build fits it even alone"
                )
    return PlanReport(
        schema=PLAN_SCHEMA,
        request=request,
        targets=tuple(targets),
        stack=stack,
        fits=tuple(verdict.fits) if verdict else (),
        rejected=tuple(rejected),
        install=recipes(kb, stack, targets, request.installer) if stack else {},
        notes=tuple(n for n in notes if n),
        per_target=per_target,
        knowledge=kb.describe_origin(),
    )


@dataclass
class Found:
    stack: Stack | None = None
    verdict: Verdict | None = None
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _search(
    kb: PlanKnowledge, request: PlanRequest, targets: Sequence[PlanTarget], channel: str
) -> Found:
    found = Found()
    for release in _releases(kb, request, channel):
        python, python_note = _python_for(kb, request, targets, release)
        reasons = [
            r for t in targets for r in release_reasons(release, t, python or t.python, channel)
        ]
        libraries = choose_libraries(kb, request, release, targets, python)
        reasons += libraries.reasons
        if reasons:
            found.rejected.append(Rejection(f"torch {release.version}", tuple(reasons)))
            continue
        accepted: list[choice.Option] = []
        variants = _variants(kb, release, targets, channel, request, found.rejected)
        for cand in variants:
            verdict = _evaluate_all(kb, cand, targets)
            if not verdict.ok:
                found.rejected.append(Rejection(cand.label, tuple(verdict.reasons)))
                continue
            accepted.append(choice.option(cand, verdict, targets))
        if accepted:
            chosen = choice.best(accepted)
            cand, verdict = chosen.candidate, chosen.verdict
            stack_python = python or next((t.python for t in targets if t.python), "")
            found.stack = _stack(kb, cand, stack_python, targets, libraries.versions)
            found.verdict = verdict
            why = choice.explain(chosen, accepted)
            found.notes += [n for n in (why, python_note, *libraries.notes) if n]
            found.notes += _unverified(kb, cand, targets)
            return found
    return found


def _pypi_only_notes(
    kb: PlanKnowledge, request: PlanRequest, targets: Sequence[PlanTarget], stack: Stack | None
) -> list[str]:
    """PyPI holds one build per release and platform; say what the PyTorch index would have
    given when that differs, so a team behind a PyPI-only mirror knows what it gives up."""
    notes = [
        "PyPI only ([index] pytorch = false or --no-pytorch-index): each release's PyPI build, "
        "pinned without a local label; its CUDA libraries are nvidia-* wheels from PyPI"
    ]
    wider = _search(kb, request, targets, PYTORCH_INDEX).stack
    if wider is None:
        return notes
    where = f"from {variant_index(wider.variant)} or a mirror of it"
    if stack is None:
        notes.append(
            f"no PyPI build fits; with the PyTorch index, torch {wider.torch}+{wider.variant} "
            f"would, {where}"
        )
    elif (wider.torch, wider.variant) != (stack.torch, stack.variant):
        notes.append(
            f"with the PyTorch index the plan would be torch {wider.torch}+{wider.variant}, "
            + where
        )
    return notes


def _unverified(kb: PlanKnowledge, cand: Candidate, targets: Sequence[PlanTarget]) -> list[str]:
    """Facts the choice rests on that were inferred rather than read from a release."""
    notes = []
    version = cand.release.version
    if cand.channel == PYTORCH_INDEX and not kb.variants_verified(version):
        notes.append(
            f"unverified: the build variants of torch {version} on download.pytorch.org are "
            "inferred, not read from the index (`torchenv db update` reads them)"
        )
    for platform in sorted({t.platform for t in targets}):
        archs = archs_of(kb, cand, platform)
        if archs is not None and not archs.verified:
            notes.append(
                f"unverified: the GPU code of {cand.label} on {platform} comes from build "
                f"scripts ({archs.source}), not from the wheel"
            )
    return notes


def _releases(kb: PlanKnowledge, request: PlanRequest, channel: str) -> list[TorchRelease]:
    on_conda = {b.torch for b in kb.conda_forge_builds()} if channel == CONDA_FORGE else None
    pinned = exact_pin(request.torch)
    return [
        r
        for r in reversed(kb.torch_releases())
        if release_matches(request.torch, r.version)
        and (pinned or not r.yanked)
        and (on_conda is None or r.version in on_conda)
    ]


def _python_for(
    kb: PlanKnowledge, request: PlanRequest, targets: Sequence[PlanTarget], release: TorchRelease
) -> tuple[str | None, str | None]:
    if request.python:
        return request.python, None
    known = {t.python for t in targets if t.python}
    if len(known) == 1:
        return known.pop(), None
    if len(known) > 1:
        each = ", ".join(f"{t.python} ({t.name})" for t in targets if t.python)
        return None, f"the targets run different Pythons, each checked for its own: {each}"
    # the newest Python with wheels of torch and of the libraries (the required ones at least)
    paired = [lib for lib in LIBRARIES if getattr(release, lib, None)]
    for libraries in (paired, list(request.libraries), []):
        common: set[str] | None = None
        for target in targets:
            have = pythons_of(kb, release, target.platform, libraries)
            common = have if common is None else common & have
        if common:
            newest = max(common, key=lambda p: tuple(int(x) for x in p.split(".")))
            what = "torch" + "".join(f", {lib}" for lib in libraries)
            return newest, f"Python not given: chose {newest}, the newest with {what} wheels"
    return None, None


def _variants(
    kb: PlanKnowledge,
    release: TorchRelease,
    targets: Sequence[PlanTarget],
    channel: str,
    request: PlanRequest,
    rejected: list[Rejection],
) -> list[Candidate]:
    """The release's builds that the CUDA policy allows and that exist for every target."""
    per_target = [set(_offered(kb, release, t.platform, channel)) for t in targets]
    everywhere = set.intersection(*per_target) if per_target else set()
    anywhere = set.union(*per_target) if per_target else set()
    wanted = {v for v in anywhere if _allowed(v, request.cuda, targets)}
    if channel == PYPI and not wanted and request.cuda == "auto" and not _wants_gpu(targets):
        # PyPI's one Linux x86_64 build is a CUDA build; without a GPU it runs on the CPU (a
        # caveat says so), which beats finding nothing on a CI runner behind a PyPI mirror
        wanted = set(anywhere)
    for variant in sorted(wanted - everywhere):
        missing = [
            t.platform for t, have in zip(targets, per_target, strict=True) if variant not in have
        ]
        cand = Candidate(release, variant, variant_cuda(variant), channel)
        rejected.append(Rejection(cand.label, (f"no such build for {', '.join(missing)}",)))
    chosen = sorted(wanted & everywhere)
    if not chosen:
        offered = ", ".join(sorted(anywhere)) or "none recorded"
        rejected.append(
            Rejection(
                f"torch {release.version}",
                (f"no {_policy_word(request, targets)} build (builds: {offered})",),
            )
        )
    return [Candidate(release, v, variant_cuda(v), channel) for v in chosen]


def _offered(kb: PlanKnowledge, release: TorchRelease, platform: str, channel: str) -> list[str]:
    if channel == CONDA_FORGE:
        builds = [b for b in kb.conda_forge_builds() if b.torch == release.version]
        cudas = [c for b in builds if b.platform == platform for c in b.cuda]
        present = any(b.platform == platform for b in builds)
        return ["cu" + c.replace(".", "") for c in cudas] + (["cpu"] if present else [])
    if channel == PYPI:  # one build per platform: the one PyPI serves
        default = release.pypi_default.get(platform)
        return [default] if default else []
    variants = list(kb.platform_variants(release.version, platform))
    default = release.pypi_default.get(platform)
    if default and default not in variants:
        variants.append(default)
    return variants


def _wants_gpu(targets: Sequence[PlanTarget]) -> bool:
    return any(t.gpus for t in targets)


def _allowed(variant: str, cuda: str, targets: Sequence[PlanTarget]) -> bool:
    if cuda == "cpu" or (cuda == "auto" and not _wants_gpu(targets)):
        return variant == "cpu"
    if cuda == "auto":
        return variant_cuda(variant) is not None
    return variant_cuda(variant) == cuda


def _policy_word(request: PlanRequest, targets: Sequence[PlanTarget]) -> str:
    if request.cuda == "cpu" or (request.cuda == "auto" and not _wants_gpu(targets)):
        return "CPU"
    return "CUDA" if request.cuda == "auto" else f"CUDA {request.cuda}"


def _policy_note(request: PlanRequest, targets: Sequence[PlanTarget]) -> str:
    word = _policy_word(request, targets)
    if request.cuda == "auto" and word == "CUDA":
        return (
            "CUDA builds considered: the targets have NVIDIA GPUs (ROCm and XPU builds are "
            "not for them)"
        )
    if request.cuda == "auto":
        return "CPU builds considered: no target has an NVIDIA GPU (--cuda X.Y plans a CUDA build)"
    return f"{word} builds considered (--cuda {request.cuda})"


def _evaluate_all(kb: PlanKnowledge, cand: Candidate, targets: Sequence[PlanTarget]) -> Verdict:
    total = Verdict()
    for target in targets:
        one = evaluate(kb, cand, target)
        total.reasons += one.reasons
        total.caveats += one.caveats
        total.fits += one.fits
        total.ptx = total.ptx or one.ptx
        total.compat = total.compat or one.compat
    return total


def _stack(
    kb: PlanKnowledge,
    cand: Candidate,
    python: str,
    targets: Sequence[PlanTarget],
    libraries: dict[str, str | None],
) -> Stack:
    release = cand.release
    platform = targets[0].platform if targets else "linux_x86_64"
    archs = archs_of(kb, cand, platform)
    req = driver_requirement(kb, cand, platform)
    build = release.default_build
    pins: dict[str, str] = {}
    if build and build.variant == cand.variant and cand.channel in (PYTORCH_INDEX, PYPI):
        for name in ("cudnn", "nccl", "cublas", "cudart"):
            value = getattr(build, name)
            if value:
                pins[name] = value
    return Stack(
        torch=release.version,
        variant=cand.variant,
        cuda=cand.cuda,
        python=python,
        torchvision=libraries.get("torchvision"),
        torchaudio=libraries.get("torchaudio"),
        channel=cand.channel,
        released=release.released,
        archs=archs.archs if archs else (),
        driver_floor=req.hard_floor if req else None,
        driver_recommended=req.release_floor if req else None,
        pins=pins,
    )


__all__ = ["TargetFit", "make_plan"]
