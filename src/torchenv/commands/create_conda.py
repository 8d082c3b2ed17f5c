"""``torchenv create`` with the conda backend: the records of ``conda.lock`` for this machine's
platform, linked by py-rattler into the same staging as the uv and pip backends (file lock,
sibling build directory, the environment's record, quick verify, rename into place)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import staging
from torchenv.backends.conda import (
    CONDA_LOCK_FILE,
    content_hash,
    meta_path,
    parse_meta,
    python_distributions,
    require_rattler,
)
from torchenv.backends.lockfile import Lock, LockedPackage
from torchenv.backends.registry import registered
from torchenv.errors import UsageError
from torchenv.models.build import (
    CREATE_SCHEMA,
    ENV_RECORD_FILE,
    BuildStep,
    CreateReport,
    env_record,
)
from torchenv.models.spec import Spec

if TYPE_CHECKING:
    from torchenv.backends.conda_rattler import Solved
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]


def load_fresh_conda_lock(spec: Spec, cwd: Path) -> tuple[Lock, list[Solved]]:
    """The spec's conda lock, refused when missing, made from another version of the spec, or
    changed since ``torchenv lock`` wrote it (its sha256 differs from the sidecar's)."""
    from torchenv.backends.conda_rattler import read_lock  # noqa: PLC0415
    from torchenv.commands.create import read_lock_bytes  # noqa: PLC0415
    from torchenv.spec import spec_directory, spec_hash  # noqa: PLC0415

    path = spec_directory(spec, cwd) / CONDA_LOCK_FILE
    data = read_lock_bytes(path, spec, "conda lock")
    sidecar = meta_path(path)
    sidecar_data = read_lock_bytes(sidecar, spec, "record of the conda lock")
    locked_sha, record, sealed = parse_meta(sidecar_data, str(sidecar))
    again = "Run `torchenv lock` again, then create."
    if record.spec_hash != spec_hash(spec):
        raise UsageError(
            "lock-stale",
            f"{path} was made from another version of {spec.path or 'the spec'} (the spec "
            "changed since `torchenv lock`).",
            again,
        )
    sha = content_hash(data)
    if not sealed:
        raise UsageError(
            "lock-edited",
            f"{sidecar} has no lock-hash, or its content no longer matches it: it was written "
            "by an older torchenv or changed since `torchenv lock`.",
            again,
        )
    if sha != locked_sha:
        raise UsageError(
            "lock-stale",
            f"{path} changed since `torchenv lock` wrote it (its sha256 is not the one "
            f"{sidecar.name} records).",
            again,
        )
    solved = read_lock(path)
    packages = tuple(
        LockedPackage(name, version) for part in solved for name, version, _ in part.packages()
    )
    return Lock(str(path), sha, packages, record, sealed), solved


def run_create_conda(
    ctx: ProbeContext,
    spec: Spec,
    cwd: Path,
    *,
    backend: str,
    prefix: str | None,
    force: bool,
    verbose: bool,
    check: bool,
    progress: Progress,
) -> CreateReport:
    from torchenv.backends.conda_rattler import host_subdir, install  # noqa: PLC0415
    from torchenv.commands.create import (  # noqa: PLC0415
        _quick_verify,
        _register,
        protected_paths,
        registry_path,
        resolve_prefix,
    )

    if backend != "conda":
        raise UsageError(
            "backend-mismatch",
            f'{spec.path or "The spec"} has installer = "conda": its lock is {CONDA_LOCK_FILE}, '
            f"which the {backend} backend cannot install.",
            'Create with --backend conda, or set installer = "uv" and lock again.',
        )
    if spec.installer != "conda":
        raise UsageError(
            "backend-mismatch",
            f"The conda backend installs {CONDA_LOCK_FILE}, which `torchenv lock` writes for a "
            f'spec with installer = "conda"; {spec.path or "this spec"} has installer = '
            f'"{spec.installer}".',
            'Set installer = "conda" in the spec and run `torchenv lock`, or create with '
            f"--backend {spec.installer}.",
        )
    require_rattler()
    lock, solved = load_fresh_conda_lock(spec, cwd)
    here = host_subdir()
    part = next((s for s in solved if s.subdir == here), None)
    if part is None:
        raise UsageError(
            "lock-platform",
            f"{lock.path} has packages for {', '.join(s.subdir for s in solved)}, not for this "
            f"machine ({here}).",
            "Add this machine's platform to [targets] in the spec and lock again.",
        )
    from torchenv.spec import spec_directory  # noqa: PLC0415

    spec_dir = spec_directory(spec, cwd)
    target = resolve_prefix(prefix, spec_dir)
    protected = protected_paths(spec, cwd)
    registry = registry_path()
    known = registered(registry)
    replaced = staging.check_target(target, force, protected, known)  # before installing
    steps: list[BuildStep] = []
    with staging.terminate_as_interrupt(), staging.exclusive(target):
        for path in staging.remove_leftovers(target):
            progress(f"removed {path.name}, left by an interrupted create")
        with staging.build_dir(target) as build:
            progress(f"installing {len(part.records)} conda packages with py-rattler")
            if verbose:
                for name, version, build_string in part.packages():
                    progress(f"  {name} {version} {build_string}")
            started = time.perf_counter()
            install(part.records, build, target)
            steps.append(BuildStep("install", time.perf_counter() - started))
            distributions = python_distributions(build)
            _write_record(build, spec, lock, part, distributions)
            checked = (
                _quick_verify(ctx, steps, build, progress)
                if check
                else distributions.get("torch") or part.versions().get("pytorch", "")
            )
            started = time.perf_counter()
            staging.promote(build, target, force, protected, known)
            steps.append(BuildStep("move", time.perf_counter() - started))
        notes = _register(registry, target, spec, lock, "conda")
    return CreateReport(
        CREATE_SCHEMA,
        str(target),
        "conda",
        spec.path or "",
        lock.path,
        lock.sha256,
        checked,
        len(part.records),
        tuple(steps),
        replaced,
        tuple(notes),
    )


def _write_record(
    build: Path, spec: Spec, lock: Lock, part: Solved, distributions: dict[str, str]
) -> None:
    """The record ``verify`` and ``doctor`` read: ``lock.packages`` holds the Python
    distributions the conda packages installed (what they compare with site-packages, where
    ``pytorch`` is ``torch`` and libraries such as ``libstdcxx`` do not appear); the conda
    records themselves are under ``lock.conda``."""
    from torchenv.spec import spec_hash  # noqa: PLC0415

    record = env_record(
        backend="conda",
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        spec=(spec.path, spec_hash(spec)),
        lock={
            "path": lock.path,
            "sha256": lock.sha256,
            "packages": distributions,
            "platform": part.subdir,
            "virtual-packages": list(part.virtual_packages),
            "conda": {name: f"{version} {build}" for name, version, build in part.packages()},
        },
        plan=lock.tool,
    )
    (build / ENV_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", "utf-8")
