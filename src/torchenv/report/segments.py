"""The line printer every text renderer writes to: (text, style) segments, never markup."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchenv.models.findings import Target

Segment = tuple[str, str | None]
Emit = Callable[[list[Segment]], None]  # prints one line


def emit_target(emit: Emit, target: Target) -> None:
    """The environment a command looked at and why that one; when torchenv chose it (nothing
    was named), how to name another."""
    emit(
        [
            ("Environment", "bold"),
            (f" {target.prefix} ({target.kind}, chosen by {target.selected_by})", None),
        ]
    )
    if not target.selected_by.startswith("--"):
        emit([("  --prefix DIR or --python PATH looks at another environment", "dim")])
