"""Human output of ``torchenv list``: a table with one line per environment, its health in
colour, then what each unhealthy one's health rests on.

Every value comes from the registry or from files inside environments, which anyone may have
written: each is passed through ``printable`` here (and the CLI's printer shows each segment
through ``for_terminal`` too).
"""

from __future__ import annotations

from torchenv.models.lifecycle import EnvironmentRow, ListReport
from torchenv.report.segments import Emit, Segment
from torchenv.untrusted.text import printable

HEADERS = ("PREFIX", "GEN", "TORCH", "VARIANT", "PYTHON", "INSTALLER", "HEALTH", "SPEC")
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
    def shown(value: str | None) -> str:
        return "-" if value is None else printable(value)

    return [
        printable(row.prefix),
        "-" if row.generation is None else str(row.generation),
        shown(row.torch),
        shown(row.variant),
        shown(row.python),
        shown(row.backend),
        ", ".join(printable(word) for word in row.health),
        shown(row.spec),
    ]


def _widths(table: list[list[str]]) -> list[int]:
    return [min(max(len(line[i]) for line in table), WIDEST) for i in range(len(HEADERS))]


def _health(row: EnvironmentRow, width: int) -> list[Segment]:
    out: list[Segment] = []
    for index, word in enumerate(row.health):
        if index:
            out.append((", ", None))
        out.append((printable(word), HEALTH_STYLE.get(word, "yellow")))
    shown = sum(len(text) for text, _ in out)
    out.append((" " * max(width - shown, 0), None))
    return out


def _line(cells: list[str], widths: list[int], health: list[Segment] | None) -> list[Segment]:
    """One table line; the last column is not padded (nothing follows it)."""
    segments: list[Segment] = []
    last = len(cells) - 1
    for index, cell in enumerate(cells):
        if index == HEADERS.index("HEALTH") and health is not None:
            segments += health
        else:
            segments.append((cell if index == last else cell.ljust(widths[index]), None))
        if index != last:
            segments.append((GAP, None))
    return segments


def render_list(emit: Emit, report: ListReport) -> None:
    if not report.environments:
        emit([("No environments yet: ", "bold"), (_empty(report), None)])
    else:
        rows = [_cells(row) for row in report.environments]
        widths = _widths([list(HEADERS), *rows])
        header = _line(list(HEADERS), widths, None)
        emit([(text, "bold") for text, _ in header])
        health_column = HEADERS.index("HEALTH")
        for row, cells in zip(report.environments, rows, strict=True):
            emit(_line(cells, widths, _health(row, widths[health_column])))
        _details(emit, report.environments)
        emit([])
        emit([(_summary(report.environments), "dim")])
    for note in report.notes:
        emit([(f"note: {printable(note)}", "dim")])


def _empty(report: ListReport) -> str:
    return f"`torchenv create` adds each environment it makes to {printable(report.registry)}."


def _details(emit: Emit, rows: tuple[EnvironmentRow, ...]) -> None:
    """What each unhealthy environment's health rests on, below the table (the table keeps
    one line per environment)."""
    for row in rows:
        if not row.detail:
            continue
        emit([])
        words = ", ".join(printable(word) for word in row.health)
        emit([(printable(row.prefix), "bold"), (f" ({words}):", None)])
        for line in row.detail:
            emit([(f"  - {printable(line)}", None)])


def _summary(rows: tuple[EnvironmentRow, ...]) -> str:
    healthy = sum(1 for row in rows if row.health == ("ok",))
    count = f"{len(rows)} environment{'s' if len(rows) != 1 else ''}"
    if healthy == len(rows):
        return f"{count}, all ok"
    return f"{count}: {healthy} ok, {len(rows) - healthy} with problems"
