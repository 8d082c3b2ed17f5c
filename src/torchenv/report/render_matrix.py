"""``torchenv matrix`` as an aligned table of styled segments (see render_text: the CLI prints
them with rich on a terminal and as plain text when piped), and ``matrix --check``: what was
read, what could not be, and one line per difference with both values and the source read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from torchenv.models.archs import parse_arch
from torchenv.models.matrix import (
    ABSENT,
    MISSING,
    DataDifference,
    MatrixCheckReport,
    MatrixReport,
    MatrixRow,
)

Segment = tuple[str, str | None]
Emit = Callable[[list[Segment]], None]  # prints one line

HEADERS = (
    "torch",
    "released",
    "Python",
    "PyPI",
    "CUDA",
    "GPU code",
    "driver>=",
    "torchvision",
    "torchaudio",
    "download.pytorch.org variants",
)
GAP = "  "


def compact_archs(archs: tuple[str, ...]) -> str:
    """("sm_75", "sm_80", ..., "sm_120", "compute_120") -> "sm_75-sm_120+PTX"; "-" when empty."""
    codes = [c for c in (parse_arch(a) for a in archs) if c is not None]
    cubins = sorted((c for c in codes if c.kind == "sm"), key=lambda c: c.cc)
    ptx = "+PTX" if any(c.kind == "compute" for c in codes) else ""
    if not cubins:
        return "PTX only" if ptx else "-"
    first, last = cubins[0].label, cubins[-1].label
    return (first if first == last else f"{first}-{last}") + ptx


def compact_python(versions: tuple[str, ...]) -> str:
    """("3.10", ..., "3.14", "3.13t", "3.14t") -> "3.10-3.14 +3.13t,3.14t"."""

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.rstrip("t").split(".") if p.isdigit())

    plain = sorted((v for v in versions if not v.endswith("t")), key=key)
    threaded = sorted((v for v in versions if v.endswith("t")), key=key)
    text = "-"
    if plain:
        text = plain[0] if len(plain) == 1 else f"{plain[0]}-{plain[-1]}"
    return text + (f" +{','.join(threaded)}" if threaded else "")


def _cells(row: MatrixRow) -> tuple[str, ...]:
    variants = " ".join(row.index_variants) or "-"
    return (
        row.torch + (" (yanked)" if row.yanked else ""),
        row.released or "?",
        compact_python(row.python),
        row.pypi_variant or "-",
        row.cuda or "-",
        compact_archs(row.archs),
        row.driver_floor or "-",
        row.torchvision or "-",
        row.torchaudio or "-",
        variants + ("" if row.index_verified else " *"),
    )


def _line(
    cells: tuple[str, ...], widths: list[int], styles: tuple[str | None, ...]
) -> list[Segment]:
    segments: list[Segment] = []
    for i, (cell, width, style) in enumerate(zip(cells, widths, styles, strict=True)):
        last = i == len(cells) - 1
        segments.append((cell if last else cell.ljust(width), style))
        if not last:
            segments.append((GAP, None))
    return segments


def render_matrix(emit: Emit, report: MatrixReport) -> None:
    if not report.rows:
        emit([(f"No torch release in the knowledge base matches {report.torch_spec!r}.", None)])
    else:
        table = [HEADERS, *(_cells(row) for row in report.rows)]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(HEADERS))]
        emit(_line(HEADERS, widths, ("bold",) * len(HEADERS)))
        for row, cells in zip(report.rows, table[1:], strict=True):
            dim = "dim" if row.yanked else None
            styles = ("bold", dim, dim, "cyan", dim, dim, dim, dim, dim, dim)
            emit(_line(cells, widths, styles))
        emit([])
        emit(
            [
                (
                    "Linux x86_64: Python versions with a wheel on PyPI, the build `pip install "
                    "torch` gets, its GPU code and the oldest driver its CUDA major runs on "
                    "(minor-version compatibility).",
                    "dim",
                )
            ]
        )
        if any(not row.index_verified for row in report.rows):
            emit([("* variant list inferred, not read from the index", "dim")])
        for row in report.rows:
            for note in row.notes:
                emit([(f"{row.torch}: ", "bold"), (note, None)])
    ids = " ".join(source.id for source in report.sources)
    emit([("Data: ", "bold"), (report.origin, None)])
    if ids:
        emit([("Sources: ", "bold"), (ids, None), (" (torchenv matrix --json lists them)", "dim")])


# --- matrix --check -------------------------------------------------------------------------
def show_value(value: Any) -> str:
    """A value as the data file spells it, strings bare; "none" where a side has none."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def list_change(packaged: Any, fresh: Any) -> str:
    """ "+3.15, -3.10" for two lists of strings (Python versions, variants, arch codes): long
    lists that differ in one entry are hard to compare by eye."""
    if not (isinstance(packaged, list) and isinstance(fresh, list)):
        return ""
    added = [str(v) for v in fresh if v not in packaged]
    removed = [str(v) for v in packaged if v not in fresh]
    parts = [f"+{v}" for v in added] + [f"-{v}" for v in removed]
    return ", ".join(parts) if parts else "same entries, another order"


def _difference(difference: DataDifference) -> list[Segment]:
    where = difference.where + (f" {difference.field}" if difference.field else "")
    head: list[Segment] = [("  ", None), (where, "bold"), (": ", None)]
    source = f" ({difference.source})"
    if difference.change == MISSING and not difference.field:
        return [*head, ("missing from the packaged data", "yellow"), (source, "dim")]
    if difference.change == ABSENT:
        what = "in the packaged data, not on the index (deleted, or not this index)"
        return [*head, (what, "red"), (source, "dim")]
    segments = [
        *head,
        ("packaged ", "dim"),
        (show_value(difference.packaged), "red"),
        (", now ", "dim"),
        (show_value(difference.fresh), "green"),
    ]
    change = list_change(difference.packaged, difference.fresh)
    if change:
        segments.append((f" [{change}]", None))
    return [*segments, (source, "dim")]


def render_matrix_check(emit: Emit, report: MatrixCheckReport) -> None:
    emit([("Knowledge check: ", "bold"), (f"{report.packaged}, against {report.pypi_index}", None)])
    if report.read:
        emit([("  read in full: ", "dim"), (", ".join(f"torch {v}" for v in report.read), None)])
    for source in report.sources:
        if not source.checked:
            emit([(f"  not checked: {source.id}: ", "yellow"), (source.why or "", None)])
    if report.differences:
        emit([])
    for difference in report.differences:
        emit(_difference(difference))
    emit([])
    count = len(report.differences)
    summary = "no difference" if not count else f"{count} difference{'' if count == 1 else 's'}"
    if report.missing or report.absent:
        summary += f" (releases: {len(report.missing)} missing, {len(report.absent)} absent)"
    emit(
        [
            (summary, "bold" if count else "green"),
            (
                f"; {report.requests} requests, {report.bytes_read / 1e6:.1f} MB "
                f"in {report.seconds:.1f} s",
                "dim",
            ),
        ]
    )
