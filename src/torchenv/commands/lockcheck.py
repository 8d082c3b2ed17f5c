"""``torchenv lock --check``: is the spec's lock fresh? The CI gate that ``uv lock --check`` and
``pixi install --locked`` are for their users (issue 14).

Fresh means three things:
- the lock is there, readable, and sealed (no edit since ``torchenv lock``: its lock-hash, and
  for a conda lock the sha256 its sidecar records);
- the spec hashes to the spec-hash the lock records; when it does not, the spec inputs the lock
  keeps (``[tool.torchenv] inputs``, written from 2026-12-07 on) name each field that changed;
- the knowledge in use still admits the locked build on the spec's targets: the plan, asked for
  exactly that release and CUDA, still finds it (a driver floor or an arch list corrected by
  ``db update`` can turn a lock stale without any edit).

Nothing is written. Exit 0 when fresh, 1 when stale; a lock that cannot be read is stale too
(with what is wrong), a spec that cannot be read is a usage error (2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends.lockfile import parse_lock
from torchenv.backends.lockload import read_lock_bytes
from torchenv.backends.lockrecord import LockRecord
from torchenv.errors import TorchenvError
from torchenv.i18n import Msg
from torchenv.models.build import LOCK_CHECK_SCHEMA, LockChange, LockCheckReport
from torchenv.models.spec import LOCK_FILE, Spec
from torchenv.untrusted.text import printable

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

_INPUT_KEY = re.compile(r"[a-z][a-z.-]{0,39}")
_INPUT_LIMIT = 1 << 16  # characters per recorded value: a spec field (a long package list)


def run_lock_check(ctx: ProbeContext | None, spec_file: str | None, cwd: Path) -> LockCheckReport:
    from torchenv.spec import load_spec, spec_directory, spec_hash, spec_inputs  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    home = spec_directory(spec, cwd)
    conda = spec.installer == "conda"
    if conda:
        from torchenv.backends.conda import CONDA_LOCK_FILE  # noqa: PLC0415

        path = home / CONDA_LOCK_FILE
    else:
        path = home / LOCK_FILE
    try:
        record, sealed = _read(path, spec, conda)
    except TorchenvError as exc:
        return _report(spec, path, "", [LockChange("lock", "", exc.message)])
    changes: list[LockChange] = []
    notes: list[str] = []
    if sealed is None:
        changes.append(LockChange("lock", "", "has no lock-hash (an older torchenv wrote it)"))
    elif not sealed:
        changes.append(LockChange("lock", "as `torchenv lock` wrote it", "edited since"))
    if record.spec_hash != spec_hash(spec):
        recorded = recorded_inputs(record.table.get("inputs"))
        named = [] if recorded is None else input_changes(recorded, spec_inputs(spec))
        changes += named
        if not named:  # the hash is what create compares: stale even when no field says why
            changes.append(LockChange("spec", record.spec_hash[:12], spec_hash(spec)[:12]))
            notes.append(
                "the lock keeps no readable spec inputs (an older torchenv wrote it): only the "
                "spec's hash says it changed"
                if recorded is None
                else "the spec's hash changed in what the recorded inputs do not show "
                "(credentials in an index URL, or a newer torchenv's hash)"
            )
    knowledge, known = _knowledge(ctx, spec, cwd, record)
    changes += knowledge
    notes += known
    return _report(spec, path, _build(record), changes, notes)


def _read(path: Path, spec: Spec, conda: bool) -> tuple[LockRecord, bool | None]:
    if conda:
        from torchenv.backends.conda import content_hash, meta_path, parse_meta  # noqa: PLC0415

        data = read_lock_bytes(path, spec, "conda lock")
        sidecar = meta_path(path)
        locked_sha, record, sealed = parse_meta(
            read_lock_bytes(sidecar, spec, "record of the conda lock"), str(sidecar)
        )
        return record, bool(sealed) and content_hash(data) == locked_sha
    lock = parse_lock(read_lock_bytes(path, spec), str(path))
    if lock.record is None:
        raise TorchenvError(
            "lock-not-torchenv",
            Msg("{path} has no [tool.torchenv] table: not written by torchenv", path=path),
        )
    return lock.record, lock.sealed


def recorded_inputs(value: object) -> dict[str, str] | None:
    """The ``inputs`` table of a lock (data from elsewhere): flat printable text or nothing."""
    if not isinstance(value, Mapping) or len(value) > 64:
        return None
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(key, str) or not _INPUT_KEY.fullmatch(key):
            return None
        if not isinstance(text, str) or len(text) > _INPUT_LIMIT:
            return None
        out[key] = printable(text)
    return out


def input_changes(locked: Mapping[str, str], now: Mapping[str, str]) -> list[LockChange]:
    """Each spec field whose value differs, in the spec's order (a key only one side has reads
    as empty on the other)."""
    keys = list(now) + [k for k in locked if k not in now]
    shown = {k: printable(v) for k, v in now.items()}  # compared as the recorded ones were kept
    return [
        LockChange(key, locked.get(key, ""), shown.get(key, ""))
        for key in keys
        if locked.get(key, "") != shown.get(key, "")
    ]


def _knowledge(
    ctx: ProbeContext | None, spec: Spec, cwd: Path, record: LockRecord
) -> tuple[list[LockChange], list[str]]:
    """The plan for exactly the locked release and CUDA, on the spec's targets (for a spec that
    names none: the platform the lock was made for, not the machine checking it, which may be a
    CI runner), with the knowledge in use now. A release this knowledge does not know is a
    note: `torchenv lock` could not make the lock fresher, `db update` can."""
    from torchenv.commands.plan import run_plan  # noqa: PLC0415
    from torchenv.knowledge.store import load_knowledge  # noqa: PLC0415
    from torchenv.plan.request import parse_options  # noqa: PLC0415
    from torchenv.spec import machine_paths  # noqa: PLC0415

    if not any(r["version"] == record.torch for r in load_knowledge().releases()):
        return [], [
            f"the knowledge in use does not know torch {record.torch}: its build was not "
            "checked (`torchenv db update`)"
        ]
    targets = spec.targets
    machines = [str(p) for p in machine_paths(spec, cwd)]
    platform = targets.platform
    if not (targets.gpus or machines or platform):
        if len(record.platforms) != 1:
            return [], ["the spec names no targets: the locked build was not re-planned"]
        platform = record.platforms[0]
    try:
        options = parse_options(
            torch=f"=={record.torch}",
            python=record.python,
            cuda=record.cuda or "cpu",
            gpus=targets.gpus,
            driver=targets.driver,
            machine_files=machines,
            installer=spec.installer,
            platform=platform,
            pytorch_index=record.channel != "pypi",
        )
        plan = run_plan(None if options.describes_targets else ctx, options)
    except TorchenvError as exc:
        change = LockChange("knowledge", _build(record), f"cannot be planned: {exc.message}")
        return [change], []
    if plan.stack is not None and plan.stack.variant == record.variant:
        return [], []
    reasons = [r for rejection in plan.rejected for r in rejection.reasons][:3]
    why = "; ".join(reasons) or "no build fits the targets"
    return [LockChange("knowledge", _build(record), f"no longer admitted: {why}")], []


def _build(record: LockRecord) -> str:
    if record.channel == "conda-forge":
        return f"conda-forge pytorch {record.torch} ({record.variant})"
    if record.channel == "pypi":
        return f"{record.torch} (PyPI build, {record.variant})"
    return f"{record.torch}+{record.variant}"


def _report(
    spec: Spec, path: Path, build: str, changes: list[LockChange], notes: list[str] | None = None
) -> LockCheckReport:
    return LockCheckReport(
        LOCK_CHECK_SCHEMA,
        spec.path or "",
        str(path),
        not changes,
        build,
        tuple(changes),
        tuple(notes or ()),
    )
