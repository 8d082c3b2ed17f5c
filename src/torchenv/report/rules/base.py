"""The rule engine: rules are pure functions from facts to hits; the engine turns hits into
findings with the rule's stable id, catalog reference and severity."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torchenv.models import (
    CompatKnowledge,
    Environment,
    Finding,
    Machine,
    RuleInfo,
    RuntimeCheck,
    Severity,
)
from torchenv.models.build import Provenance


@dataclass(frozen=True)
class Facts:
    machine: Machine
    environment: Environment
    kb: CompatKnowledge
    runtime: RuntimeCheck | None = None  # present with --deep
    provenance: Provenance | None = None  # present for environments built by torchenv create


@dataclass(frozen=True)
class Hit:
    title: str
    evidence: tuple[str, ...]
    fix: tuple[str, ...] = ()
    severity: Severity | None = None  # None: the rule's own severity


RuleCheck = Callable[[Facts], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    info: RuleInfo
    check: RuleCheck


REGISTRY: list[Rule] = []


def rule(
    id: str,
    severity: Severity,
    summary: str,
    catalog: str | None = None,
    needs: str = "files",
) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule. ``severity`` is the most severe level it reports."""

    def register(check: RuleCheck) -> RuleCheck:
        if any(r.info.id == id for r in REGISTRY):
            raise ValueError(f"duplicate rule id {id}")
        REGISTRY.append(Rule(RuleInfo(id, severity, summary, catalog, needs), check))
        return check

    return register


def evaluate(facts: Facts, rules: Iterable[Rule] | None = None) -> list[Finding]:
    """Run every rule; findings ordered by severity, then by catalog order of the rules."""
    findings: list[Finding] = []
    for entry in rules if rules is not None else REGISTRY:
        if entry.info.needs == "deep" and facts.runtime is None:
            continue
        for hit in entry.check(facts):
            findings.append(
                Finding(
                    id=entry.info.id,
                    severity=hit.severity or entry.info.severity,
                    title=hit.title,
                    evidence=hit.evidence,
                    fix=hit.fix,
                    catalog=entry.info.catalog,
                )
            )
    # sorted() is stable: within a severity, findings keep the registry (catalog) order.
    return sorted(findings, key=lambda f: -f.severity.rank)
