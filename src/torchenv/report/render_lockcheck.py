"""Human output of ``torchenv lock --check``: fresh in one line, or each reason it is stale,
then the command that makes it fresh again.

The locked values come from the lock, which anyone may have written: each passes through
``printable`` (the lock reader already refused what is out of form)."""

from __future__ import annotations

from torchenv.models.build import LockCheckReport
from torchenv.report.segments import Emit
from torchenv.untrusted.text import printable


def render_lock_check(emit: Emit, report: LockCheckReport) -> None:
    lock, build = printable(report.lock), printable(report.stack)
    if report.fresh:
        emit([(lock, "bold"), (" is fresh", "green"), (f": {build}, for {report.spec}", None)])
        for note in report.notes:
            emit([("  note: ", "dim"), (note, None)])
        return
    what = f" ({build})" if build else ""
    emit([(lock, "bold"), (" is stale", "bold yellow"), (what, None)])
    for change in report.changes:
        if change.field in ("lock", "knowledge"):
            emit([(f"  {change.field}: ", "yellow"), (printable(change.now), None)])
            continue
        was = printable(change.locked) or "(unset)"
        now = printable(change.now) or "(unset)"
        emit([(f"  {change.field}: ", "yellow"), (f"{was} -> {now}", None)])
    for note in report.notes:
        emit([("  note: ", "dim"), (note, None)])
    emit([("fix: ", "dim"), ("torchenv lock", "bold"), (" (then commit the lock)", None)])
