"""The conda backend embedded in torchenv: the records of ``conda.lock`` for this machine's
platform, linked by py-rattler (no conda, mamba or pixi needed; the optional extra ``conda``).
rattler writes the final prefix into packages while linking them into the build directory
(``alternative_target_prefix``), so the environment can be built beside its place and renamed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends.base import BuildPlan, Installed, SpecRef, Steps
from torchenv.backends.conda import (
    CONDA_LOCK_FILE,
    MISSING_RATTLER,
    conda_installed,
    meta_path,
    require_rattler,
)
from torchenv.backends.lockload import load_fresh_conda_lock, with_packages
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _

if TYPE_CHECKING:
    from torchenv.backends.conda_rattler import Solved


def platform_part(path: str, solved: list[Solved], here: str) -> Solved:
    """The lock's records for this machine's conda subdir."""
    part = next((s for s in solved if s.subdir == here), None)
    if part is None:
        raise UsageError(
            "lock-platform",
            Msg(
                "{path} has packages for {platforms}, not for this machine ({platform}).",
                path=path,
                platforms=", ".join(s.subdir for s in solved),
                platform=here,
            ),
            Msg("Add this machine's platform to [targets] in the spec and lock again."),
        )
    return part


class CondaEmbeddedBackend:
    name = "conda"
    lock_file = CONDA_LOCK_FILE
    lock_files: tuple[str, ...] = (CONDA_LOCK_FILE, meta_path(Path(CONDA_LOCK_FILE)).name)

    def describe(self) -> str:
        return _("conda (py-rattler, embedded): the conda.lock records linked into a prefix")

    def unavailable(self, which: Callable[[str], str | None]) -> str | None:
        try:
            import rattler  # noqa: F401, PLC0415
        except ImportError:
            return MISSING_RATTLER
        return None

    def plan(self, ref: SpecRef) -> BuildPlan:
        from torchenv.backends.conda_rattler import host_subdir, read_lock  # noqa: PLC0415

        require_rattler()
        lock = load_fresh_conda_lock(ref)
        solved = read_lock(Path(lock.path))
        lock = with_packages(lock, [(n, v) for s in solved for n, v, _ in s.packages()])
        part = platform_part(lock.path, solved, host_subdir())
        python = lock.record.python if lock.record is not None else ""
        here = {name: version for name, version, _ in part.packages()}
        return BuildPlan(lock, len(part.records), python, part, here)

    def install(
        self,
        plan: BuildPlan,
        build: Path,
        target: Path,
        steps: Steps,
        env: Mapping[str, str],
        which: Callable[[str], str | None],
    ) -> Installed:
        from torchenv.backends.conda_rattler import install  # noqa: PLC0415

        part: Solved = plan.detail
        steps.progress(
            _("installing {count} conda packages with py-rattler").format(count=plan.count)
        )
        if steps.verbose:
            for name, version, build_string in part.packages():
                steps.progress(f"  {name} {version} {build_string}")
        with steps.timed("install"):
            install(part.records, build, target)
        return conda_installed(build, part.subdir, part.virtual_packages, part.packages())
