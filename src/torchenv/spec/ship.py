"""Checks of the spec's ``[image]`` and ``[deploy]`` tables (how the environment is shipped), in
the same every-problem-at-once style as the rest of the spec (validate.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.ship import SpecDeploy, SpecImage, parse_reference

if TYPE_CHECKING:
    from torchenv.spec.checker import Checker

IMAGE_KEYS = ("name", "base", "compiler", "jupyter", "ssh", "user", "uid", "gid", "apt")
DEPLOY_KEYS = ("image", "command", "nodes", "gpus-per-node", "shm-size", "port")

_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Debian package names (Debian Policy 5.6.1), optionally pinned "name=version"
_APT = re.compile(r"[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?")
_SIZE = re.compile(r"[1-9][0-9]*[bkmg]?", re.IGNORECASE)
T = TypeVar("T")


def check_image(check: Checker, value: object, key: str) -> SpecImage | None:
    from torchenv.spec.checker import invalid  # noqa: PLC0415  (a Checker is here: loaded)

    if not isinstance(value, dict):
        check.report(key, Msg("expected a table ([image])"))
        return None
    check.unknown_keys(value, IMAGE_KEYS, key + ".")
    out: dict[str, Any] = {}
    _reference_key(check, value, key, "name", out, pinned=False)
    _reference_key(check, value, key, "base", out, pinned=True)
    for flag in ("compiler", "jupyter", "ssh"):
        if flag in value:
            if isinstance(value[flag], bool):
                out[flag] = value[flag]
            else:
                check.report(f"{key}.{flag}", Msg("expected true or false"))
    if "user" in value:
        text = check.string(f"{key}.user", value["user"], '"torch"')
        if text is not None:
            if not _USER.fullmatch(text) or text == "root":
                check.report(
                    f"{key}.user",
                    invalid(
                        text,
                        Msg(
                            'a login name other than root, of lowercase letters, digits, "_" and '
                            '"-" such as "torch"'
                        ),
                    ),
                )
            else:
                out["user"] = text
    for ident in ("uid", "gid"):
        if ident in value:
            number = _integer(check, f"{key}.{ident}", value[ident], 1, 2**31 - 2, "1000")
            if number is not None:
                out[ident] = number
    if "apt" in value:
        items = check.strings(f"{key}.apt", value["apt"], '["git", "libgl1"]')
        for i, item in items:
            if not _APT.fullmatch(item):
                check.report(
                    f"{key}.apt[{i}]",
                    invalid(item, Msg('a Debian package name such as "libgl1"')),
                )
        out["apt"] = tuple(item for _, item in items)
    return SpecImage(**out)


def check_deploy(check: Checker, value: object, key: str) -> SpecDeploy | None:
    from torchenv.spec.checker import invalid  # noqa: PLC0415  (a Checker is here: loaded)

    if not isinstance(value, dict):
        check.report(key, Msg("expected a table ([deploy])"))
        return None
    check.unknown_keys(value, DEPLOY_KEYS, key + ".")
    out: dict[str, Any] = {}
    _reference_key(check, value, key, "image", out, pinned=True)
    if "command" in value:
        items = check.strings(f"{key}.command", value["command"], '["train.py", "--epochs", "3"]')
        if isinstance(value["command"], list) and not value["command"]:
            check.report(f"{key}.command", Msg("empty: expected the script and its arguments"))
        out["command"] = tuple(item for _, item in items)
    ranges = {"nodes": (1, 10000, "2"), "gpus-per-node": (0, 64, "8"), "port": (1, 65535, "29500")}
    for name, (low, high, example) in ranges.items():
        if name in value:
            number = _integer(check, f"{key}.{name}", value[name], low, high, example)
            if number is not None:
                out[name.replace("-", "_")] = number
    if "shm-size" in value:
        text = check.string(f"{key}.shm-size", value["shm-size"], '"16g"')
        if text is not None and not _SIZE.fullmatch(text):
            check.report(f"{key}.shm-size", invalid(text, Msg('a size such as "16g" or "512m"')))
        elif text is not None:
            out["shm_size"] = text.lower()
    return SpecDeploy(**out)


def _integer(
    check: Checker, key: str, value: object, low: int, high: int, example: str
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        check.report(key, Msg("expected an integer such as {example}", example=example))
        return None
    if not low <= value <= high:
        check.report(
            key,
            Msg(
                "{value} is out of range: expected {low} to {high}", value=value, low=low, high=high
            ),
        )
        return None
    return value


_REFERENCE_EXAMPLES = {
    "name": '"registry.example.com/team/vision:1"',
    "base": '"python:3.11-slim-bookworm"',
    "image": '"registry.example.com/team/vision:1"',
}


def _reference_key(
    check: Checker, table: dict[str, Any], key: str, name: str, out: dict[str, Any], *, pinned: bool
) -> None:
    """An image reference under ``name`` of ``table`` into ``out``, when it is one."""
    if name not in table:
        return
    text = check.string(f"{key}.{name}", table[name], _REFERENCE_EXAMPLES[name])
    if text is not None and _reference(check, f"{key}.{name}", text, pinned=pinned):
        out[name] = text


def _reference(check: Checker, key: str, text: str, *, pinned: bool) -> bool:
    from torchenv.spec.checker import invalid  # noqa: PLC0415  (a Checker is here: loaded)

    parts = parse_reference(text)
    if parts is None:
        check.report(
            key,
            invalid(
                text,
                Msg(
                    'an image reference such as "registry.example.com/team/vision:1" (lowercase '
                    "path, optional :tag and @sha256:)"
                ),
            ),
        )
        return False
    if pinned and parts["tag"] is None and parts["digest"] is None:
        check.report(
            key,
            Msg(
                '"{reference}" has no tag: it would mean "latest", which changes under you; give '
                'a tag such as ":3.11-slim-bookworm", or a digest "@sha256:..."',
                reference=text,
            ),
        )
        return False
    if parts["tag"] == "latest" and parts["digest"] is None:
        check.report(
            key,
            Msg(
                '"{reference}" uses the tag "latest", which changes under you: give a version '
                'tag or a digest "@sha256:..."',
                reference=text,
            ),
        )
        return False
    return True


def override_image(current: SpecImage, values: Mapping[str, object]) -> SpecImage:
    """``current`` with the command line's ``[image]`` values (TOML keys) over it, each checked
    as the spec's own are."""
    checked = _checked_table(check_image, "image", values)
    return dataclasses.replace(current, **_fields(checked, values))


