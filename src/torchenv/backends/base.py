"""The one shape of an installer backend: plan a build from the spec's lock, install it into a
directory, describe itself, and say why it cannot run here.

Commands (create, upgrade) know only this protocol; the four implementations are uv.py, pip.py,
conda_embedded.py (py-rattler inside torchenv) and conda_exe.py (a micromamba on PATH), chosen
by choice.py. Everything around an install is the command's: the staging directory, the quick
verify, the record, the rename into place, the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from torchenv.backends.tools import run_step
from torchenv.models.build import BuildStep
from torchenv.models.spec import Spec

if TYPE_CHECKING:
    from torchenv.backends.lockfile import Lock
    from torchenv.models.process import Runner

Progress = Callable[[str], None]
INSTALL_TIMEOUT = 3600.0


@dataclass(frozen=True)
class SpecRef:
    """What a backend needs of the spec: the spec, its hash and its directory (computed by
    the command: the spec layer sits beside the backends, not below them)."""

    spec: Spec
    spec_hash: str
    directory: Path
    # where the lock is read from when not beside the spec: upgrade locks into a scratch
    # directory and puts the lock beside the spec only once the new generation is live
    lock_directory: Path | None = None

    @property
    def lock_home(self) -> Path:
        return self.lock_directory or self.directory


@dataclass(frozen=True)
class BuildPlan:
    """A checked lock, ready to install on this machine: ``lock`` (packages, sha256, the
    [tool.torchenv] record), how many packages this machine gets, and the backend's own part
    (``detail``: the conda records of this platform)."""

    lock: Lock
    count: int
    python: str  # the Python version of the lock's record ("3.11")
    detail: Any = None
    # name -> version of what this machine gets from the lock: Python distributions for a
    # pylock (markers evaluated for the lock's Python), this platform's conda packages for a
    # conda lock; what upgrade compares with the live environment
    here: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Installed:
    """What an install put into the directory, for the environment's record: the Python
    distributions verify compares (name -> version), the Python that markers were evaluated
    for, and the backend's further facts (conda: platform, virtual packages, records)."""

    packages: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)


class Steps:
    """The timed steps of a build, each installer command run through the probe context's
    runner (so tests can stand in for it) and shown with ``--verbose``."""

    def __init__(self, runner: Runner, progress: Progress, verbose: bool) -> None:
        self.runner = runner
        self.progress = progress
        self.verbose = verbose
        self.done: list[BuildStep] = []

    def run(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> str:
        started = time.perf_counter()
        result = run_step(
            self.runner, name, argv, self.progress, self.verbose, timeout=INSTALL_TIMEOUT, env=env
        )
        self.done.append(BuildStep(name, time.perf_counter() - started, tuple(argv)))
        return result.stdout

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.done.append(BuildStep(name, time.perf_counter() - started))


class Backend(Protocol):
    """An installer that builds an environment from a lock."""

    name: str  # as the spec, --backend and the record say it: "uv", "pip", "conda"
    lock_file: str  # the lock it installs, beside the spec
    lock_files: tuple[str, ...]  # every file `torchenv lock` writes for it (a conda sidecar)

    def describe(self) -> str:
        """One line: what it is and what it installs with."""
        ...

    def unavailable(self, which: Callable[[str], str | None]) -> str | None:
        """Why it cannot run on this machine (a missing tool or module), else None."""
        ...

    def plan(self, ref: SpecRef) -> BuildPlan:
        """The spec's lock, checked fresh (made from this spec, sealed, unedited) and narrowed
        to this machine; a UsageError (exit 2) says what to run when it is not."""
        ...

    def install(
        self,
        plan: BuildPlan,
        build: Path,
        target: Path,
        steps: Steps,
        env: Mapping[str, str],
        which: Callable[[str], str | None],
    ) -> Installed:
        """Install the plan into ``build``, an empty directory that will be renamed to
        ``target`` afterwards: nothing may name ``build`` once this returns. ``env``: the
        environment for the installer's processes (credentials are added by the backend, in
        a file of its own, for the install only)."""
        ...
