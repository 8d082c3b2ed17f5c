"""The line printer every text renderer writes to: (text, style) segments, never markup."""

from __future__ import annotations

from collections.abc import Callable

Segment = tuple[str, str | None]
Emit = Callable[[list[Segment]], None]  # prints one line
