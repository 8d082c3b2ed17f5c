"""What the lifecycle verbs return: upgrade, rollback, history, list, adopt (their --json)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torchenv.models.build import BuildStep
from torchenv.models.diff import DiffReport

UPGRADE_SCHEMA = "torchenv.upgrade/1"
ROLLBACK_SCHEMA = "torchenv.rollback/1"
HISTORY_SCHEMA = "torchenv.history/1"
LIST_SCHEMA = "torchenv.list/1"
ADOPT_SCHEMA = "torchenv.adopt/1"


@dataclass(frozen=True)
class UpgradeReport:
    schema: str
    prefix: str
    state: str  # "upgraded", "up-to-date", "dry-run", "cancelled"
    change: DiffReport  # the live generation (A) against the new lock (B)
    live: int | None  # the live generation afterwards
    previous: int | None  # the generation it replaced: the rollback target
    backend: str
    lock: str  # the project's lock, as written when upgraded
    verify: str | None = None  # "passed", "skipped"
    steps: tuple[BuildStep, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RollbackReport:
    schema: str
    prefix: str
    live: int
    previous: int
    restored: tuple[str, ...] = ()  # project files put back as they were for that generation
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationRow:
    number: int
    live: bool
    created: str | None
    torch: str | None
    variant: str | None
    python: str | None
    backend: str | None
    lock_sha256: str | None
    verify: str | None
    switched: str | None
    problem: str | None = None


@dataclass(frozen=True)
class HistoryReport:
    schema: str
    prefix: str
    generations: tuple[GenerationRow, ...]
    pruned: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvironmentRow:
    prefix: str
    # "ok", or each of "gone", "python-broken", "record-unusable", "lock-stale", "drifted"
    health: tuple[str, ...]
    torch: str | None = None
    variant: str | None = None
    python: str | None = None
    backend: str | None = None
    generation: int | None = None  # the live generation, None for a plain environment
    spec: str | None = None
    detail: tuple[str, ...] = ()  # what each health word rests on


@dataclass(frozen=True)
class ListReport:
    schema: str
    registry: str
    environments: tuple[EnvironmentRow, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdoptReport:
    schema: str
    prefix: str
    spec: str  # the spec written
    lock: str | None  # the lock written, None when locking failed (see notes)
    torch: str | None
    variant: str | None
    installer: str
    pinned: int  # exact pins in the spec: torch's release and every `packages` entry
    unpinned: tuple[str, ...] = field(default_factory=tuple)  # "name: why it could not be pinned"
    notes: tuple[str, ...] = ()
    python: str | None = None  # the spec's python ("3.11", "3.14t")
    cuda: str | None = None  # the spec's cuda ("cpu", "13.0", "auto")
    libraries: tuple[str, ...] = ()  # the domain libraries the plan pairs with torch
