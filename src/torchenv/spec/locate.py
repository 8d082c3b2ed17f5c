"""Line numbers of keys in a TOML text, for validation messages.

tomllib returns plain data without positions, so the lines are found by scanning the text: table
headers, ``key = value`` lines (dotted keys included) and the elements of arrays, skipping strings
and comments. This is pragmatic, not a TOML parser: it is only asked about files that tomllib has
already accepted, and an answer of None ("not found") is always allowed.
"""

from __future__ import annotations

import re

_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_BARE_OR_QUOTED)
_ITEM = re.compile(r"^(.*?)\[(\d+)\]$")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


class KeyLocator:
    """Finds the line (1-based) where a dotted key such as ``targets.gpus[1]`` is written.

    ``prefix`` is the table the spec lives in: ``("tool", "torchenv")`` in pyproject.toml.
    """

    def __init__(self, text: str, prefix: tuple[str, ...] = ()) -> None:
        self._text = text
        self._prefix = prefix
        # full key path -> (line number, offset just past the "=" on that line)
        self._keys: dict[tuple[str, ...], tuple[int, int]] = {}
        self._scan()

    def line_of(self, key: str) -> int | None:
        """The line of ``key``; for ``key[i]`` the line of that array element when it can be
        found. A key that is not written on a line of its own (an inline table) is reported at
        the line of the closest enclosing key or table that is."""
        index = None
        match = _ITEM.match(key)
        if match:
            key, index = match.group(1), int(match.group(2))
        path = self._prefix + tuple(key.split(".")) if key else self._prefix
        while path:
            found = self._keys.get(path)
            if found is not None:
                line, offset = found
                if index is not None:
                    return self._element_line(line, offset, index) or line
                return line
            path = path[:-1]
            index = None
        return None

    def _scan(self) -> None:
        table: tuple[str, ...] = ()
        lines = self._text.splitlines()
        depth = 0  # open brackets of a value that continues on the next lines
        for number, line in enumerate(lines, start=1):
            if depth > 0:
                depth += _bracket_balance(line)
                continue
            header = _HEADER.match(line)
            if header:
                table = _parts(header.group(1))
                self._keys.setdefault(table, (number, len(line)))
                continue
            key = _KEY.match(line)
            if key:
                path = table + _parts(key.group(1))
                self._keys.setdefault(path, (number, key.end()))
                depth = max(0, _bracket_balance(line[key.end() :]))

    def _element_line(self, line: int, offset: int, index: int) -> int | None:
        """Walks the array value that starts on ``line`` after ``offset`` to its element."""
        lines = self._text.splitlines()
        depth = 0
        count = -1
        in_element = False
        for number in range(line, len(lines) + 1):
            text = lines[number - 1][offset:] if number == line else lines[number - 1]
            position = 0
            while position < len(text):
                char = text[position]
                if char == "#":
                    break
                if depth == 1 and not in_element and char not in " \t,]":
                    count += 1
                    in_element = True
                    if count == index:
                        return number
                if char in "\"'":
                    position = _string_end(text, position)
                    continue
                if char in "[{":
                    depth += 1
                elif char in "]}":
                    depth -= 1
                    if depth == 0:
                        return None
                elif char == "," and depth == 1:
                    in_element = False
                position += 1
        return None


def _string_end(text: str, start: int) -> int:
    """The position after the string that opens at ``start`` (or the end of the line)."""
    quote = text[start]
    position = start + 1
    while position < len(text):
        char = text[position]
        if quote == '"' and char == "\\":
            position += 2
            continue
        if char == quote:
            return position + 1
        position += 1
    return len(text)


def _bracket_balance(text: str) -> int:
    balance = 0
    position = 0
    while position < len(text):
        char = text[position]
        if char == "#":
            break
        if char in "\"'":
            position = _string_end(text, position)
            continue
        if char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
        position += 1
    return balance
