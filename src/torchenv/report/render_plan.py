"""Human output of ``torchenv plan``: the stack, how each target runs it, how to install it, and
what was not chosen and why."""

from __future__ import annotations

from torchenv.models.archs import describe
from torchenv.models.plan import InstallRecipe, PlanReport, PlanTarget, Stack
from torchenv.report.segments import Emit

SHOWN_REJECTIONS = 8


def _target_text(target: PlanTarget) -> str:
    gpus = ", ".join(f"{g.name} ({g.cc or '?'})" for g in target.gpus) or "no NVIDIA GPU"
    if target.driver:
        driver = f"driver {target.driver}"
    else:
        driver = "no driver" if target.has_driver_facts else "driver not given"
    parts = [target.platform, gpus, driver]
    if target.python:
        parts.append(f"Python {target.python}")
    if target.glibc:
        parts.append(f"glibc {target.glibc}")
    return f"{target.name}: " + "; ".join(parts)


def _stack_lines(emit: Emit, stack: Stack) -> None:
    if stack.channel in ("pytorch-index", "pypi"):
        build = stack.build
    else:
        kind = f"cuda{stack.variant[2:]}" if stack.cuda else "cpu"
        build = f"pytorch {stack.torch}, conda-forge {kind} build"
    released = f"  (released {stack.released})" if stack.released else ""
    emit([("Stack", "bold")])
    emit([("  torch        ", None), (build, "bold green"), (released, "dim")])
    emit([("  torchvision  ", None), (stack.torchvision or "none paired", None)])
    emit([("  torchaudio   ", None), (stack.torchaudio or "none paired with this torch", None)])
    emit([("  Python       ", None), (stack.python or "?", None)])
    if stack.cuda:
        floor = f"driver >= {stack.driver_floor}" if stack.driver_floor else "driver floor unknown"
        if stack.driver_recommended and stack.driver_recommended != stack.driver_floor:
            floor += f" (>= {stack.driver_recommended} for full CUDA {stack.cuda} support)"
        emit([("  CUDA         ", None), (f"{stack.cuda}; {floor}", None)])
        code = describe(stack.archs) if stack.archs else "not recorded"
        emit([("  GPU code     ", None), (code, None)])
    else:
        emit([("  CUDA         ", None), ("none (CPU build)", None)])
    if stack.pins:
        libs = ", ".join(f"{k} {v}" for k, v in stack.pins.items())
        emit([("  libraries    ", None), (libs, None)])


def _recipe_lines(emit: Emit, recipe: InstallRecipe) -> None:
    if recipe.unavailable:
        emit([(f"Install with {recipe.installer}: ", "bold"), (recipe.unavailable, "yellow")])
        return
    emit([(f"Install with {recipe.installer}", "bold")])
    for command in recipe.commands:
        emit([("  $ ", "dim"), (command, None)])
    for name, content in recipe.files.items():
        emit([(f"  or in {name}:" if recipe.commands else f"  {name}:", "dim")])
        for line in content.rstrip("\n").splitlines():
            emit([("    " + line, None)])
    for note in recipe.notes:
        emit([("  note: ", "dim"), (note, None)])


def _reason_summary(emit: Emit, report: PlanReport) -> None:
    """Distinct reasons with how many candidates each turned down, newest first."""
    counts: dict[str, list[str]] = {}
    for rejection in report.rejected:
        for reason in rejection.reasons:
            counts.setdefault(reason, []).append(rejection.candidate)
    emit([])
    emit([(f"Why ({len(report.rejected)} candidates, --verbose lists each)", "bold")])
    for reason, candidates in counts.items():
        which = (
            candidates[0]
            if len(candidates) == 1
            else f"{candidates[0]} and {len(candidates) - 1} more"
        )
        emit([("  - ", None), (reason, None), (f"  [{which}]", "dim")])


def render_plan(emit: Emit, report: PlanReport, verbose: bool = False) -> None:
    emit([("Targets", "bold")])
    for target in report.targets:
        emit([("  " + _target_text(target), None)])
    emit([])
    if report.stack is None:
        emit([("No PyTorch build fits ", "bold red"), ("every target.", "bold red")])
        for name, best in report.per_target.items():
            emit([(f"  {name}: {best}", None)])
    else:
        _stack_lines(emit, report.stack)
        emit([])
        emit([("How it runs", "bold")])
        for fit in report.fits:
            emit([(f"  {fit.target}: ", None), (", ".join(fit.gpus) or "CPU", None)])
            for caveat in fit.caveats:
                emit([("    ! ", "yellow"), (caveat.split(": ", 1)[-1], None)])
        for recipe in report.install.values():
            emit([])
            _recipe_lines(emit, recipe)
    if report.rejected and report.stack is None and not verbose:
        _reason_summary(emit, report)
    elif report.rejected:
        emit([])
        emit([("Not chosen, newest first", "bold")])
        shown = report.rejected if verbose else report.rejected[:SHOWN_REJECTIONS]
        for rejection in shown:
            emit([(f"  {rejection.candidate}: ", "bold"), ("; ".join(rejection.reasons), None)])
        hidden = len(report.rejected) - len(shown)
        if hidden:
            emit([(f"  ... {hidden} more (--verbose or --json lists them all)", "dim")])
    if report.notes:
        emit([])
        for note in report.notes:
            emit([("note: ", "dim"), (note, None)])
    emit([("knowledge: ", "dim"), (report.knowledge, "dim")])
