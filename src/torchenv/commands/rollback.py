"""``torchenv rollback``: make an earlier generation live again in one rename, and put the
project's lock (and spec) back as they were for it, so that ``doctor`` finds the environment
and the project in agreement. The generation rolled away from stays, for a roll forward.

The project's files are restored first and the switch comes last: a rollback killed between
the two is simply run again (the same generation is still the previous one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torchenv.backends import generations, staging
from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.envrecord import EnvRecord
from torchenv.models.lifecycle import ROLLBACK_SCHEMA, RollbackReport
from torchenv.untrusted import files

NEVER_RESTORED = "pyproject.toml"  # holds more than the spec: never written back whole

Confirm = Callable[[int, int], bool]


def run_rollback(
    target: Path,
    project: Path | None,
    *,
    to: int | None = None,
    confirm: Confirm = lambda _a, _b: True,
) -> RollbackReport:
    """``project``: the directory of the spec torchenv was run for (from the command line or
    the working directory), the only place files are written back to; None writes none."""
    from torchenv.commands.create import register_environment, registry_path  # noqa: PLC0415

    registry = registry_path()
    with staging.terminate_as_interrupt(), staging.exclusive(target):
        notes = generations.recover(target)
        live = generations.live_number(target)
        if live is None:
            raise UsageError(
                "no-earlier-generation",
                Msg(
                    "{prefix} has a single generation: there is nothing to roll back to.",
                    prefix=target,
                ),
                Msg("`torchenv upgrade` builds the next generation beside it."),
            )
        choice = _choose(target, live, to)
        if not confirm(live, choice):
            raise UsageError("rollback-cancelled", Msg("Rollback cancelled; nothing changed."))
        record = _record(target, choice)
        restored, more = _restore(target, choice, record, project)
        generations.switch(target, choice)
        if record is not None:
            more += register_environment(
                registry,
                target,
                record.spec_path,
                record.lock_sha256,
                record.backend,
                record.created,
            )
    return RollbackReport(
        ROLLBACK_SCHEMA, str(target), choice, live, tuple(restored), tuple(notes + more)
    )


def _choose(target: Path, live: int, to: int | None) -> int:
    present = generations.numbers(target)
    if to is None:
        earlier = [n for n in present if n < live]
        if not earlier:
            raise UsageError(
                "no-earlier-generation",
                Msg(
                    "Generation {number} of {prefix} is the oldest there is.",
                    number=live,
                    prefix=target,
                ),
                Msg("`torchenv history` lists the generations; --to N names one."),
            )
        return earlier[-1]
    if to not in present:
        raise UsageError(
            "generation-missing",
            Msg(
                "{prefix} has no generation {number} (it has {present}).",
                prefix=target,
                number=to,
                present=", ".join(map(str, present)),
            ),
            Msg("`torchenv history` lists the generations."),
        )
    if to == live:
        raise UsageError(
            "generation-live",
            Msg("Generation {number} of {prefix} is already live.", number=to, prefix=target),
        )

    return to


def _record(target: Path, number: int) -> EnvRecord | None:
    try:
        return read_env_record(generations.generation_path(target, number))
    except RecordUnusable:
        return None


def _restore(
    target: Path, number: int, record: EnvRecord | None, project: Path | None
) -> tuple[list[str], list[str]]:
    """Write back the saved lock and spec of generation ``number``; returns (files restored,
    notes). The record lies in the environment, which may be anyone's: it decides nothing
    about where files go. They go into ``project`` only, and only when the generation was
    built from a spec there."""
    left = "the project's files were left as they are"
    if record is None or not record.spec_path:
        return [], [f"generation {number} names no spec: {left}"]
    spec = Path(record.spec_path)
    if project is None or spec.parent.resolve() != project.resolve():
        where = project or "no project here"
        return [], [f"generation {number} was built from {spec}, not a spec in {where}: {left}"]
    saved = generations.saved_inputs(target, number)
    allowed = {*_lock_names(), spec.name} - {NEVER_RESTORED}
    restored, notes = [], []
    for name, data in saved.items():
        if name not in allowed:
            continue
        path = project / name
        try:
            same = files.read_bytes(path, 64 << 20) == data
        except OSError:
            same = False
        if not same:
            files.write_output(
                path, data, what=Msg("the {name} of generation {number}", name=name, number=number)
            )
            restored.append(str(path))
    if spec.name == NEVER_RESTORED:
        notes.append(f"{spec.name} holds more than the spec, so it was not put back")
    elif spec.name not in saved:
        notes.append(
            f"{spec.name} was not saved with generation {number} (it held a credential, or "
            "the record could not prove its text): if it asks for another stack now, `doctor` "
            "says the lock is stale; restore the spec or upgrade again"
        )
    if not any(n in saved for n in _lock_names()):
        notes.append(f"no lock was saved with generation {number}: the project's was kept")
    return restored, notes


def _lock_names() -> set[str]:
    """Every lock file name of every backend (a rollback may cross none: same spec family)."""
    from torchenv.backends.choice import lock_file_names  # noqa: PLC0415

    return set(lock_file_names())
