"""``torchenv create``: build the environment of a lock, check it, and only then put it in place.

Order matters for "an interrupted create leaves nothing behind" (staging.py): everything happens
in a sibling build directory; the environment's own record (``torchenv-env.json``) is written
inside it before the rename, so the environment and its record appear together; the user-level
registry is updated last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import staging
from torchenv.backends.credentials import installer_env
from torchenv.backends.installers import (
    Sources,
    pip_install,
    pip_venv,
    uv_sync,
    uv_venv,
)
from torchenv.backends.lockfile import LOCK_LIMIT, Lock, parse_lock, pip_requirements
from torchenv.backends.registry import registered
from torchenv.backends.tools import BackendError, find_uv, run_step
from torchenv.errors import UsageError
from torchenv.models.build import (
    CREATE_SCHEMA,
    ENV_RECORD_FILE,
    BuildStep,
    CreateReport,
    env_record,
)
from torchenv.models.spec import LOCK_FILE, Spec
from torchenv.untrusted import files

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]
INSTALL_TIMEOUT = 3600.0


def load_fresh_lock(spec: Spec, cwd: Path) -> Lock:
    """The spec's lock, refused when missing, made from another version of the spec, or
    changed since ``torchenv lock`` sealed it."""
    from torchenv.spec import spec_directory, spec_hash  # noqa: PLC0415

    path = spec_directory(spec, cwd) / LOCK_FILE
    data = read_lock_bytes(path, spec)
    lock = parse_lock(data, str(path))
    if lock.record is None:
        raise UsageError(
            "lock-not-torchenv",
            f"{path} has no [tool.torchenv] table: it was not written by `torchenv lock`, so "
            "nothing says which spec and plan it belongs to.",
            "Run `torchenv lock` to write it.",
        )
    if lock.spec_hash != spec_hash(spec):
        raise UsageError(
            "lock-stale",
            f"{path} was made from another version of {spec.path or 'the spec'} (the spec "
            "changed since `torchenv lock`).",
            "Run `torchenv lock` again, then create.",
        )
    if not lock.sealed:
        why = (
            "has no lock-hash (an older torchenv wrote it)"
            if lock.sealed is None
            else "was changed after `torchenv lock` wrote it: its content no longer matches "
            "its lock-hash"
        )
        raise UsageError(
            "lock-edited",
            f"{path} {why}.",
            "Run `torchenv lock` to write it again; review the change if you did not make it.",
        )
    return lock


def read_lock_bytes(path: Path, spec: Spec, what: str = "lock") -> bytes:
    """A lock file's bytes: a regular file of sensible size, else a UsageError."""
    try:
        return files.read_bytes(path, LOCK_LIMIT)
    except FileNotFoundError:
        raise UsageError(
            "lock-missing",
            f"There is no {what} for {spec.path or 'the spec'} ({path}).",
            "Run `torchenv lock` first.",
        ) from None
    except OSError as exc:
        raise UsageError(
            "lock-unreadable",
            f"Cannot read {path}: {files.describe(exc)}.",
            "Run `torchenv lock` to write it again.",
        ) from None


def run_create(
    ctx: ProbeContext,
    spec_file: str | None,
    cwd: Path,
    *,
    backend: str | None = None,
    prefix: str | None = None,
    force: bool = False,
    verbose: bool = False,
    check: bool = True,
    progress: Progress = lambda _: None,
) -> CreateReport:
    from torchenv.spec import load_spec, spec_directory  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    chosen = backend or spec.installer
    if "conda" in (chosen, spec.installer):
        from torchenv.commands.create_conda import run_create_conda  # noqa: PLC0415

        return run_create_conda(
            ctx,
            spec,
            cwd,
            backend=chosen,
            prefix=prefix,
            force=force,
            verbose=verbose,
            check=check,
            progress=progress,
        )
    lock = load_fresh_lock(spec, cwd)
    record = lock.record
    if record is None:  # pragma: no cover - load_fresh_lock refuses a lock without one
        raise ValueError("a fresh lock has a record")
    spec_dir = spec_directory(spec, cwd)
    target = resolve_prefix(prefix, spec_dir)
    protected = protected_paths(spec, cwd)
    registry = registry_path()
    known = registered(registry)
    replaced = staging.check_target(target, force, protected, known)  # before installing
    python = record.python
    sources = Sources.for_variant(spec.index, record.variant, record.macos, base=spec_dir)
    steps: list[BuildStep] = []
    with staging.terminate_as_interrupt(), staging.exclusive(target):
        for path in staging.remove_leftovers(target):
            progress(f"removed {path.name}, left by an interrupted create")
        with (
            staging.build_dir(target) as build,
            installer_env(sources.urls, ctx.env) as env,
        ):
            env_python = str(build / "bin" / "python")
            if chosen == "uv":
                uv = find_uv()
                _step(ctx, steps, "venv", uv_venv(uv, python, str(build)), progress, verbose)
                progress(f"installing {len(lock.packages)} packages with uv")
                argv = uv_sync(uv, lock.path, env_python, sources)
                _step(ctx, steps, "install", argv, progress, verbose, env)
            else:
                base = _base_python(ctx, python)
                argv = pip_venv(base, str(build), prompt=target.name)
                _step(ctx, steps, "venv", argv, progress, verbose)
                requirements = build / ".torchenv-requirements.txt"
                requirements.write_text(pip_requirements(lock), "utf-8")
                progress(f"installing {len(lock.packages)} packages with pip --require-hashes")
                argv = pip_install(env_python, str(requirements), sources)
                _step(ctx, steps, "install", argv, progress, verbose, env)
                requirements.unlink()
            _write_record(build, spec, lock, chosen, python_of(build) or python)
            checked = (
                _quick_verify(ctx, steps, build, progress)
                if check
                else lock.versions().get("torch", "")
            )
            if chosen == "pip":
                staging.relocate(build, str(build), str(target))
            started = time.perf_counter()
            staging.promote(build, target, force, protected, known)
            steps.append(BuildStep("move", time.perf_counter() - started))
        notes = _register(registry, target, spec, lock, chosen)
    return CreateReport(
        CREATE_SCHEMA,
        str(target),
        chosen,
        spec.path or "",
        lock.path,
        lock.sha256,
        checked,
        len(lock.packages),
        tuple(steps),
        replaced,
        tuple(notes),
    )