def override_deploy(current: SpecDeploy, values: Mapping[str, object]) -> SpecDeploy:
    """``current`` with the command line's ``[deploy]`` values over it, checked."""
    checked = _checked_table(check_deploy, "deploy", values)
    return dataclasses.replace(current, **_fields(checked, values))


def _checked_table(
    checker: Callable[[Checker, object, str], T | None], table: str, values: Mapping[str, object]
) -> T:
    from torchenv.i18n import joined  # noqa: PLC0415
    from torchenv.spec.checker import Checker  # noqa: PLC0415

    problems: list[str] = []
    check = Checker(lambda key, message: problems.append(joined(": ", [key, message])), Path.cwd())
    checked = checker(
        check, {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}, table
    )
    if problems or checked is None:
        raise UsageError(
            "ship-option",
            Msg(
                "The command line's options are not valid:\n  {problems}",
                problems=joined("\n  ", problems),
            ),
            Msg(
                "Give them as the spec would hold them (`torchenv image --help`, "
                "`torchenv deploy --help`)."
            ),
        )
    return checked


def _fields(checked: object, values: Mapping[str, object]) -> dict[str, Any]:
    """The dataclass fields of the keys given (TOML "gpus-per-node" is gpus_per_node)."""
    names = [key.replace("-", "_") for key in values]
    return {name: getattr(checked, name) for name in names}
