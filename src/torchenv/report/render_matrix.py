"""``torchenv matrix`` as an aligned table of styled segments (see render_text: the CLI prints
them with rich on a terminal and as plain text when piped), and ``matrix --check``: what was
read, what could not be, and one line per difference with both values and the source read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from torchenv.i18n import N_, _, ngettext, shown
from torchenv.models.archs import parse_arch
from torchenv.models.matrix import (
    ABSENT,
    MISSING,
    DataDifference,
    MatrixCheckReport,
    MatrixReport,
    MatrixRow,
)
from torchenv.report.segments import pad
from torchenv.report.segments import width as text_width

Segment = tuple[str, str | None]
Emit = Callable[[list[Segment]], None]  # prints one line

HEADERS = (
    "torch",
    N_("released"),
    "Python",
    "PyPI",
    "CUDA",
    N_("GPU code"),
    N_("driver>="),
    "torchvision",
    "torchaudio",
    N_("download.pytorch.org variants"),
)
GAP = "  "


def compact_archs(archs: tuple[str, ...]) -> str:
    """("sm_75", "sm_80", ..., "sm_120", "compute_120") -> "sm_75-sm_120+PTX"; "-" when empty."""
    codes = [c for c in (parse_arch(a) for a in archs) if c is not None]
    cubins = sorted((c for c in codes if c.kind == "sm"), key=lambda c: c.cc)
    ptx = "+PTX" if any(c.kind == "compute" for c in codes) else ""
    if not cubins:
        return _("PTX only") if ptx else "-"
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
        row.torch + (_(" (yanked)") if row.yanked else ""),
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
        segments.append((cell if last else pad(cell, width), style))
        if not last:
            segments.append((GAP, None))
    return segments


def render_matrix(emit: Emit, report: MatrixReport) -> None:
    if not report.rows:
        nothing = _("No torch release in the knowledge base matches {spec}.").format(
            spec=repr(report.torch_spec)
        )
        emit([(nothing, None)])
    else:
        headers = tuple(_(header) for header in HEADERS)  # the names of packages: in no catalog
        table = [headers, *(_cells(row) for row in report.rows)]
        widths = [max(text_width(cells[i]) for cells in table) for i in range(len(HEADERS))]
        emit(_line(headers, widths, ("bold",) * len(HEADERS)))
        for row, cells in zip(report.rows, table[1:], strict=True):
            dim = "dim" if row.yanked else None
            styles = ("bold", dim, dim, "cyan", dim, dim, dim, dim, dim, dim)
            emit(_line(cells, widths, styles))
        emit([])
        emit(
            [
                (
                    _(
                        "Linux x86_64: Python versions with a wheel on PyPI, the build `pip "
                        "install torch` gets, its GPU code and the oldest driver its CUDA major "
                        "runs on (minor-version compatibility)."
                    ),
                    "dim",
                )
            ]
        )
        if any(not row.index_verified for row in report.rows):
            emit([(_("* variant list inferred, not read from the index"), "dim")])
        for row in report.rows:
            for note in row.notes:
                emit([(f"{row.torch}: ", "bold"), (shown(note), None)])
    ids = " ".join(source.id for source in report.sources)
    emit([(_("Data: "), "bold"), (shown(report.origin), None)])
    if ids:
        listed = _(" (torchenv matrix --json lists them)")
        emit([(_("Sources: "), "bold"), (ids, None), (listed, "dim")])


# --- matrix --check -------------------------------------------------------------------------
def show_value(value: Any) -> str:
    """A value as the data file spells it, strings bare; "none" where a side has none."""
    if value is None:
        return _("none")
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
    return ", ".join(parts) if parts else _("same entries, another order")


def _difference(difference: DataDifference) -> list[Segment]:
    where = difference.where + (f" {difference.field}" if difference.field else "")
    head: list[Segment] = [("  ", None), (where, "bold"), (": ", None)]
    source = f" ({difference.source})"
    if difference.change == MISSING and not difference.field:
        return [*head, (_("missing from the packaged data"), "yellow"), (source, "dim")]
    if difference.change == ABSENT:
        what = _("in the packaged data, not on the index (deleted, or not this index)")
        return [*head, (what, "red"), (source, "dim")]
    segments = [
        *head,
        (_("packaged "), "dim"),
        (show_value(difference.packaged), "red"),
        (_(", now "), "dim"),
        (show_value(difference.fresh), "green"),
    ]
    change = list_change(difference.packaged, difference.fresh)
    if change:
        segments.append((f" [{change}]", None))
    return [*segments, (source, "dim")]


def render_matrix_check(emit: Emit, report: MatrixCheckReport) -> None:
    against = _("{packaged}, against {index}").format(
        packaged=report.packaged, index=report.pypi_index
    )
    emit([(_("Knowledge check: "), "bold"), (against, None)])
    if report.read:
        read = ", ".join(f"torch {v}" for v in report.read)
        emit([("  " + _("read in full: "), "dim"), (read, None)])
    for source in report.sources:
        if not source.checked:
            unchecked = _("not checked: {source}: ").format(source=source.id)
            emit([("  " + unchecked, "yellow"), (shown(source.why or ""), None)])
    if report.differences:
        emit([])
    for difference in report.differences:
        emit(_difference(difference))
    emit([])
    count = len(report.differences)
    if count:
        summary = ngettext("{count} difference", "{count} differences", count).format(count=count)
    else:
        summary = _("no difference")
    if report.missing or report.absent:
        summary += _(" (releases: {missing} missing, {absent} absent)").format(
            missing=len(report.missing), absent=len(report.absent)
        )
    cost = _("; {requests} requests, {megabytes} MB in {seconds} s").format(
        requests=report.requests,
        megabytes=f"{report.bytes_read / 1e6:.1f}",
        seconds=f"{report.seconds:.1f}",
    )
    emit([(summary, "bold" if count else "green"), (cost, "dim")])
