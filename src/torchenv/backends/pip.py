"""The pip backend: a stdlib venv made by the lock's Python from PATH, then ``pip install
--require-hashes --no-deps`` of a requirements file generated from the lock. pip writes the
build directory into scripts' ``#!`` lines and activation scripts, so they are rewritten to the
final prefix before the rename (``staging.relocate``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from torchenv.backends import staging
from torchenv.backends.base import BuildPlan, Installed, SpecRef, Steps
from torchenv.backends.credentials import installer_env
from torchenv.backends.installers import Sources, pip_install, pip_venv
from torchenv.backends.lockfile import pip_requirements
from torchenv.backends.tools import BackendError
from torchenv.backends.uv import installed, lock_plan
from torchenv.i18n import Msg, _
from torchenv.models.spec import LOCK_FILE


def base_python(which: Callable[[str], str | None], python: str) -> str:
    for name in (f"python{python}", "python3"):
        found = which(name)
        if found and (name != "python3" or not python):
            return found
    raise BackendError(
        "python-missing",
        Msg(
            "The pip backend needs {python} on PATH to make the venv, and there is none.",
            python="python" + python,
        ),
        Msg("Install that Python, or use the uv backend (it can fetch a Python itself)."),
    )


class PipBackend:
    name = "pip"
    lock_file = LOCK_FILE
    lock_files: tuple[str, ...] = (LOCK_FILE,)

    def describe(self) -> str:
        return _("pip: a stdlib venv and `pip install --require-hashes` of pylock.toml")

    def unavailable(self, which: Callable[[str], str | None]) -> str | None:
        # it needs the lock's Python (python3.X) on PATH: known only once the lock is read,
        # so install says so ("python-missing") before anything is built
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
        sources: Sources = plan.detail
        base = base_python(which, plan.python)
        steps.run("venv", pip_venv(base, str(build), prompt=target.name))
        requirements = build / ".torchenv-requirements.txt"
        requirements.write_text(pip_requirements(plan.lock), "utf-8")
        steps.progress(
            _("installing {count} packages with pip --require-hashes").format(count=plan.count)
        )
        argv = pip_install(str(build / "bin" / "python"), str(requirements), sources)
        with installer_env(sources.urls, env) as with_credentials:
            steps.run("install", argv, with_credentials)
        requirements.unlink()
        result = installed(plan, build)
        staging.relocate(build, str(build), str(target))
        return result
