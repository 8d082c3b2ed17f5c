"""``torchenv upgrade``: take an environment to what its spec says now, beside the old one.

1. lock the spec into a scratch directory (the project's lock is not touched yet), and refuse
   (exit 3) when the locked stack would not run on this machine's driver and GPUs;
2. show the change against the live generation, and ask (``--yes`` does not);
3. build generation N+1 in a build directory inside the generation store, verify it there,
   and rename it into the store; a failure or a kill leaves only a build directory, which
   the next run removes, and the live generation untouched;
4. switch the prefix's link to it in one rename (an environment made before generations
   becomes generation 1 first), then put the new lock beside the spec, and prune.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import generations, staging
from torchenv.backends.base import Backend, SpecRef, Steps
from torchenv.backends.choice import CONDA_FAMILY, choose_backend
from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.commands.build import build_into
from torchenv.commands.create import (
    register_environment,
    registry_path,
    resolve_prefix,
    spec_ref,
)
from torchenv.commands.lifecycle import change_of
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.envrecord import EnvRecord
from torchenv.models.lifecycle import UPGRADE_SCHEMA, UpgradeReport
from torchenv.untrusted import files
from torchenv.untrusted.scratch import scratch_dir
from torchenv.untrusted.text import holds_credentials

if TYPE_CHECKING:
    from torchenv.backends.base import BuildPlan
    from torchenv.models.diff import DiffReport
    from torchenv.probe.context import ProbeContext

LIMIT = 64 << 20  # a lock or spec file
Progress = Callable[[str], None]
Confirm = Callable[["DiffReport"], bool]


def project_directory(cwd: Path) -> Path | None:
    """The directory of the spec found from ``cwd``; None when there is none."""
    from torchenv.errors import TorchenvError  # noqa: PLC0415

    try:
        return spec_ref(None, cwd).directory
    except TorchenvError:
        return None


def default_prefix(prefix: str | None, cwd: Path) -> Path:
    """``--prefix`` as given, else ``.venv`` beside the spec found from ``cwd`` (beside
    ``cwd`` when there is none)."""
    if prefix:
        return resolve_prefix(prefix, cwd)
    return resolve_prefix(None, project_directory(cwd) or cwd)


def live_record(target: Path) -> EnvRecord:
    """The record of the environment at ``target``: it must exist and be torchenv's."""
    if not (target.exists() or target.is_symlink()):
        raise UsageError(
            "prefix-missing",
            Msg("There is no environment at {prefix} to upgrade.", prefix=target),
            Msg("Run `torchenv create` first (or pass the environment's --prefix)."),
        )
    try:
        record = read_env_record(target)
    except RecordUnusable as exc:
        raise UsageError(
            "record-unusable",
            Msg("{prefix}'s torchenv-env.json {problem}.", prefix=target, problem=str(exc)),
            Msg("Recreate the environment with `torchenv create --force`."),
        ) from None
    if record is None:
        raise UsageError(
            "not-made-by-torchenv",
            Msg(
                "{prefix} was not made by torchenv (it has no torchenv-env.json), so there is no "
                "record of what it holds to upgrade from.",
                prefix=target,
            ),
            Msg(
                "Run `torchenv adopt --prefix {prefix}` to write a spec and lock that reproduce "
                "it, then `torchenv create` from them: that environment has the record.",
                prefix=target,
            ),
        )
    return record


