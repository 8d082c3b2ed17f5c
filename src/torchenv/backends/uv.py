"""The uv backend: a relocatable venv made by uv, then ``uv pip sync`` of the lock (exactly
its packages, with their hashes, nothing else). uv can fetch the Python the lock asks for, so it
needs nothing on the machine but itself (torchenv depends on the ``uv`` package)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from torchenv.backends.base import BuildPlan, Installed, SpecRef, Steps
from torchenv.backends.credentials import installer_env
from torchenv.backends.installers import Sources, uv_sync, uv_venv
from torchenv.backends.lockload import load_fresh_lock
from torchenv.backends.tools import BackendError, find_uv
from torchenv.i18n import _
from torchenv.models.spec import LOCK_FILE


def python_of(env: Path) -> str | None:
    """The full Python version of a venv, from its pyvenv.cfg (for evaluating lock markers)."""
    try:
        text = (env / "pyvenv.cfg").read_text("utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version") and value.strip():
            return value.strip()
    return None


def lock_plan(ref: SpecRef) -> BuildPlan:
    """The pylock of the spec, checked fresh, with where its packages come from."""
    lock = load_fresh_lock(ref)
    record = lock.record
    if record is None:  # pragma: no cover - load_fresh_lock refuses a lock without one
        raise ValueError("a fresh lock has a record")
    sources = Sources.for_variant(ref.spec.index, record.variant, record.macos, base=ref.directory)
    here = lock.versions_for(f"{record.python.rstrip('t')}.0")
    return BuildPlan(lock, len(lock.packages), record.python, sources, here)


def installed(plan: BuildPlan, build: Path) -> Installed:
    """What the installer put there: the packages whose markers select this Python."""
    python = python_of(build) or plan.python
    return Installed(plan.lock.versions_for(python))


class UvBackend:
    name = "uv"
    lock_file = LOCK_FILE
    lock_files: tuple[str, ...] = (LOCK_FILE,)

    def describe(self) -> str:
        return _("uv: a relocatable venv and `uv pip sync` of pylock.toml")

    def unavailable(self, which: Callable[[str], str | None]) -> str | None:
        try:
            find_uv()
        except BackendError as exc:
            return exc.message
        return None

    def plan(self, ref: SpecRef) -> BuildPlan:
        return lock_plan(ref)

    def install(
        self,
        plan: BuildPlan,
        build: Path,
        target: Path,
        steps: Steps,
        env: Mapping[str, str],
        which: Callable[[str], str | None],
    ) -> Installed:
        uv = find_uv()
        sources: Sources = plan.detail
        steps.run("venv", uv_venv(uv, plan.python, str(build)))
        steps.progress(_("installing {count} packages with uv").format(count=plan.count))
        argv = uv_sync(uv, plan.lock.path, str(build / "bin" / "python"), sources)
        with installer_env(sources.urls, env) as with_credentials:
            steps.run("install", argv, with_credentials)
        return installed(plan, build)
