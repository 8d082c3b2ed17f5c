"""The line printer every text renderer writes to: (text, style) segments, never markup."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from torchenv.i18n import _

if TYPE_CHECKING:
    from torchenv.models.findings import Target

Segment = tuple[str, str | None]
Emit = Callable[[list[Segment]], None]  # prints one line


def width(text: str) -> int:
    """The columns ``text`` takes on a terminal: two for each wide character (Chinese labels),
    one for the others; ``len`` for ASCII."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` terminal columns (``str.ljust`` by width)."""
    return text + " " * max(columns - width(text), 0)


def emit_target(emit: Emit, target: Target) -> None:
    """The environment a command looked at and why that one; when torchenv chose it (nothing
    was named), how to name another."""
    chosen = _("{prefix} ({kind}, chosen by {selected_by})").format(
        prefix=target.prefix, kind=target.kind, selected_by=target.selected_by
    )
    emit([(_("Environment"), "bold"), (" " + chosen, None)])
    if not target.selected_by.startswith("--"):
        emit([("  " + _("--prefix DIR or --python PATH looks at another environment"), "dim")])
