"""Findings of ``torchenv doctor`` and the rule catalog entries that produce them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class Finding:
    id: str  # stable rule slug, e.g. "driver-too-old-for-build"
    severity: Severity
    title: str  # one line, specific to this case
    evidence: tuple[str, ...]  # the facts the rule saw, each "what: value (from where)"
    fix: tuple[str, ...] = ()  # commands to run, or steps when no command exists
    catalog: str | None = None  # failure-catalog case, e.g. "A3"


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity  # the most severe level the rule reports
    summary: str
    catalog: str | None = None
    needs: str = "files"  # "files" (the probed facts) or "deep" (imports torch, --deep)


@dataclass(frozen=True)
class Summary:
    errors: int
    warnings: int
    infos: int
    rules_checked: int
    fail_on: Severity
    failed: bool


@dataclass(frozen=True)
class Target:
    """Which environment a command looked at, and why that one."""

    prefix: str
    kind: str
    selected_by: str
    python: str | None


@dataclass(frozen=True)
class Outlook:
    """The doctor's one-line answer: what is installed and whether CUDA is expected to work."""

    torch: str | None  # "2.13.0+cpu"
    build: str  # "cpu", "cuda 13.0", "rocm 6.2", "none"
    driver: str | None
    gpus: tuple[str, ...]  # "NVIDIA H100 80GB HBM3 (9.0)"
    cuda_expected: bool  # the static facts say torch.cuda should work here
    reason: str  # why (not)
    verified: bool | None = None  # --deep: what importing torch showed (None without --deep)
