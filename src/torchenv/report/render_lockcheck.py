"""Human output of ``torchenv lock --check``: fresh in one line, or each reason it is stale,
then the command that makes it fresh again.

The locked values come from the lock, which anyone may have written: each passes through
``printable`` (the lock reader already refused what is out of form)."""

from __future__ import annotations

from torchenv.i18n import _, shown
from torchenv.models.build import LockCheckReport
from torchenv.report.segments import Emit
from torchenv.untrusted.text import printable


def render_lock_check(emit: Emit, report: LockCheckReport) -> None:
    lock, build = printable(report.lock), printable(report.stack)
    if report.fresh:
        what = _(": {build}, for {spec}").format(build=build, spec=report.spec)
        emit([(lock, "bold"), (_(" is fresh"), "green"), (what, None)])
        for note in report.notes:
            emit([("  " + _("note: "), "dim"), (shown(note), None)])
        return
    what = f" ({build})" if build else ""
    emit([(lock, "bold"), (_(" is stale"), "bold yellow"), (what, None)])
    for change in report.changes:
        if change.field in ("lock", "knowledge"):
            emit([(f"  {change.field}: ", "yellow"), (printable(shown(change.now)), None)])
            continue
        was = printable(change.locked) or _("(unset)")
        now = printable(change.now) or _("(unset)")
        emit([(f"  {change.field}: ", "yellow"), (f"{was} -> {now}", None)])
    for note in report.notes:
        emit([("  " + _("note: "), "dim"), (shown(note), None)])
    emit([(_("fix: "), "dim"), ("torchenv lock", "bold"), (_(" (then commit the lock)"), None)])
