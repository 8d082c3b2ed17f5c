"""Every diagnosis rule, explained: what a finding means, how torchenv detects it, how to fix it
with each installer, and the sources. ``torchenv doctor --explain RULE`` and ``--list-rules``
read it, and ``python -m torchenv.report.explain.docs`` writes docs/rules/ from it.

Pure data and lookups: nothing here probes the host. The rule registry (rules/__init__.py) is
the source of the ids, severities, summaries and catalog references; the entries modules hold the
text, one module per family of rules.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from torchenv.i18n import N_, _
from torchenv.models import RuleInfo
from torchenv.report.explain import (
    entries_conda,
    entries_cuda_libs,
    entries_driver,
    entries_driver_install,
    entries_environment,
    entries_forward_compat,
    entries_machine,
    entries_packages,
    entries_provenance,
    entries_runtime,
    entries_toolchain,
)
from torchenv.report.explain.model import INSTALLERS, Fix, RuleExplanation
from torchenv.report.rules import REGISTRY, Rule

__all__ = [
    "INSTALLERS",
    "Fix",
    "RuleExplanation",
    "RuleGroup",
    "RuleLookup",
    "all_explanations",
    "explained_ids",
    "explanation_for",
    "family_of",
    "lookup_rule",
    "rule_info",
    "rule_listing",
    "unknown_rule_message",
]

_MODULES = (
    entries_environment,
    entries_provenance,
    entries_packages,
    entries_cuda_libs,
    entries_conda,
    entries_driver_install,
    entries_driver,
    entries_machine,
    entries_toolchain,
    entries_forward_compat,
    entries_runtime,
)


def _index() -> dict[str, RuleExplanation]:
    found: dict[str, RuleExplanation] = {}
    for module in _MODULES:
        for entry in module.ENTRIES:
            if entry.id in found:
                raise ValueError(f"two explanations of rule {entry.id}")
            found[entry.id] = entry
    return found


_EXPLANATIONS = _index()

# the rule modules (rules/*.py) are the families, in registry order; English here (docs/rules/),
# translated where they are shown (render_explain)
FAMILY_TITLES = {
    "environment": N_("Environment and Jupyter kernels"),
    "provenance": N_("Environments built by torchenv"),
    "packages": N_("Installed packages"),
    "cuda_libs": N_("NVIDIA CUDA libraries"),
    "conda": N_("conda environments"),
    "driver_install": N_("Driver installation"),
    "driver": N_("Driver, torch build and GPUs"),
    "machine": N_("Machine, containers and toolchain"),
    "forward_compat": N_("CUDA forward compatibility (cuda-compat)"),
    "runtime": N_("Runtime checks (--deep)"),
}


@dataclass(frozen=True)
class RuleGroup:
    family: str  # the rule module's name, e.g. "driver"
    title: str
    rules: tuple[RuleInfo, ...]


@dataclass(frozen=True)
class RuleLookup:
    query: str
    info: RuleInfo | None  # None: no rule has that id
    explanation: RuleExplanation | None
    suggestions: tuple[str, ...] = ()  # close rule ids, best first, when info is None


def family_of(rule: Rule) -> str:
    return rule.check.__module__.rsplit(".", 1)[-1]


def explanation_for(rule_id: str) -> RuleExplanation | None:
    return _EXPLANATIONS.get(rule_id)


def explained_ids() -> frozenset[str]:
    """Every rule id that has an explanation, registered or not (the tests compare the two)."""
    return frozenset(_EXPLANATIONS)


def all_explanations() -> tuple[RuleExplanation, ...]:
    """The explanations of the registered rules, in the registry's order."""
    return tuple(_EXPLANATIONS[r.info.id] for r in REGISTRY if r.info.id in _EXPLANATIONS)


def rule_info(rule_id: str) -> RuleInfo | None:
    return next((r.info for r in REGISTRY if r.info.id == rule_id), None)


def rule_listing() -> list[RuleGroup]:
    """The registered rules by family, families and rules in the registry's order."""
    groups: dict[str, list[RuleInfo]] = {}
    for rule in REGISTRY:
        groups.setdefault(family_of(rule), []).append(rule.info)
    return [
        RuleGroup(family, FAMILY_TITLES.get(family, family), tuple(infos))
        for family, infos in groups.items()
    ]


def _normal(text: str) -> str:
    return text.strip().lower().replace("_", "-").replace(" ", "-")


def lookup_rule(query: str) -> RuleLookup:
    """The rule ``query`` names (case, spaces and underscores forgiven). For an unknown id, the
    suggestions are the rules of that failure-catalog case ("A3"), then ids that contain the
    query, then ids close to it (difflib), at most five."""
    wanted = _normal(query)
    for rule in REGISTRY:
        if rule.info.id == wanted:
            return RuleLookup(query, rule.info, explanation_for(rule.info.id))
    ids = [r.info.id for r in REGISTRY]
    by_case = [
        r.info.id
        for r in REGISTRY
        if r.info.catalog and wanted.upper() in r.info.catalog.split("/")
    ]
    containing = [i for i in ids if wanted and wanted in i] if len(wanted) >= 3 else []
    close = difflib.get_close_matches(wanted, ids, n=5, cutoff=0.6)
    suggestions = tuple(dict.fromkeys([*by_case, *containing, *close]))[:5]
    return RuleLookup(query, None, None, suggestions)


def unknown_rule_message(lookup: RuleLookup) -> str:
    """``no rule 'X'; did you mean Y?`` for the CLI's error line, in the user's language."""
    rule = repr(lookup.query)
    if len(lookup.suggestions) == 1:
        return _("no rule {rule}; did you mean {suggestion}?").format(
            rule=rule, suggestion=lookup.suggestions[0]
        )
    if lookup.suggestions:
        return _("no rule {rule}; did you mean one of {suggestions}?").format(
            rule=rule, suggestions=", ".join(lookup.suggestions)
        )
    return _("no rule {rule}; `torchenv doctor --list-rules` lists them").format(rule=rule)
