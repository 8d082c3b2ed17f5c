"""What upgrade, rollback and history share: the change between a live generation and a new
lock, the registry entry of a switched environment, and the table of generations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import generations
from torchenv.models.diff import CONDA_LOCK, PREFIX, PYLOCK, DiffInput, TorchSummary
from torchenv.models.lifecycle import HISTORY_SCHEMA, GenerationRow, HistoryReport
from torchenv.report.compare import diff_inputs

if TYPE_CHECKING:
    from torchenv.backends.base import BuildPlan
    from torchenv.models.diff import DiffReport
    from torchenv.models.envrecord import EnvRecord


def change_of(current: EnvRecord, plan: BuildPlan, prefix: str) -> DiffReport:
    """The live generation (A) against what the new lock installs here (B): Python
    distributions for a venv, conda packages for a conda prefix (whose Python distributions
    are known only once installed)."""
    record = plan.lock.record
    conda = isinstance(current.lock_extra.get("conda"), dict)
    if conda:
        was = {
            str(name): str(value).split(" ")[0]
            for name, value in current.lock_extra["conda"].items()
        }
        a = DiffInput(PREFIX, prefix, "live generation", conda=was, torch=_torch(current))
        b = DiffInput(CONDA_LOCK, plan.lock.path, "new lock", conda=plan.here)
    else:
        # the new lock as the new Python sees it (plan.here): a Python change shows
        was_python = current.plan.get("python")
        old = {
            **current.packages,
            **({"python": was_python} if isinstance(was_python, str) else {}),
        }
        new = {**plan.here, "python": plan.python}  # Python itself, so its change shows
        a = DiffInput(PREFIX, prefix, "live generation", python=old)
        b = DiffInput(PYLOCK, plan.lock.path, "new lock", python=new)
        a = _with_torch(a, _torch(current))
    new_torch = None
    if record is not None:
        version = b.python.get("torch") if b.python else None
        new_torch = TorchSummary(version or record.torch, record.variant, record.cuda)
    return diff_inputs(a, _with_torch(b, new_torch))


def _with_torch(side: DiffInput, torch: TorchSummary | None) -> DiffInput:
    return DiffInput(
        side.kind, side.path, side.detail, side.python, side.conda, torch, side.machine, side.notes
    )


def _torch(record: EnvRecord) -> TorchSummary | None:
    version = record.packages.get("torch") or record.plan.get("torch")
    if not isinstance(version, str):
        return None
    return TorchSummary(version, record.plan_variant, record.plan_cuda)


def history(prefix: Path, keep: int | None = None) -> HistoryReport:
    """The generations of ``prefix``; with ``keep``, all but the newest ``keep`` deleted first
    (the live one always stays). A plain environment is its own single generation."""
    from torchenv.backends import staging  # noqa: PLC0415
    from torchenv.backends.envrecord import RecordUnusable, read_env_record  # noqa: PLC0415
    from torchenv.errors import UsageError  # noqa: PLC0415
    from torchenv.i18n import Msg  # noqa: PLC0415

    if not (prefix.exists() or prefix.is_symlink()):
        raise UsageError(
            "prefix-missing",
            Msg("There is no environment at {prefix}.", prefix=prefix),
            Msg("Pass the environment's --prefix (`torchenv list` shows the ones torchenv made)."),
        )
    pruned: list[int] = []
    notes: list[str] = []
    if keep is not None:
        with staging.exclusive(prefix):
            pruned = generations.prune(prefix, keep)
    listed = generations.listing(prefix)
    rows = [_row(g.number, g.live, g.record, g.verify, g.switched, g.problem) for g in listed]
    if not generations.managed(prefix):
        try:
            record, problem = read_env_record(prefix), None
        except RecordUnusable as exc:
            record, problem = None, f"its record {exc}"
        rows = [_row(1, True, record, None, None, problem)]
        notes.append("one generation: upgrade keeps the next one beside it")
    return HistoryReport(HISTORY_SCHEMA, str(prefix), tuple(rows), tuple(pruned), tuple(notes))


def _row(
    number: int,
    live: bool,
    record: EnvRecord | None,
    verify: str | None,
    switched: str | None,
    problem: str | None,
) -> GenerationRow:
    if record is None:
        return GenerationRow(
            number, live, None, None, None, None, None, None, verify, switched, problem
        )
    python = record.plan.get("python")
    return GenerationRow(
        number,
        live,
        record.created,
        record.packages.get("torch") or str(record.plan.get("torch") or "") or None,
        record.plan_variant,
        python if isinstance(python, str) else None,
        record.backend,
        record.lock_sha256,
        verify,
        switched,
        problem,
    )
