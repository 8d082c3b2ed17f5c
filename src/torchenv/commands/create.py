"""``torchenv create``: build the environment of a lock with the chosen backend, check it, and
only then put it in place (commands/build.py, backends/staging.py); register it last."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import generations, staging
from torchenv.backends.base import SpecRef, Steps
from torchenv.backends.choice import choose_backend
from torchenv.backends.registry import registered
from torchenv.commands.build import build_into
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _
from torchenv.models.build import CREATE_SCHEMA, CreateReport
from torchenv.models.spec import Spec

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]


def spec_ref(spec_file: str | None, cwd: Path) -> SpecRef:
    """The spec, read and checked, with its hash and directory."""
    from torchenv.spec import load_spec, spec_directory, spec_hash  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    return SpecRef(spec, spec_hash(spec), spec_directory(spec, cwd))


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
    ref = spec_ref(spec_file, cwd)
    builder = choose_backend(backend, ref.spec, ctx.which)
    target = resolve_prefix(prefix, ref.directory)
    if any(part.name.endswith(generations.SUFFIX) for part in target.parents):
        raise UsageError(
            "prefix-in-generations",
            Msg(
                "{path} is inside a generations directory: its generations are made by "
                "`torchenv upgrade` and switched by `torchenv rollback`, never replaced in place.",
                path=target,
            ),
            Msg("Pass the environment's prefix (the link beside that directory)."),
        )
    if generations.managed(target):
        raise UsageError(
            "prefix-has-generations",
            Msg(
                "{path} is an environment with generations ({store}): "
                "create would replace the link, not the environment.",
                path=target,
                store=generations.store(target).name,
            ),
            Msg(
                "Use `torchenv upgrade` to build its next generation, or remove the link and its "
                "generations directory to start again."
            ),
        )
    plan = builder.plan(ref)
    protected = protected_paths(ref.spec, cwd)
    registry = registry_path()
    known = registered(registry)
    replaced = staging.check_target(target, force, protected, known)  # before installing
    steps = Steps(ctx.runner, progress, verbose)
    if verbose:
        progress(builder.describe())
    with staging.terminate_as_interrupt(), staging.exclusive(target):
        for path in staging.remove_leftovers(target):
            progress(_("removed {name}, left by an interrupted create").format(name=path.name))
        with staging.build_dir(target) as build:
            built = build_into(ctx, builder, plan, ref, build, target, steps, check=check)
            with steps.timed("move"):
                staging.promote(build, target, force, protected, known)
        notes = register_environment(
            registry, target, ref.spec.path, plan.lock.sha256, builder.name
        )
    return CreateReport(
        CREATE_SCHEMA,
        str(target),
        builder.name,
        ref.spec.path or "",
        plan.lock.path,
        plan.lock.sha256,
        built.torch,
        plan.count,
        tuple(steps.done),
        replaced,
        tuple(notes),
    )


def registry_path() -> Path:
    """The user's registry (user data dir, environments.json), checked before anything is
    built: a create must not fail after the environment is in place."""
    from torchenv.backends.registry import check_location  # noqa: PLC0415
    from torchenv.knowledge.userdata import registry_file  # noqa: PLC0415

    path = registry_file()
    check_location(path)
    return path


def register_environment(
    registry: Path,
    prefix: Path,
    spec: str | None,
    lock_sha256: str | None,
    backend: str | None,
    created: str | None = None,
) -> list[str]:
    """Add or update the environment in the user's registry (create, upgrade, rollback: it
    names the lock that is live); returns notes for the user."""
    from torchenv.backends.registry import register  # noqa: PLC0415

    entry = {
        "spec": spec,
        "lock_sha256": lock_sha256,
        "backend": backend,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
