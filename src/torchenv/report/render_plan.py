"""Human output of ``torchenv plan``: the stack, how each target runs it, how to install it, and
what was not chosen and why."""

from __future__ import annotations

from torchenv.i18n import _, shown
from torchenv.models.archs import describe
from torchenv.models.plan import InstallRecipe, PlanReport, PlanTarget, Stack
from torchenv.report.segments import Emit, pad

SHOWN_REJECTIONS = 8
LABEL = 13  # the columns of the stack's labels


def _target_text(target: PlanTarget) -> str:
    gpus = ", ".join(f"{g.name} ({g.cc or '?'})" for g in target.gpus) or _("no NVIDIA GPU")
    if target.driver:
        driver = _("driver {version}").format(version=target.driver)
    else:
        driver = _("no driver") if target.has_driver_facts else _("driver not given")
    parts = [target.platform, gpus, driver]
    if target.python:
        parts.append(f"Python {target.python}")
    if target.glibc:
        parts.append(f"glibc {target.glibc}")
    return f"{target.name}: " + "; ".join(parts)


def _label(text: str) -> tuple[str, None]:
    return ("  " + pad(text, LABEL), None)


def _stack_lines(emit: Emit, stack: Stack) -> None:
    if stack.channel in ("pytorch-index", "pypi"):
        build = stack.build
    else:
        kind = f"cuda{stack.variant[2:]}" if stack.cuda else "cpu"
        build = _("pytorch {version}, conda-forge {kind} build").format(
            version=stack.torch, kind=kind
        )
    released = "  " + _("(released {date})").format(date=stack.released) if stack.released else ""
    emit([(_("Stack"), "bold")])
    emit([_label("torch"), (build, "bold green"), (released, "dim")])
    emit([_label("torchvision"), (stack.torchvision or _("none paired"), None)])
    emit([_label("torchaudio"), (stack.torchaudio or _("none paired with this torch"), None)])
    emit([_label("Python"), (stack.python or "?", None)])
    if stack.cuda:
        if stack.driver_floor:
            floor = _("driver >= {version}").format(version=stack.driver_floor)
        else:
            floor = _("driver floor unknown")
        if stack.driver_recommended and stack.driver_recommended != stack.driver_floor:
            floor += _(" (>= {version} for full CUDA {cuda} support)").format(
                version=stack.driver_recommended, cuda=stack.cuda
            )
        emit([_label("CUDA"), (f"{stack.cuda}; {floor}", None)])
        code = describe(stack.archs) if stack.archs else _("not recorded")
        emit([_label(_("GPU code")), (code, None)])
    else:
        emit([_label("CUDA"), (_("none (CPU build)"), None)])
    if stack.pins:
        libs = ", ".join(f"{k} {v}" for k, v in stack.pins.items())
        emit([_label(_("libraries")), (libs, None)])


def _recipe_lines(emit: Emit, recipe: InstallRecipe) -> None:
    if recipe.unavailable:
        heading = _("Install with {installer}: ").format(installer=recipe.installer)
        emit([(heading, "bold"), (shown(recipe.unavailable), "yellow")])
        return
    emit([(_("Install with {installer}").format(installer=recipe.installer), "bold")])
    for command in recipe.commands:
        emit([("  $ ", "dim"), (command, None)])
    for name, content in recipe.files.items():
        where = _("or in {file}:").format(file=name) if recipe.commands else f"{name}:"
        emit([("  " + where, "dim")])
        for line in content.rstrip("\n").splitlines():
            emit([("    " + line, None)])
    for note in recipe.notes:
        emit([("  " + _("note: "), "dim"), (shown(note), None)])


def _reason_summary(emit: Emit, report: PlanReport) -> None:
    """Distinct reasons with how many candidates each turned down, newest first."""
    counts: dict[str, list[str]] = {}
    for rejection in report.rejected:
        for reason in rejection.reasons:
            counts.setdefault(reason, []).append(rejection.candidate)
    emit([])
    heading = _("Why ({count} candidates, --verbose lists each)").format(count=len(report.rejected))
    emit([(heading, "bold")])
    for reason, candidates in counts.items():
        which = (
            candidates[0]
            if len(candidates) == 1
            else _("{first} and {count} more").format(
                first=candidates[0], count=len(candidates) - 1
            )
        )
        emit([("  - ", None), (shown(reason), None), (f"  [{which}]", "dim")])


def render_plan(emit: Emit, report: PlanReport, verbose: bool = False) -> None:
    emit([(_("Targets"), "bold")])
    for target in report.targets:
        emit([("  " + _target_text(target), None)])
    emit([])
    if report.stack is None:
        emit([(_("No PyTorch build fits every target."), "bold red")])
        for name, best in report.per_target.items():
            emit([(f"  {name}: {shown(best)}", None)])
    else:
        _stack_lines(emit, report.stack)
        emit([])
        emit([(_("How it runs"), "bold")])
        for fit in report.fits:
            gpus = ", ".join(shown(gpu) for gpu in fit.gpus) or "CPU"
            emit([(f"  {fit.target}: ", None), (gpus, None)])
            for caveat in fit.caveats:
                emit([("    ! ", "yellow"), (shown(caveat).split(": ", 1)[-1], None)])
        for recipe in report.install.values():
            emit([])
            _recipe_lines(emit, recipe)
    if report.rejected and report.stack is None and not verbose:
        _reason_summary(emit, report)
    elif report.rejected:
        emit([])
        emit([(_("Not chosen, newest first"), "bold")])
        listed = report.rejected if verbose else report.rejected[:SHOWN_REJECTIONS]
        for rejection in listed:
            reasons = "; ".join(shown(reason) for reason in rejection.reasons)
            emit([(f"  {rejection.candidate}: ", "bold"), (reasons, None)])
        hidden = len(report.rejected) - len(listed)
        if hidden:
            more = _("... {count} more (--verbose or --json lists them all)").format(count=hidden)
            emit([("  " + more, "dim")])
    if report.notes:
        emit([])
        for note in report.notes:
            emit([(_("note: "), "dim"), (shown(note), None)])
    emit([(_("knowledge: "), "dim"), (report.knowledge, "dim")])
