"""``torchenv plan``: gather the target machines, then ask the (pure) planner."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchenv.errors import UsageError
from torchenv.i18n import Msg, joined
from torchenv.knowledge import load_knowledge
from torchenv.knowledge.gpus import gpu_name_cc, resolve_gpu
from torchenv.models.codec import DecodeError, from_data
from torchenv.models.plan import PlanOptions, PlanReport, PlanTarget
from torchenv.models.schemas import INSPECT_SCHEMA
from torchenv.plan import make_plan
from torchenv.plan.request import parse_options
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json, printable

if TYPE_CHECKING:
    from torchenv.models import Machine
    from torchenv.probe.context import ProbeContext
from torchenv.plan.targets import (
    python_of_version,
    target_from_machine,
    target_from_options,
)

__all__ = ["parse_options", "run_plan"]
MACHINE_LIMIT = 16 << 20  # an inspect document is ~100 kB; a hostile one is not read whole


def run_plan(ctx: ProbeContext | None, options: PlanOptions) -> PlanReport:
    """``ctx`` is needed only when the target is this machine (no --gpu, no --for)."""
    request, driver, platform = options.request, options.driver, options.platform
    gpus, machine_files = options.gpus, options.machine_files
    kb = load_knowledge()
    models = kb.gpu_models()

    def cc_of_name(name: str) -> str | None:
        return gpu_name_cc(name, models)

    if machine_files and (gpus or driver or platform):
        raise UsageError(
            "conflicting-targets",
            Msg(
                "--for reads the target machines from files; --gpu, --driver and --platform "
                "describe one on the command line. Give one or the other."
            ),
        )
    targets: list[PlanTarget]
    if machine_files:
        targets = [_target_from_file(Path(f), cc_of_name) for f in machine_files]
    elif gpus or platform:
        resolved = [resolve_gpu(text, models) for text in gpus]
        jetson = any(g.segment == "embedded" for g in resolved)
        # a machine described on the command line is most often a Linux GPU server
        where = platform or "linux_x86_64"
        targets = [target_from_options([(g.name, g.cc) for g in resolved], driver, where, jetson)]
    else:
        if ctx is None:
            raise UsageError("no-target", Msg("No target machine given."))
        targets = [_this_machine(ctx, driver, cc_of_name)]
    return make_plan(kb, request, targets)


def _this_machine(ctx: ProbeContext, driver: str | None, cc_of_name: Any) -> PlanTarget:
    from torchenv.probe.interpreter import query_interpreter  # noqa: PLC0415
    from torchenv.probe.machine import probe_machine  # noqa: PLC0415
    from torchenv.probe.target import choose_target  # noqa: PLC0415

    machine = probe_machine(ctx)
    python = None
    try:
        choice = choose_target(ctx, None, None)
    except UsageError:
        choice = None
    if choice is not None and choice.python:
        interp = query_interpreter(ctx, choice.python)
        python = python_of_version(interp.version, interp.gil_disabled)
    return target_from_machine("this machine", machine, cc_of_name, python, driver)


def _target_from_file(path: Path, cc_of_name: Any) -> PlanTarget:
    expected = Msg(
        "--for takes the output of `torchenv inspect --json` (schema {schema}) "
        "saved from the target machine",
        schema=INSPECT_SCHEMA,
    )
    try:
        data = load_json(files.read_bytes(path, MACHINE_LIMIT))
    except OSError as exc:
        raise UsageError(
            "machine-file-unreadable",
            Msg("Cannot read {path}: {error}.", path=path, error=files.describe(exc)),
            expected,
        ) from None
    except ValueError as exc:
        raise UsageError(
            "machine-file-not-json",
            Msg("{path} is not JSON ({error}).", path=path, error=str(exc)),
            expected,
        ) from None
    if not isinstance(data, dict) or data.get("schema") != INSPECT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise UsageError(
            "machine-file-schema",
            Msg("{path} is not an inspect document (schema: {schema}).", path=path, schema=found),
            expected,
        )
    try:
        from torchenv.models import Machine  # noqa: PLC0415  (--gpu plans need no Machine)

        machine = from_data(Machine, data.get("machine"))
    except DecodeError as exc:
        raise UsageError(
            "machine-file-invalid",
            Msg("{path}: the machine section is malformed: {error}", path=path, error=str(exc)),
            expected,
        ) from None
    _check_machine(path, machine, expected)
    env = data.get("environment")
    interp = env.get("interpreter") if isinstance(env, dict) else None
    python = None
    if isinstance(interp, dict) and isinstance(interp.get("version"), str):
        python = python_of_version(interp["version"], interp.get("gil_disabled") is True)
    # the file's name names the target in the plan and the lock: shown, never interpreted
    return target_from_machine(printable(path.name), machine, cc_of_name, python)


def _check_machine(path: Path, machine: Machine, expected: str) -> None:
    """Values the planner compares must have their real form, or the plan would be nonsense."""
    from torchenv.models.archs import cc_to_int  # noqa: PLC0415

    problems: list[str] = []
    driver = machine.driver.version
    if driver is not None and not re.fullmatch(r"\d{3}(?:\.\d{1,3}){1,2}", driver):
        problems.append(
            Msg('driver.version "{driver}" is not an NVIDIA driver version', driver=driver)
        )
    for gpu in machine.gpus:
        cc = gpu.compute_capability
        if cc is not None and cc_to_int(cc) is None:
            problems.append(
                Msg(
                    'GPU {index} compute_capability "{cc}" is not of the form X.Y',
                    index=gpu.index,
                    cc=cc,
                )
            )
    if problems:
        raise UsageError(
            "machine-file-invalid",
            Msg("{path}: {problems}.", path=path, problems=joined(Msg("; "), problems)),
            expected,
        )