def _step(
    ctx: ProbeContext,
    steps: list[BuildStep],
    name: str,
    argv: list[str],
    progress: Progress,
    verbose: bool,
    env: Mapping[str, str] | None = None,
) -> str:
    started = time.perf_counter()
    result = run_step(ctx.runner, name, argv, progress, verbose, timeout=INSTALL_TIMEOUT, env=env)
    steps.append(BuildStep(name, time.perf_counter() - started, tuple(argv)))
    return result.stdout


def _base_python(ctx: ProbeContext, python: str) -> str:
    for name in (f"python{python}", "python3"):
        found = ctx.which(name)
        if found and (name != "python3" or not python):
            return found
    raise BackendError(
        "python-missing",
        f"The pip backend needs python{python} on PATH to make the venv, and there is none.",
        "Install that Python, or use the uv backend (it can fetch a Python itself).",
    )


def _quick_verify(
    ctx: ProbeContext, steps: list[BuildStep], build: Path, progress: Progress
) -> str:
    """``verify --quick`` inside the new environment: torch imports, every package is at its
    locked version, CUDA works where the plan expects it. Any failure keeps it out of place."""
    from torchenv.commands.verify import run_verify  # noqa: PLC0415
    from torchenv.models.verify import CheckStatus  # noqa: PLC0415

    progress("checking the new environment (verify --quick)")
    started = time.perf_counter()
    report = run_verify(ctx, prefix=str(build), quick=True)
    steps.append(BuildStep("verify", time.perf_counter() - started))
    failed = [c for c in report.checks if c.status is CheckStatus.FAIL]
    if failed:
        raise BackendError(
            "verify-failed",
            "The new environment failed its quick verify, so it was not put in place:\n"
            + "\n".join(f"    {c.id}: {c.detail}" for c in failed),
            "Run `torchenv create --verbose` to see the installer's output.",
        )
    return report.torch or ""


def _write_record(build: Path, spec: Spec, lock: Lock, backend: str, python: str) -> None:
    from torchenv.spec import spec_hash  # noqa: PLC0415

    record = env_record(
        backend=backend,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        spec=(spec.path, spec_hash(spec)),
        # what the installer puts here: packages whose marker excludes this machine are not
        lock={"path": lock.path, "sha256": lock.sha256, "packages": lock.versions_for(python)},
        plan=lock.tool,
    )
    (build / ENV_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", "utf-8")


def registry_path() -> Path:
    """The user's registry (user data dir, environments.json), checked before anything is
    built: a create must not fail after the environment is in place."""
    from torchenv.backends.registry import check_location  # noqa: PLC0415
    from torchenv.knowledge.store import registry_file  # noqa: PLC0415

    path = registry_file()
    check_location(path)
    return path


def _register(registry: Path, prefix: Path, spec: Spec, lock: Lock, backend: str) -> list[str]:
    """Add the environment to the user's registry; returns notes for the user."""
    from torchenv.backends.registry import register  # noqa: PLC0415

    entry = {
        "spec": spec.path,
        "lock_sha256": lock.sha256,
        "backend": backend,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return register(registry, str(prefix), entry)


def resolve_prefix(prefix: str | None, spec_dir: Path) -> Path:
    """The environment's path, normalised (``..`` and symlinked parents resolved, the last
    component kept as given so a symlink prefix is seen as one)."""
    path = Path(prefix).expanduser() if prefix else spec_dir / ".venv"
    path = path.absolute()
    return path.parent.resolve() / path.name


def protected_paths(spec: Spec, cwd: Path) -> list[Path]:
    """What --force must never replace: the spec and lock (and so the project holding them)
    and the working directory."""
    paths = [cwd]
    if spec.path:
        paths.append(Path(spec.path))
    return paths


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
