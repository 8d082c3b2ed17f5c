"""Reading one key of the spec's TOML data at a time: each value is checked for its type, for
control characters (every value ends up in a command line, a lock or a generated file), and by
the parsers of plan.request; every problem is reported with its key, so the user sees them all.
"""

from __future__ import annotations

import difflib
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted.text import UNSAFE_IN_A_LINE, URL_UNSAFE

Report = Callable[[str, str], None]  # (key, message: a Msg, shown translated)


def value_kind(value: object) -> str:
    if isinstance(value, bool):
        return Msg("a boolean")
    if isinstance(value, str):
        return Msg("a string")
    if isinstance(value, int):
        return Msg("an integer")
    if isinstance(value, float):
        return Msg("a float")
    if isinstance(value, list):
        return Msg("an array")
    if isinstance(value, dict):
        return Msg("a table")
    return Msg("a date or time")


class Checker:
    """Reads one key at a time from the TOML data and reports what does not fit."""

    def __init__(self, report: Report, base_dir: Path) -> None:
        self._report = report
        self.base_dir = base_dir  # machines and find-links are relative to the spec file
        self.failures = 0

    def report(self, key: str, message: str) -> None:
        self.failures += 1
        self._report(key, message)

    def unknown_keys(self, table: dict[str, Any], known: Sequence[str], prefix: str) -> None:
        for key in table:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            expected = ", ".join(known)
            if close:
                self.report(
                    prefix + key,
                    Msg(
                        'unknown key; did you mean "{close}"? (expected one of: {expected})',
                        close=close[0],
                        expected=expected,
                    ),
                )
            else:
                self.report(
                    prefix + key,
                    Msg("unknown key (expected one of: {expected})", expected=expected),
                )

    def string(self, key: str, value: object, example: str) -> str | None:
        if isinstance(value, str):
            return value if self.plain(key, value) else None
        kind = value_kind(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # `python = 3.10` is the float 3.1 in TOML: ask for quotes instead of guessing
            self.report(
                key,
                Msg(
                    "expected a string such as {example}, got {kind} (put the version in quotes)",
                    example=example,
                    kind=kind,
                ),
            )
        else:
            self.report(
                key,
                Msg("expected a string such as {example}, got {kind}", example=example, kind=kind),
            )
        return None

    def strings(self, key: str, value: object, example: str) -> list[tuple[int, str]]:
        """The (index, text) of each string in the array; the other items are reported, and
        the strings are still returned so that their own problems are found in the same run."""
        if not isinstance(value, list):
            self.report(
                key,
                Msg(
                    "expected an array of strings such as {example}, got {kind}",
                    example=example,
                    kind=value_kind(value),
                ),
            )
            return []
        found = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                if self.plain(f"{key}[{i}]", item):
                    found.append((i, item))
            else:
                self.report(
                    f"{key}[{i}]", Msg("expected a string, got {kind}", kind=value_kind(item))
                )
        return found

    def plain(self, key: str, value: str) -> bool:
        """No control characters: every value of a spec ends up in a command line, a
        requirements file, a lock or a generated file, where a newline would start a line of
        its own (an ``--index-url`` of someone else's choosing)."""
        bad = UNSAFE_IN_A_LINE.search(value)
        if bad is None:
            return True
        self.report(
            key,
            Msg(
                "contains the control character {character} at position {position}: "
                "expected text on one line",
                character=repr(bad.group(0)),
                position=bad.start(),
            ),
        )
        return False

    def parsed(self, key: str, value: str, parse: Callable[[str], Any], expected: str) -> Any:
        """Runs a parser of plan.request (they raise UsageError) and reports its complaint in the
        words of the spec instead of the command line's. ``expected``: a ``Msg``."""
        try:
            return parse(value)
        except UsageError:
            self.report(key, invalid(value, expected))
            return None

    def url(self, key: str, value: str) -> bool:
        parts = urllib.parse.urlsplit(value)
        if URL_UNSAFE.search(value) is None and (
            (parts.scheme in ("http", "https") and parts.netloc)
            or (parts.scheme == "file" and parts.path)
        ):
            return True
        self.report(
            key,
            invalid(
                value,
                Msg(
                    "an http(s):// or file:// URL (spaces, quotes and backslashes percent-encoded)"
                ),
            ),
        )
        return False


def invalid(value: str, expected: str) -> str:
    """'"VALUE" is not valid: expected EXPECTED', with ``expected`` a ``Msg`` that is shown
    translated within it."""
    return Msg('"{value}" is not valid: expected {expected}', value=value, expected=expected)
