"""What the commands return: typed results the renderers turn into text or JSON."""

from __future__ import annotations

from dataclasses import dataclass

from torchenv.models.environment import Environment
from torchenv.models.findings import Finding, Outlook, RuleInfo, Summary, Target
from torchenv.models.machine import Machine
from torchenv.models.runtime import RuntimeCheck
from torchenv.models.schemas import DOCTOR_SCHEMA, INSPECT_SCHEMA

__all__ = ["DOCTOR_SCHEMA", "INSPECT_SCHEMA", "DoctorReport", "InspectReport", "RuleCatalog"]


@dataclass(frozen=True)
class InspectReport:
    schema: str
    machine: Machine
    environment: Environment

    @property
    def target(self) -> Target:
        env = self.environment
        return Target(env.prefix, env.kind, env.selected_by, env.interpreter.executable)


@dataclass(frozen=True)
class DoctorReport:
    schema: str
    target: Target
    outlook: Outlook
    findings: tuple[Finding, ...]
    summary: Summary
    runtime: RuntimeCheck | None = None


@dataclass(frozen=True)
class RuleCatalog:
    schema: str
    rules: tuple[RuleInfo, ...]
