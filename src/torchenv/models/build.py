"""What ``lock`` and ``create`` return, and the record an environment carries of how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field

from torchenv.models.plan import Stack

LOCK_SCHEMA = "torchenv.lock/1"
CREATE_SCHEMA = "torchenv.create/1"
ENV_RECORD_SCHEMA = "torchenv.env/1"
ENV_RECORD_FILE = "torchenv-env.json"  # in the environment's prefix


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
