"""``torchenv doctor``: inspect, then run the diagnosis rules (and, with --deep, a check that
imports torch inside the environment)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torchenv.commands.inspect import run_inspect
from torchenv.commands.provenance import read_provenance
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _
from torchenv.knowledge import load_knowledge
from torchenv.models import DoctorReport, RuleCatalog, Severity, Summary
from torchenv.models.reports import DOCTOR_SCHEMA
from torchenv.probe.context import ProbeContext
from torchenv.probe.runtime import run_runtime_check
from torchenv.report.outlook import outlook
from torchenv.report.rules import REGISTRY, Facts, evaluate

if TYPE_CHECKING:
    from torchenv.report.explain import RuleLookup

Progress = Callable[[str], None]


def run_doctor(
    ctx: ProbeContext,
    python: str | None = None,
    prefix: str | None = None,
    *,
    deep: bool = False,
    deep_timeout: float = 180.0,
    fail_on: Severity = Severity.ERROR,
    progress: Progress | None = None,
) -> DoctorReport:
    inspected = run_inspect(ctx, python, prefix)
    env = inspected.environment
    runtime = None
    if deep and env.torch is not None:
        if progress is not None:
            progress(
                _("importing torch in {python} (timeout {seconds}s)").format(
                    python=env.interpreter.executable, seconds=f"{deep_timeout:g}"
                )
            )
        runtime = run_runtime_check(
            ctx, env.interpreter.executable if env.interpreter.runs else None, deep_timeout
        )
    facts = Facts(inspected.machine, env, load_knowledge(), runtime, read_provenance(env))
    findings = tuple(evaluate(facts))
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    summary = Summary(
        errors=counts[Severity.ERROR],
        warnings=counts[Severity.WARNING],
        infos=counts[Severity.INFO],
        rules_checked=sum(1 for r in REGISTRY if r.info.needs != "deep" or runtime is not None),
        fail_on=fail_on,
        failed=any(f.severity.at_least(fail_on) for f in findings),
    )
    return DoctorReport(
        DOCTOR_SCHEMA, inspected.target, outlook(facts, findings), findings, summary, runtime
    )


def rule_catalog() -> RuleCatalog:
    return RuleCatalog("torchenv.doctor-rules/1", tuple(r.info for r in REGISTRY))


def explain_rule(query: str) -> RuleLookup:
    """``doctor --explain RULE``: the rule and its full entry; a UsageError naming the closest
    rule ids when none has that id."""
    from torchenv.report.explain import lookup_rule, unknown_rule_message  # noqa: PLC0415

    found = lookup_rule(query)
    if found.info is None:
        raise UsageError(
            "unknown-rule",
            unknown_rule_message(found),
            Msg("`torchenv doctor --list-rules` lists every rule with its id."),
        )
    return found
