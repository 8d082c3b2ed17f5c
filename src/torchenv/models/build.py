"""What ``lock`` and ``create`` return, and the record an environment carries of how it was made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torchenv.models.envrecord import ENV_RECORD_FILE, ENV_RECORD_SCHEMA, EnvRecord
from torchenv.models.plan import Stack

__all__ = ["ENV_RECORD_FILE", "ENV_RECORD_SCHEMA", "EnvRecord", "env_record"]
LOCK_SCHEMA = "torchenv.lock/1"
CREATE_SCHEMA = "torchenv.create/1"


@dataclass(frozen=True)
class LockReport:
    schema: str
    spec: str  # path of the spec file
    lock: str  # path of the pylock.toml written
    sha256: str
    stack: Stack
    packages: dict[str, str]  # name -> version, everything the lock installs
    platforms: tuple[str, ...]
    notes: tuple[str, ...] = ()


LOCK_CHECK_SCHEMA = "torchenv.lock-check/1"


@dataclass(frozen=True)
class LockChange:
    """One reason a lock is not fresh: a spec field that changed since the lock was made, the
    lock itself ("lock": missing, edited), or the knowledge that no longer admits its build."""

    field: str  # "torch", "targets.gpus", "index.pypi", "lock", "knowledge", "spec"
    locked: str  # what the lock was made from ("" when not recorded or absent)
    now: str  # what holds now


@dataclass(frozen=True)
class LockCheckReport:
    schema: str
    spec: str  # path of the spec file
    lock: str  # path of the lock checked
    fresh: bool
    stack: str = ""  # the locked build, "2.13.0+cu130" ("" without a readable lock)
    changes: tuple[LockChange, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildStep:
    name: str  # "venv", "install", "check", "move"
    seconds: float
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateReport:
    schema: str
    prefix: str
    backend: str
    spec: str
    lock: str
    lock_sha256: str
    torch: str  # the version the quick check imported
    packages: int
    steps: tuple[BuildStep, ...] = ()
    replaced: bool = False  # an existing environment at the prefix was replaced
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Provenance:
    """How an environment built by ``torchenv create`` compares with what it was built from."""

    record: str  # path of its torchenv-env.json
    prefix: str
    backend: str | None = None
    created: str | None = None
    spec: str | None = None
    spec_changed: bool | None = None  # None: the spec cannot be read now (see spec_problem)
    spec_problem: str | None = None
    lock: str | None = None
    lock_changed: bool | None = None  # None: the lock file is gone
    drift: tuple[str, ...] = ()  # "filelock is 4.3.0, the lock has 4.2.12", "six 1.17.0 added"
    error: str | None = None  # the record itself cannot be used


def env_record(
    *,
    backend: str,
    spec: tuple[str | None, str],
    lock: Mapping[str, Any],
    plan: Mapping[str, Any],
    created: str | None = None,
    generation: int | None = None,
) -> dict[str, Any]:
    """The content of ``torchenv-env.json`` (models/envrecord.py): what ``verify`` and
    ``doctor`` compare an environment with. ``spec``: its path and hash; ``lock``: path, sha256,
    the packages the environment should hold, and any further facts of the backend. ``created``
    is left out where a stable file matters more (an image layer)."""
    facts = {k: v for k, v in lock.items() if k not in ("path", "sha256", "packages")}
    return EnvRecord(
        packages=dict(lock.get("packages") or {}),
        backend=backend,
        created=created,
        spec_path=spec[0],
        spec_hash=spec[1],
        lock_path=lock.get("path"),
        lock_sha256=lock.get("sha256"),
        plan=dict(plan),
        lock_extra=facts,
        generation=generation,
    ).to_data()
