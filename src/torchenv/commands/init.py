"""``torchenv init``: plan a stack as ``torchenv plan`` does, then write a spec pinned to it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.commands.plan import run_plan
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.plan import PlanOptions, PlanReport, Stack
from torchenv.models.spec import SPEC_FILE, Spec, SpecIndex, SpecTargets
from torchenv.spec import parse_spec_text, render_spec
from torchenv.spec.validate import NAME_PATTERN, SPEC_INSTALLERS
from torchenv.untrusted import files

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

INIT_SCHEMA = "torchenv.init/1"


@dataclass(frozen=True)
class InitReport:
    schema: str
    path: str | None  # the spec file written; None when no stack fits
    spec: Spec | None
    plan: PlanReport


def run_init(
    ctx: ProbeContext | None,
    options: PlanOptions,
    *,
    cwd: Path,
    out: str = SPEC_FILE,
    name: str | None = None,
    force: bool = False,
    origin: str | None = None,
) -> InitReport:
    """``ctx`` is needed only when the target is this machine. ``origin`` (the command line) goes
    into the file's header. Without a fitting stack nothing is written and ``spec`` is None."""
    target = _output_path(cwd, out)
    # lexists: a dangling symbolic link or a link loop is something in the way too
    if os.path.lexists(target) and not force:
        raise UsageError(
            "spec-exists",
            Msg("{path} already exists.", path=target),
            Msg("Pass --force to overwrite it, or --out to write the spec elsewhere."),
        )
    installer = options.request.installer
    if installer is not None and installer not in SPEC_INSTALLERS:
        raise UsageError(
            "bad-installer",
            Msg(
                '--installer "{value}" is not one of {choices}.',
                value=installer,
                choices=", ".join(SPEC_INSTALLERS),
            ),
        )
    spec_name = name if name is not None else default_name(target.parent)
    if not NAME_PATTERN.fullmatch(spec_name):
        raise UsageError(
            "bad-name",
            Msg('--name "{value}" is not a simple name.', value=spec_name),
            Msg('Use letters, digits, ".", "_" and "-", such as "vision".'),
        )
    # the installer narrows the plan (conda: conda-forge builds) exactly as `plan --installer`
    report = run_plan(ctx, options)
    if report.stack is None:
        return InitReport(INIT_SCHEMA, None, None, report)
    targets = SpecTargets(
        gpus=options.gpus,
        driver=options.driver,
        platform=options.platform,
        machines=tuple(_relative(cwd / m, target.parent) for m in options.machine_files),
    )
    spec = Spec(
        name=spec_name,
        python=report.stack.python,
        torch=f"=={report.stack.torch}",
        cuda=report.stack.cuda or "cpu",
        libraries=_libraries(report.stack),
        installer=installer or "uv",
        targets=targets,
        index=SpecIndex() if options.request.pytorch_index else SpecIndex(pytorch=None),
    )
    text = render_spec(spec, origin)
    # read back before writing: what init writes must be a spec that lock accepts
    written = parse_spec_text(text, target)
    files.write_output(target, text.encode("utf-8"), what=Msg("the spec"))
    return InitReport(INIT_SCHEMA, str(target), written, report)


def default_name(directory: Path) -> str:
    """The directory's name made into a spec name ("My Project" -> "My-Project")."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", directory.resolve().name).strip("-.")
    return name or "env"


def _output_path(cwd: Path, out: str) -> Path:
    target = cwd / Path(out).expanduser()
    if target.is_dir():
        target = target / SPEC_FILE
    if not target.parent.is_dir():
        raise UsageError(
            "no-output-directory",
            Msg(
                "Cannot write {path}: the directory {directory} does not exist.",
                path=target,
                directory=target.parent,
            ),
        )
    return target


def _libraries(stack: Stack) -> tuple[str, ...]:
    paired = {"torchvision": stack.torchvision, "torchaudio": stack.torchaudio}
    return tuple(name for name, version in paired.items() if version)


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to the spec's directory when they share more than the filesystem root
    (a project's own tree), so the spec can move with the project; else absolute."""
    path, start = path.absolute(), start.absolute()
    if Path(os.path.commonpath([path, start])) == Path(path.anchor):
        return str(path)
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive on Windows
        return str(path)