def run_upgrade(
    ctx: ProbeContext,
    spec_file: str | None,
    cwd: Path,
    *,
    prefix: str | None = None,
    dry_run: bool = False,
    confirm: Confirm = lambda _: True,
    check: bool = True,
    keep: int = generations.DEFAULT_KEEP,
    verbose: bool = False,
    progress: Progress = lambda _: None,
) -> UpgradeReport:
    from torchenv.commands.lock import run_lock  # noqa: PLC0415

    ref = spec_ref(spec_file, cwd)
    target = resolve_prefix(prefix, ref.directory)
    current = live_record(target)
    # the installer the environment was made with, when the spec's lock is of its family
    same_family = (current.backend in CONDA_FAMILY) == (ref.spec.installer == "conda")
    builder = choose_backend(current.backend if same_family else None, ref.spec, ctx.which)
    registry = registry_path()
    steps = Steps(ctx.runner, progress, verbose)
    with staging.terminate_as_interrupt(), staging.exclusive(target):
        notes = generations.recover(target) + _remove_leftovers(target)
        current = live_record(target)  # what is live now that the lock is held
        generations.check_manageable(target)  # before a build, not after it
        _check_writable(ref.directory, builder.lock_files)
        # a scratch directory the next run removes when this one was killed (untrusted.scratch)
        with scratch_dir("upgrade") as lock_dir:
            with steps.timed("lock"):
                locked = run_lock(ctx, spec_file, cwd, progress, verbose, out_dir=lock_dir)
            _check_runs_here(ctx, ref, locked.stack)
            plan = builder.plan(SpecRef(ref.spec, ref.spec_hash, ref.directory, lock_dir))
            change = change_of(current, plan, str(target))
            project_lock = ref.directory / builder.lock_file

            def report(state: str, live: int | None, previous: int | None) -> UpgradeReport:
                return UpgradeReport(
                    UPGRADE_SCHEMA,
                    str(target),
                    state,
                    change,
                    live,
                    previous,
                    builder.name,
                    str(project_lock),
                    notes=tuple(notes),
                )

            live = generations.live_number(target)
            if change.same and current.lock_sha256 == plan.lock.sha256:
                state = "up-to-date"
                # a run killed after its switch left the project's lock (and the registry)
                # behind the environment: bring them level now
                written = _write_locks(ref, lock_dir, builder.lock_files)
                if written:
                    notes.append("brought " + ", ".join(written) + " up to date")
                    notes += register_environment(
                        registry, target, ref.spec.path, plan.lock.sha256, builder.name
                    )
            elif dry_run:
                state = "dry-run"
            elif not confirm(change):
                state = "cancelled"
            else:
                state = ""
            if state:
                return report(state, live, None)
            inputs = _inputs(ref, lock_dir, builder.lock_files)
            number, verified = _build_generation(
                ctx, builder, plan, ref, target, steps, check, str(project_lock)
            )
            generations.save_inputs(target, number, inputs)
            if live is None:
                live = generations.make_first(target)
                first = _old_inputs(ref, current, builder.lock_files)
                generations.save_inputs(target, live, first)
                notes.append(f"the environment as it was is now generation {live}")
            with steps.timed("switch"):
                generations.switch(target, number)
            _write_locks(ref, lock_dir, builder.lock_files)
        notes += register_environment(
            registry, target, ref.spec.path, plan.lock.sha256, builder.name
        )
        # the generation just replaced is the rollback target the report names: it stays
        pruned = generations.prune(target, keep, protect=(live,))
        if pruned:
            notes.append("pruned generation(s) " + ", ".join(map(str, pruned)))
    return dataclasses.replace(
        report("upgraded", number, live), verify=verified, steps=tuple(steps.done)
    )


def _build_generation(
    ctx: ProbeContext,
    builder: Backend,
    plan: BuildPlan,
    ref: SpecRef,
    target: Path,
    steps: Steps,
    check: bool,
    project_lock: str,
) -> tuple[int, str]:
    """Build, verify and rename the next generation into the store; (its number, verify)."""
    number = generations.next_number(target)
    final = generations.checked_store(target, create=True) / str(number)
    with staging.build_dir(final) as build:
        build_into(
            ctx,
            builder,
            plan,
            ref,
            build,
            target,  # what the environment will be reached as: the prefix, never the store
            steps,
            check=check,
            generation=number,
            recorded_lock=project_lock,
        )
        with steps.timed("move"):
            staging.promote(build, final, replace=False)
    verified = "passed" if check else "skipped"
    generations.note_verify(target, number, verified)
    return number, verified


