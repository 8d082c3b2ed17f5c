"""Saving the ``[image]`` and ``[deploy]`` options given on a command line into the spec file, so
that the next run (and CI) writes the same files without them.

The file is the user's: it is edited in place with tomlkit, so comments, key order, blank lines
and the other tables stay as they were, and only the keys that change are touched. What is
written must be a valid spec of the same environment (the same ``spec_hash``) whose data differs
from the file's in those keys only; anything else leaves the file as it was. Only a regular file
is replaced, in one rename, with its permission bits kept.
"""

from __future__ import annotations

import codecs
import copy
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from torchenv.errors import UsageError
from torchenv.i18n import Msg, joined
from torchenv.spec.parse import PYPROJECT, SPEC_LIMIT, SpecError, parse_spec_text, spec_hash
from torchenv.spec.ship import DEPLOY_KEYS, IMAGE_KEYS
from torchenv.untrusted import files
from torchenv.untrusted.text import UNSAFE_IN_A_LINE, load_toml

if TYPE_CHECKING:
    from tomlkit.container import Container

Value = bool | int | str | list[str]

_CODE = "spec-not-saved"
_KEYS = {"image": IMAGE_KEYS, "deploy": DEPLOY_KEYS}
# a lone surrogate (from a command line in a non-UTF-8 locale) cannot be written as UTF-8
_SURROGATE = re.compile("[\ud800-\udfff]")


def remember_options(
    path: Path, table: Literal["image", "deploy"], values: Mapping[str, object]
) -> list[str]:
    """Set ``values`` (spec keys as written in TOML: "jupyter", "base", "gpus-per-node") in the
    spec's ``[table]`` (``[tool.torchenv.<table>]`` of a pyproject.toml), and return a note per
    key changed: 'saved [image] jupyter = true in torchenv.toml'. A key whose value the file
    already has is left alone; when none changes the file is not rewritten and the list is
    empty. A key the file lacks is written even when its value is the default: the user said
    it. ``ValueError`` for a key or a type the table does not have (a programming error);
    ``UsageError`` for everything a user can cause, with the file left as it was."""
    if table not in _KEYS:
        raise ValueError(f"no table [{table}] in a spec")
    wanted = _checked_values(table, values)
    pyproject = path.name == PYPROJECT
    where = f"[tool.torchenv.{table}]" if pyproject else f"[{table}]"
    by_hand = Msg(
        "add {settings} to its {table} table yourself", settings=_lines(wanted), table=where
    )
    raw, mode = _read(path, by_hand)
    bom = raw.startswith(codecs.BOM_UTF8)
    text = _decode(raw, path)
    before = _valid_before(text, path, pyproject, by_hand)
    data = load_toml(text)  # valid: parse_spec_text has just read it
    current = _table_of(data, pyproject).get(table, {})
    changed = {k: v for k, v in wanted.items() if not _same(current.get(k), v)}
    if not changed:
        return []
    edited = _edit(text, table, changed, pyproject, path, by_hand)
    _check_after(edited, path, pyproject, before, data, table, changed, where)
    try:
        files.write_atomic(path, (codecs.BOM_UTF8 if bom else b"") + edited.encode(), mode)
    except OSError as exc:
        raise UsageError(
            _CODE,
            Msg(
                "The options were not saved: cannot write {path}: {reason}; it was left as it was.",
                path=path,
                reason=files.describe(exc),
            ),
            Msg(
                "Make it writable (and its directory: it is replaced by a new file), or {by_hand}.",
                by_hand=by_hand,
            ),
        ) from None
    return [
        Msg(
            "saved {table} {key} = {value} in {file}",
            table=where,
            key=key,
            value=_render(value),
            file=path.name,
        )
        for key, value in changed.items()
    ]


