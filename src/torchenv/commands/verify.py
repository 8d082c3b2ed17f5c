"""``torchenv verify``: run the check script inside the environment and judge what it saw against
the host, the environment's lock record and the GPUs' published peaks."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.errors import ExternalError, TorchenvError, UsageError
from torchenv.i18n import Msg, _, joined
from torchenv.knowledge.peaks import peak_for
from torchenv.models import Environment, Target
from torchenv.models.verify import (
    VERIFY_SCHEMA,
    CheckStatus,
    VerifyPerfTable,
    VerifyReport,
    VerifySummary,
)
from torchenv.probe.context import ProbeContext
from torchenv.probe.environment import probe_environment
from torchenv.probe.nvidia import gpu_evidence
from torchenv.probe.target import choose_target
from torchenv.report.rules.versions import in_spec
from torchenv.untrusted.scratch import scratch_dir
from torchenv.verify.judge import HostFacts, assemble
from torchenv.verify.lockcheck import ENV_RECORD_FILE, EnvRecord, check_versions, record_view
from torchenv.verify.script import run_script

Progress = Callable[[str], None]
# import torch + CUDA init + a small matmul per GPU: seconds, but a cold import from a network
# file system can take tens of them
QUICK_TIMEOUT = 120.0
# a cold torch.compile (~12 s on CPU, more with triton), the 8192^3 matmuls and NCCL workers
# that each import torch
FULL_TIMEOUT = 900.0


def pin_problems(env: Environment) -> tuple[str, ...]:
    """torchvision/torchaudio whose Requires-Dist pin excludes the installed torch."""
    torch = env.torch
    if torch is None:
        return ()
    problems = []
    for lib in (env.torchvision, env.torchaudio):
        if lib is None or not lib.requires_torch:
            continue
        if in_spec(lib.requires_torch, torch.version) is False:
            problems.append(
                f"{lib.name} {lib.version} requires torch{lib.requires_torch}, "
                f"torch {torch.version} is installed"
            )
    return tuple(problems)


def read_record(prefix: Path) -> EnvRecord | None:
    """The environment's ``torchenv-env.json``, None when there is none."""
    path = str(prefix / ENV_RECORD_FILE)
    try:
        record = read_env_record(prefix)
    except RecordUnusable as exc:
        return EnvRecord(path, error=str(exc))
    return None if record is None else record_view(path, record)


def run_verify(
    ctx: ProbeContext,
    python: str | None = None,
    prefix: str | None = None,
    *,
    quick: bool = False,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    start = time.monotonic()
    env = probe_environment(ctx, python, prefix)
    interp = env.interpreter
    # the interpreter as given or found (a wrapper script stays a wrapper), not the
    # sys.executable it reports
    exe = choose_target(ctx, python, prefix).python or interp.executable
    target = Target(env.prefix, env.kind, env.selected_by, exe)
    if exe is None:
        raise UsageError(
            "verify-no-python",
            Msg(
                "{prefix} has no Python interpreter (no bin/python): it is not an environment.",
                prefix=env.prefix,
            ),
            Msg(
                "Pass the environment's directory with --prefix, or its interpreter with --python."
            ),
        )
    if not interp.runs:
        why = joined(Msg("; "), [n.message for n in interp.notes]) or Msg("no interpreter found")
        raise ExternalError(
            "verify-python-does-not-run",
            Msg(
                "The environment {prefix} has no interpreter that runs ({python}): {why}.",
                prefix=env.prefix,
                python=exe,
                why=why,
            ),
            Msg(
                "verify runs its checks inside the environment; repair or recreate it "
                "(torchenv doctor --prefix DIR says what is wrong)"
            ),
        )

    record = read_record(Path(env.prefix))
    limit = timeout or (QUICK_TIMEOUT if quick else FULL_TIMEOUT)
    if progress is not None:
        if quick:
            running = _("running the quick checks in {python} (timeout {seconds}s)")
        else:
            running = _("running the checks in {python} (timeout {seconds}s)")
        progress(running.format(python=exe, seconds=f"{limit:g}"))
    # a scratch directory that the next verify removes if this one is killed (untrusted.scratch)
    with scratch_dir("verify") as tmp:
        output = run_script(ctx.runner, exe, quick=quick, timeout=limit, tmp=str(tmp), env=ctx.env)
    installed = {d.name: d.version for d in env.distributions}
    lock = check_versions(record, installed, output.facts, env.prefix)
    visible, no_gpu_why = gpu_evidence(ctx)
    host = HostFacts(
        gpu_visible=visible,
        plan_cuda=record.plan_cuda if record is not None else None,
        plan_variant=record.plan_variant if record is not None else None,
        no_gpu_why=no_gpu_why,
    )
    checks, perf = assemble(output, host, lock, quick, peak_for, pin_problems(env))
    count = {s: sum(1 for c in checks if c.status is s) for s in CheckStatus}
    summary = VerifySummary(
        passed=count[CheckStatus.PASS],
        failed=count[CheckStatus.FAIL],
        skipped=count[CheckStatus.SKIP],
        seconds=round(time.monotonic() - start, 2),
        quick=quick,
    )
    facts = output.facts
    return VerifyReport(
        VERIFY_SCHEMA,
        target,
        checks,
        VerifyPerfTable(perf),
        summary,
        torch=facts.get("torch") if isinstance(facts.get("torch"), str) else None,
        cuda=facts.get("cuda") if isinstance(facts.get("cuda"), str) else None,
        python=facts.get("python") if isinstance(facts.get("python"), str) else interp.version,
        allocator=output.allocator,
    )


def write_junit(report: VerifyReport, path: str) -> None:
    """``verify --junit FILE``: the report as JUnit XML, written atomically; only a regular
    file is ever replaced."""
    from torchenv.report.render_junit import junit_xml  # noqa: PLC0415
    from torchenv.untrusted import files  # noqa: PLC0415

    files.write_output(path, junit_xml(report), what=Msg("the JUnit report"))


def write_junit_error(error: TorchenvError, target: str | None, path: str) -> None:
    """``verify --junit FILE`` when verify could not run: the error as the report's one case
    (a UsageError when the file cannot be written)."""
    from torchenv.report.render_junit import junit_error_xml  # noqa: PLC0415
    from torchenv.untrusted import files  # noqa: PLC0415

    data = junit_error_xml(target, error.reference, error.message, error.hint)
    files.write_output(path, data, what=Msg("the JUnit report"))