def _check_runs_here(ctx: ProbeContext, ref: SpecRef, stack: object) -> None:
    """Exit 3 with the plan's reasons when the locked build cannot run on this machine."""
    from torchenv.commands.lock import NoStackError  # noqa: PLC0415
    from torchenv.commands.plan import parse_options, run_plan  # noqa: PLC0415
    from torchenv.models.plan import Stack  # noqa: PLC0415

    if not isinstance(stack, Stack):  # pragma: no cover - a lock always has its stack
        return
    label = "" if stack.variant in ("", None) else f"+{stack.variant}"
    options = parse_options(
        torch=f"{stack.torch}{label}",
        python=stack.python,
        installer=ref.spec.installer,
        pytorch_index=ref.spec.index.pytorch is not None,  # a PyPI lock: PyPI's build is checked
    )
    here = run_plan(ctx, options)
    if here.stack is None:
        raise NoStackError(
            here,
            Msg(
                "The upgraded stack (torch {build}, Python {python}) "
                "would not run on this machine; the environment was left as it is.",
                build=stack.build,
                python=stack.python,
            ),
            Msg("`torchenv plan` shows what does run here; change the spec's torch or cuda."),
        )


def _check_writable(directory: Path, names: tuple[str, ...]) -> None:
    """The project's lock files can be replaced (regular files or absent): found out before
    a build, not after the switch."""
    for name in names:
        try:
            files.existing_regular(directory / name)
        except OSError as exc:
            raise UsageError(
                "lock-not-replaceable",
                Msg(
                    "Cannot replace {path}: {error}.",
                    path=directory / name,
                    error=files.describe(exc),
                ),
                Msg("Remove what is in its place; upgrade writes the new lock there."),
            ) from None


def _write_locks(ref: SpecRef, lock_dir: Path, names: tuple[str, ...]) -> list[str]:
    """Put the new lock files beside the spec where they differ; returns those written."""
    written = []
    for name in names:
        data = files.read_bytes(lock_dir / name, LIMIT)
        path = ref.directory / name
        try:
            same = files.read_bytes(path, LIMIT) == data
        except OSError:
            same = False
        if not same:
            files.write_output(path, data, what=Msg("the lock"))
            written.append(str(path))
    return written


def _inputs(ref: SpecRef, lock_dir: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The files a generation is built from: the new lock files and the spec."""
    out = {name: files.read_bytes(lock_dir / name, LIMIT) for name in names}
    if ref.spec.path:
        spec = files.read_bytes(ref.spec.path, LIMIT)
        # a spec with an index password is not copied: credentials stay in the user's file
        if not holds_credentials(spec.decode("utf-8", errors="replace")):
            out[Path(ref.spec.path).name] = spec
    return out


def _old_inputs(ref: SpecRef, record: EnvRecord, names: tuple[str, ...]) -> dict[str, bytes]:
    """What generation 1 was built from, where it can be proven: the spec text its record
    keeps when the record names this very spec and the text has the recorded hash (the record
    lies in the environment, which may be anyone's), and its lock files when the project still
    holds the one whose sha256 the record names."""
    from torchenv.backends.conda import content_hash  # noqa: PLC0415

    out: dict[str, bytes] = {}
    text, path = record.spec_text, ref.spec.path
    if (
        text is not None
        and path
        and record.spec_path == path
        and _spec_text_hash(text, path) == record.spec_hash
    ):
        out[Path(path).name] = text.encode("utf-8")
    try:
        found = {name: files.read_bytes(ref.directory / name, LIMIT) for name in names}
    except OSError:
        return out
    if content_hash(found[names[0]]) == record.lock_sha256:
        out.update(found)
    return out


def _spec_text_hash(text: str, path: str) -> str | None:
    from torchenv.errors import TorchenvError  # noqa: PLC0415
    from torchenv.spec import parse_spec_text, spec_hash  # noqa: PLC0415

    try:
        return spec_hash(parse_spec_text(text, Path(path)))
    except TorchenvError:
        return None


def _remove_leftovers(target: Path) -> list[str]:
    """Build and deletion directories in the store left by killed runs (lock held)."""
    home = generations.store(target)
    removed = []
    for mark in (staging.BUILD_MARK, staging.OLD_MARK):
        for path in sorted(home.glob(f".*{mark}*")) if home.is_dir() else []:
            staging.remove_path(path)
            removed.append(f"removed {path.name}, left by an interrupted run")
    return removed


__all__ = ["default_prefix", "live_record", "project_directory", "run_upgrade"]