def _checked_values(table: str, values: Mapping[str, object]) -> dict[str, Value]:
    """``values`` with tuples made lists; what a caller cannot pass is a ``ValueError``, a
    string a user gave that cannot be written on one line a ``UsageError``."""
    out: dict[str, Value] = {}
    for key, value in values.items():
        if key not in _KEYS[table]:
            raise ValueError(f"no key {key!r} in [{table}] (expected one of {_KEYS[table]})")
        if isinstance(value, str):
            _plain(table, key, value)
            out[key] = value
        elif isinstance(value, (bool, int)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            items = [str(v) for v in value]
            for item in items:
                _plain(table, key, item)
            out[key] = items
        else:
            raise ValueError(f"[{table}] {key}: cannot save a {type(value).__name__}")
    return out


def _plain(table: str, key: str, text: str) -> None:
    # refused here, before the notes and hints show the value: the spec's checker would refuse
    # a control character too, but only after the value had reached a message
    bad = UNSAFE_IN_A_LINE.search(text) or _SURROGATE.search(text)
    if bad is not None:
        raise UsageError(
            _CODE,
            Msg(
                "[{table}] {key} was not saved: the value has the control character "
                "{character} at position {position}.",
                table=table,
                key=key,
                character=repr(bad.group(0)),
                position=bad.start(),
            ),
            Msg("Give the value as text on one line."),
        )


def _read(path: Path, by_hand: str) -> tuple[bytes, int]:
    """The bytes and permission bits of the regular file ``path``; a link is refused too, since
    the rename that saves the file would replace the link instead of what it points to."""
    try:
        if not files.existing_regular(path):
            raise UsageError(
                _CODE,
                Msg("The options were not saved: there is no spec at {path}.", path=path),
                Msg("Run `torchenv init` to write one, or give the path of the spec."),
            )
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        return files.read_bytes(path, SPEC_LIMIT), mode
    except files.NotRegularFile as exc:
        raise UsageError(
            _CODE,
            Msg(
                "The options were not saved to {path}: {reason}, so it was left as it is.",
                path=path,
                reason=exc.strerror,
            ),
            Msg("Give the path of the spec file itself, or {by_hand}.", by_hand=by_hand),
        ) from None
    except OSError as exc:
        raise UsageError(
            _CODE,
            Msg(
                "The options were not saved: cannot read the spec {path}: {reason}.",
                path=path,
                reason=files.describe(exc),
            ),
            Msg("Make it readable, or {by_hand}.", by_hand=by_hand),
        ) from None


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(
            _CODE,
            Msg(
                "The options were not saved: the spec {path} is not UTF-8 text (line {line}, "
                "byte {byte}).",
                path=path,
                line=line,
                byte=exc.start,
            ),
            Msg("TOML files are UTF-8: save it again in that encoding."),
        ) from None


def _valid_before(text: str, path: Path, pyproject: bool, by_hand: str) -> str:
    """The hash of the spec as it is; a file that is not a valid spec is not edited, since what
    was saved could not be told apart from what was wrong already."""
    try:
        return spec_hash(parse_spec_text(text, path, pyproject=pyproject))
    except UsageError as exc:  # SpecError (every problem, with its line) among them
        raise UsageError(
            _CODE,
            Msg("The options were not saved: {reason}", reason=exc.message),
            Msg(
                "Fix the spec first (`torchenv init` writes a valid one), or {by_hand}.",
                by_hand=by_hand,
            ),
        ) from None


def _table_of(data: dict[str, Any], pyproject: bool) -> dict[str, Any]:
    # both are tables: parse_spec_text accepted the file
    result: dict[str, Any] = data["tool"]["torchenv"] if pyproject else data
    return result


def _same(current: object, value: Value) -> bool:
    # type first: in Python True == 1, and `uid = true` is not `uid = 1`
    return type(current) is type(value) and current == value


def _edit(
    text: str,
    table: str,
    changed: dict[str, Value],
    pyproject: bool,
    path: Path,
    by_hand: str,
) -> str:
    """``text`` with ``changed`` set in ``[table]``, every other byte kept where tomlkit can."""
    import tomlkit  # noqa: PLC0415 - only saving options needs it; start-up time matters
    from tomlkit.exceptions import TOMLKitError  # noqa: PLC0415
    from tomlkit.items import InlineTable, Table  # noqa: PLC0415

    crlf = "\r\n" in text and text.count("\n") == text.count("\r\n")
    newline = "\r\n" if crlf else "\n"
    if text and not text.endswith("\n"):
        text += newline  # so that a table added at the end starts on a line of its own
    try:
        doc = tomlkit.parse(text)
        parent: Any = doc["tool"]["torchenv"] if pyproject else doc
        if table in parent:
            target = parent[table]
            for key, value in changed.items():
                if key in target or not isinstance(target, (Table, InlineTable)):
                    target[key] = value  # replaced in place, its comment kept
                elif isinstance(target, Table) and target.is_super_table():
                    # dotted keys (`image.jupyter = true`): tomlkit adds one in their form
                    target[key] = value
                else:
                    _insert(target.value, key, tomlkit.item(value), isinstance(target, InlineTable))
        else:
            new = tomlkit.inline_table() if isinstance(parent, InlineTable) else tomlkit.table()
            for key, value in changed.items():
                new[key] = value
            if isinstance(parent, Table):
                new.trivia.indent = "\n"  # a blank line before its header
                _insert(parent.value, table, new, inline=False)
            else:
                parent[table] = new  # at the end of the file, or inside an inline table
                if parent is doc:
                    # one blank line before the header, whether the file ended in one or not
                    blank = not text.strip() or text.endswith(("\n\n", "\n\r\n"))
                    new.trivia.indent = "" if blank else "\n"
        edited = doc.as_string()
    except (TOMLKitError, RecursionError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            _CODE,
            Msg(
                "The options were not saved: torchenv cannot edit {path} ({reason}); it was left "
                "as it was.",
                path=path,
                reason=str(exc),
            ),
            Msg("Please {by_hand}.", by_hand=by_hand),
        ) from None
    # tomlkit ends the lines it adds with "\n": a CRLF file stays CRLF (a lone "\n" in it can
    # only be a new one, since every line of the file ended in "\r\n")
    return re.sub(r"(?<!\r)\n", "\r\n", edited) if crlf else edited


def _insert(container: Container, key: str, item: Any, inline: bool) -> None:
    """``item`` after the last key of ``container`` rather than at its end: the blank lines
    and comments that end a table's body in tomlkit belong to the next table's header, and a
    key added after them would read as part of it. In a table of comments only, the new key
    goes after the first comments (under the header), before the first blank line. In an
    inline table it goes before the space that closes it, after a space of its own."""
    body = container.body
    keyed = [i for i, (k, _) in enumerate(body) if k is not None]
    if inline:
        item.trivia.indent = " " if keyed else ""
        at = keyed[-1] + 1 if keyed else len(body)
    elif keyed:
        at = keyed[-1] + 1
    else:
        blanks = [i for i, (k, v) in enumerate(body) if k is None and not v.as_string().strip()]
        at = blanks[0] if blanks else len(body)
    if at >= len(body):
        container.append(key, item)
    else:
        # tomlkit has no public insert; _insert_at is what its own setters use, and what it
        # wrote is checked against the intended data before the file is replaced
        container._insert_at(at, key, item)


def _check_after(
    edited: str,
    path: Path,
    pyproject: bool,
    before: str,
    data: dict[str, Any],
    table: str,
    changed: dict[str, Value],
    where: str,
) -> None:
    """The edited text must be a valid spec, of the same environment, whose data is the old
    data with ``changed`` set: the checker's complaint about a value the user gave, or a
    refusal when tomlkit wrote something else (the file is left as it was either way)."""
    try:
        after = parse_spec_text(edited, path, pyproject=pyproject)
    except SpecError as exc:
        problems = joined("; ", [joined(": ", [p.key, p.message]) for p in exc.problems])
        raise UsageError(
            _CODE,
            Msg("The options were not saved to {path}: {problems}", path=path, problems=problems),
            Msg("Give a valid value; {file} was left as it was.", file=path.name),
        ) from None
    except UsageError as exc:
        raise _not_edited(path, where, changed, exc.message) from None
    expected = copy.deepcopy(data)
    _table_of(expected, pyproject).setdefault(table, {}).update(changed)
    if load_toml(edited) != expected:
        raise _not_edited(path, where, changed, Msg("the edit would have changed other keys"))
    if spec_hash(after) != before:
        raise _not_edited(path, where, changed, Msg("the edit would have changed the environment"))


def _not_edited(path: Path, where: str, changed: dict[str, Value], why: str) -> UsageError:
    return UsageError(
        _CODE,
        Msg(
            "The options were not saved: torchenv cannot edit {path} safely ({reason}); it was "
            "left as it was.",
            path=path,
            reason=why,
        ),
        Msg(
            "Please add {settings} to its {table} table yourself.",
            settings=_lines(changed),
            table=where,
        ),
    )


def _render(value: Value) -> str:
    """``value`` as TOML (a JSON string is a TOML basic string), for notes and hints."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _lines(values: Mapping[str, Value]) -> str:
    return ", ".join(f"`{key} = {_render(value)}`" for key, value in values.items())


def keys_in_file(path: Path, table: Literal["image", "deploy"]) -> set[str]:
    """The keys the spec file itself sets in ``[table]`` (a default is not one of them); empty
    when the file cannot be read (loading the spec has said why already)."""
    try:
        text = files.read_bytes(path, SPEC_LIMIT).decode("utf-8-sig")
        data = load_toml(text)
        if path.name == PYPROJECT:
            data = data.get("tool", {}).get("torchenv", {})
        found = data.get(table, {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return set()
    return set(found) if isinstance(found, dict) else set()
