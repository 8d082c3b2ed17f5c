"""``torchenv rollback``: make an earlier generation live again in one rename, and put the
project's lock (and spec) back as they were for it, so that ``doctor`` finds the environment
and the project in agreement. The generation rolled away from stays, for a roll forward."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torchenv.backends import generations, staging
from torchenv.backends.conda import CONDA_LOCK_FILE, meta_path
from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.errors import UsageError
from torchenv.models.lifecycle import ROLLBACK_SCHEMA, RollbackReport
from torchenv.models.spec import LOCK_FILE, SPEC_FILE
from torchenv.untrusted import files

# the only files a rollback writes back, and only beside the spec the generation names
RESTORABLE = (LOCK_FILE, CONDA_LOCK_FILE, meta_path(Path(CONDA_LOCK_FILE)).name, SPEC_FILE)

Confirm = Callable[[int, int], bool]


def run_rollback(
    target: Path, *, to: int | None = None, confirm: Confirm = lambda _a, _b: True
) -> RollbackReport:
    live = generations.live_number(target)
    if live is None:
        raise UsageError(
            "no-earlier-generation",
            f"{target} has a single generation: there is nothing to roll back to.",
            "`torchenv upgrade` builds the next generation beside it.",
        )
    with staging.terminate_as_interrupt(), staging.exclusive(target):
        notes = generations.recover(target)
        live = generations.live_number(target) or live
        choice = _choose(target, live, to)
        if not confirm(live, choice):
            raise UsageError("rollback-cancelled", "Rollback cancelled; nothing changed.")
        generations.switch(target, choice)
        restored, more = _restore(target, choice)
        more += _register(target, choice)
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
                f"Generation {live} of {target} is the oldest there is.",
                "`torchenv history` lists the generations; --to N names one.",
            )
        return earlier[-1]
    if to not in present:
        raise UsageError(
            "generation-missing",
            f"{target} has no generation {to} (it has {', '.join(map(str, present))}).",
            "`torchenv history` lists the generations.",
        )
    if to == live:
        raise UsageError("generation-live", f"Generation {to} of {target} is already live.")
    return to


def _register(target: Path, number: int) -> list[str]:
    """The registry entry names the lock of the generation that is live now."""
    from torchenv.backends.registry import register  # noqa: PLC0415
    from torchenv.commands.create import registry_path  # noqa: PLC0415

    try:
        record = read_env_record(generations.generation_path(target, number))
    except RecordUnusable:
        return []
    if record is None:
        return []
    entry = {
        "spec": record.spec_path,
        "lock_sha256": record.lock_sha256,
        "backend": record.backend,
        "created": record.created,
    }
    return register(registry_path(), str(target), entry)


def _restore(target: Path, number: int) -> tuple[list[str], list[str]]:
    """Write back the saved lock and spec of generation ``number`` beside the spec its record
    names; returns (files restored, notes)."""
    try:
        record = read_env_record(generations.generation_path(target, number))
    except RecordUnusable:
        record = None
    if record is None or not record.spec_path:
        return [], ["the generation names no spec: the project's files were left as they are"]
    spec_file = Path(record.spec_path)
    if not spec_file.is_absolute() or not spec_file.is_file() or spec_file.is_symlink():
        # the record may be anyone's: files are written back only into a project that is
        # there, beside the spec file it names, never into a directory it merely mentions
        return [], [f"{spec_file} is not there: the project's files were left as they are"]
    project = spec_file.parent
    saved = generations.saved_inputs(target, number)
    restored, notes = [], []
    for name, data in saved.items():
        if name not in RESTORABLE:
            continue
        path = project / name
        try:
            same = files.read_bytes(path, 64 << 20) == data
        except OSError:
            same = False
        if not same:
            files.write_output(path, data, what=f"the {name} of generation {number}")
            restored.append(str(path))
    spec_name = Path(record.spec_path).name
    if spec_name in saved and spec_name not in RESTORABLE:
        notes.append(f"{spec_name} holds more than the spec, so it was not put back")
    elif spec_name not in saved:
        notes.append(
            f"{spec_name} was not saved with generation {number}: if it asks for another "
            "stack now, `doctor` says the lock is stale; restore the spec or upgrade again"
        )
    if not any(n in saved for n in (LOCK_FILE, CONDA_LOCK_FILE)):
        notes.append(f"no lock was saved with generation {number}: the project's was kept")
    return restored, notes
