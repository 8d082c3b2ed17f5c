"""Human output of ``torchenv list``: a table with one line per environment, its health in
colour, then what each unhealthy one's health rests on.

Every value comes from the registry or from files inside environments, which anyone may have
written: each is passed through ``printable`` here (and the CLI's printer shows each segment
through ``for_terminal`` too).
"""

from __future__ import annotations

from torchenv.i18n import N_, _, ngettext, shown
from torchenv.models.lifecycle import EnvironmentRow, ListReport
from torchenv.report.segments import Emit, Segment, pad, width
from torchenv.untrusted.text import printable

HEADERS = ("PREFIX", "GEN", "TORCH", "VARIANT", "PYTHON", "INSTALLER", "HEALTH", "SPEC")
# the headers as the table shows them (the names of packages stay as they are)
SHOWN_HEADERS = (
    N_("PREFIX"),
    N_("GEN"),
    "TORCH",
    N_("VARIANT"),
    "PYTHON",
    N_("INSTALLER"),
    N_("HEALTH"),
    N_("SPEC"),
)
# a column is never padded wider than this: one long prefix must not push every other row's
# columns off the screen (its own line is longer instead)
WIDEST = 48
# gone or unable to start: the environment cannot be used; the rest: it runs, but is not
# (or cannot be shown to be) what its spec and lock say
HEALTH_STYLE = {
    "ok": "green",
    "gone": "bold red",
    "python-broken": "bold red",
    "record-unusable": "yellow",
    "lock-stale": "yellow",
    "drifted": "yellow",
}
GAP = "  "


def _cells(row: EnvironmentRow) -> list[str]:
    def cell(value: str | None) -> str:
        return "-" if value is None else printable(value)

    return [
        printable(row.prefix),
        "-" if row.generation is None else str(row.generation),
        cell(row.torch),
        cell(row.variant),
        cell(row.python),
        cell(row.backend),
        ", ".join(printable(word) for word in row.health),
        cell(row.spec),
    ]


def _widths(table: list[list[str]]) -> list[int]:
    return [min(max(width(line[i]) for line in table), WIDEST) for i in range(len(HEADERS))]


def _health(row: EnvironmentRow, columns: int) -> list[Segment]:
    out: list[Segment] = []
    for index, word in enumerate(row.health):
        if index:
            out.append((", ", None))
        out.append((printable(word), HEALTH_STYLE.get(word, "yellow")))
    used = sum(width(text) for text, _style in out)
    out.append((" " * max(columns - used, 0), None))
    return out


def _line(cells: list[str], widths: list[int], health: list[Segment] | None) -> list[Segment]:
    """One table line; the last column is not padded (nothing follows it)."""
    segments: list[Segment] = []
    last = len(cells) - 1
    for index, cell in enumerate(cells):
        if index == HEADERS.index("HEALTH") and health is not None:
            segments += health
        else:
            segments.append((cell if index == last else pad(cell, widths[index]), None))
        if index != last:
            segments.append((GAP, None))
    return segments


def render_list(emit: Emit, report: ListReport) -> None:
    if not report.environments:
        emit([(_("No environments yet: "), "bold"), (_empty(report), None)])
    else:
        rows = [_cells(row) for row in report.environments]
        headers = [_(header) for header in SHOWN_HEADERS]  # TORCH, PYTHON: in no catalog
        widths = _widths([headers, *rows])
        header = _line(headers, widths, None)
        emit([(text, "bold") for text, _style in header])
        health_column = HEADERS.index("HEALTH")
        for row, cells in zip(report.environments, rows, strict=True):
            emit(_line(cells, widths, _health(row, widths[health_column])))
        _details(emit, report.environments)
        emit([])
        emit([(_summary(report.environments), "dim")])
    for note in report.notes:
        emit([(_("note: {note}").format(note=printable(shown(note))), "dim")])


def _empty(report: ListReport) -> str:
    return _("`torchenv create` adds each environment it makes to {registry}.").format(
        registry=printable(report.registry)
    )


def _details(emit: Emit, rows: tuple[EnvironmentRow, ...]) -> None:
    """What each unhealthy environment's health rests on, below the table (the table keeps
    one line per environment)."""
    for row in rows:
        if not row.detail:
            continue
        emit([])
        words = ", ".join(printable(word) for word in row.health)
        emit([(printable(row.prefix), "bold"), (_(" ({health}):").format(health=words), None)])
        for line in row.detail:
            emit([(f"  - {printable(shown(line))}", None)])


def _summary(rows: tuple[EnvironmentRow, ...]) -> str:
    healthy = sum(1 for row in rows if row.health == ("ok",))
    count = ngettext("{count} environment", "{count} environments", len(rows)).format(
        count=len(rows)
    )
    if healthy == len(rows):
        return _("{environments}, all ok").format(environments=count)
    return _("{environments}: {healthy} ok, {problems} with problems").format(
        environments=count, healthy=healthy, problems=len(rows) - healthy
    )
