"""torchenv's record in a lock (``[tool.torchenv]`` of ``pylock.toml``, the ``tool`` table of the
conda lock's sidecar), checked field by field.

A lock is data from elsewhere: it arrives with a clone, a pull request, an e-mail. Its values go
into Dockerfiles, labels, requirements files and the environment's record, so each is checked
against its expected form here, once, and a lock with one value out of form is refused with the
field named. A field this torchenv does not know is kept as data (a newer torchenv may have
written it; nothing reads it). ``lock-hash`` seals the lock: the sha256 of everything in it but
itself, so an edit after ``torchenv lock`` (a changed pin, an added package, a changed variant)
is found. It is a check against mistakes and tampering by hand, not a signature: whoever can
write the lock can compute it again.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted.text import UNSAFE_IN_A_LINE, URL_UNSAFE, printable

HASH = re.compile(r"[0-9a-f]{64}")
# the forms of the values `torchenv lock` writes (plan/planner.py, knowledge/data/torch.json)
TORCH_VERSION = re.compile(r"\d+(\.\d+){1,3}((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")
VARIANT = re.compile(r"cpu|cu\d{2,3}|rocm\d+(\.\d+){0,2}|xpu")
PYTHON = re.compile(r"3\.\d{1,2}t?")
CUDA = re.compile(r"\d{1,2}\.\d{1,2}")
ARCH = re.compile(r"(sm|compute)_\d{2,3}[af]?")
DRIVER = re.compile(r"\d{2,4}(\.\d{1,3}){1,2}")
CHANNELS = ("pytorch-index", "pypi", "conda-forge")
PLATFORMS = ("linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64")
# a file name of the spec, a target's name, where the knowledge came from: printable text
TEXT = re.compile(rf"(?!.*{UNSAFE_IN_A_LINE.pattern}).{{0,300}}", re.DOTALL)
SPEC_FILE = re.compile(rf"(?!.*{UNSAFE_IN_A_LINE.pattern})[^/\\]{{0,255}}", re.DOTALL)
# conda match specs ("pytorch ==2.13.0 cuda130*") and virtual packages ("__cuda=13.0=0")
MATCH_SPEC = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.*=<>!,~|+ -]{0,200}")
VIRTUAL = re.compile(r"__[a-z0-9_]+=[A-Za-z0-9_.*+-]+(=[A-Za-z0-9_.*+-]+)?")
SUBDIR = re.compile(r"(linux|osx|win)-(64|aarch64|arm64|ppc64le|32)|noarch")
LOCK_HASH = "lock-hash"
# what a field was expected to be, shown in the message that refuses it
SHA256 = Msg("a sha256")
TABLE = Msg("a table")
REDO = Msg("The lock was edited or damaged: run `torchenv lock` to write it again.")


@dataclass(frozen=True)
class LockRecord:
    spec: str  # the spec's file name
    spec_hash: str
    torch: str
    variant: str
    python: str
    platforms: tuple[str, ...]
    channel: str = "pytorch-index"
    targets: tuple[str, ...] = ()
    knowledge: str = ""
    cuda: str | None = None
    archs: tuple[str, ...] = ()
    driver_floor: str | None = None
    driver_recommended: str | None = None
    lock_hash: str | None = None
    table: Mapping[str, Any] = field(default_factory=dict)  # as written, every field checked

    @property
    def macos(self) -> bool:
        return bool(self.platforms) and all(p.startswith("macos") for p in self.platforms)


class LockFieldError(UsageError):
    def __init__(self, path: str, key: str, value: object, expected: str) -> None:
        shown = printable(repr(value))
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(
            "lock-field",
            Msg(
                "{path}: {key} = {value} is not valid: expected {expected}.",
                path=path,
                key=key,
                value=shown,
                expected=expected,
            ),
            REDO,
        )
        self.key = key


def checked(path: str, key: str, value: object, form: re.Pattern[str], expected: str) -> str:
    if not isinstance(value, str) or form.fullmatch(value) is None:
        raise LockFieldError(path, key, value, expected)
    return value


def checked_list(
    path: str, key: str, value: object, form: re.Pattern[str], expected: str
) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise LockFieldError(path, key, value, Msg("an array of {items}", items=expected))
    return tuple(checked(path, f"{key}[{i}]", v, form, expected) for i, v in enumerate(value))


def checked_url(path: str, key: str, value: object, local_paths: bool = False) -> str:
    """An http(s) or file URL (or, with ``local_paths``, an absolute path) with nothing in it
    that could end a quoted string or a line, and no credentials: a lock never carries them."""
    expected = (
        Msg("an http(s):// or file:// URL without credentials or an absolute path")
        if local_paths
        else Msg("an http(s):// or file:// URL without credentials")
    )
    if not isinstance(value, str) or UNSAFE_IN_A_LINE.search(value):
        raise LockFieldError(path, key, value, expected)
    if local_paths and value.startswith("/"):
        return value  # a find-links folder: data in the lock and the record, never a command
    if URL_UNSAFE.search(value):
        raise LockFieldError(path, key, value, expected)
    parts = urllib.parse.urlsplit(value)
    ok = (parts.scheme in ("http", "https") and parts.netloc) or (
        parts.scheme == "file" and parts.path
    )
    if not ok or "@" in parts.netloc:
        raise LockFieldError(path, key, value, expected)
    return value


def _optional(table: Mapping[str, Any], key: str) -> object:
    value = table.get(key)
    return None if value in (None, "") else value


def read_record(table: Mapping[str, Any], path: str, where: str) -> LockRecord:
    """The checked record of ``table``; ``where`` names the table in messages ("[tool.torchenv]
    " or "tool.")."""

    def key(name: str) -> str:
        return f"{where}{name}"

    text = Msg("printable text")
    spec = checked(path, key("spec"), table.get("spec", ""), SPEC_FILE, Msg("a file name"))
    spec_hash = checked(path, key("spec-hash"), table.get("spec-hash"), HASH, SHA256)
    expected = Msg('a release ("2.13.0")')
    torch = checked(path, key("torch"), table.get("torch"), TORCH_VERSION, expected)
    expected = Msg('a build variant ("cpu", "cu130")')
    variant = checked(path, key("variant"), table.get("variant"), VARIANT, expected)
    python = checked(path, key("python"), table.get("python"), PYTHON, Msg('a Python ("3.11")'))
    platforms = checked_list(
        path, key("platforms"), table.get("platforms"), _one_of(PLATFORMS), Msg("platform keys")
    )
    if not platforms:
        raise LockFieldError(path, key("platforms"), [], Msg("at least one platform"))
    channel = checked(
        path, key("channel"), table.get("channel", CHANNELS[0]), _one_of(CHANNELS), Msg("a channel")
    )
    targets = checked_list(path, key("targets"), table.get("targets", []), TEXT, text)
    knowledge = checked(path, key("knowledge"), table.get("knowledge", ""), TEXT, text)
    cuda = _optional(table, "cuda")
    if cuda is not None:
        cuda = checked(path, key("cuda"), cuda, CUDA, Msg('a CUDA version ("13.0")'))
    expected = Msg('GPU code ("sm_90")')
    archs = checked_list(path, key("archs"), table.get("archs", []), ARCH, expected)
    drivers = {}
    for name in ("driver-floor", "driver-recommended"):
        value = _optional(table, name)
        drivers[name] = (
            None
            if value is None
            else checked(path, key(name), value, DRIVER, Msg('a driver version ("580.65.06")'))
        )
    lock_hash = _optional(table, LOCK_HASH)
    if lock_hash is not None:
        lock_hash = checked(path, key(LOCK_HASH), lock_hash, HASH, SHA256)
    _check_sources(table, path, key)
    return LockRecord(
        spec=spec,
        spec_hash=spec_hash,
        torch=torch,
        variant=variant,
        python=python,
        platforms=platforms,
        channel=channel,
        targets=targets,
        knowledge=knowledge,
        cuda=cuda,
        archs=archs,
        driver_floor=drivers["driver-floor"],
        driver_recommended=drivers["driver-recommended"],
        lock_hash=lock_hash,
        table=dict(table),
    )


def _one_of(values: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(v) for v in values))


def _check_sources(table: Mapping[str, Any], path: str, key: Any) -> None:
    """Where the packages come from: uv's indexes, or conda's channels, specs and virtual
    packages."""
    indexes = table.get("indexes")
    if indexes is not None:
        if not isinstance(indexes, dict):
            raise LockFieldError(path, key("indexes"), indexes, TABLE)
        for name, value in indexes.items():
            where = key(f"indexes.{name}")
            if name in ("pypi", "pytorch"):
                checked_url(path, where, value)
            elif name == "find-links" and isinstance(value, list):
                for i, item in enumerate(value):
                    checked_url(path, f"{where}[{i}]", item, local_paths=True)
            else:
                raise LockFieldError(path, where, value, Msg("pypi, pytorch or find-links"))
    for i, url in enumerate(_list(table, "channels", path, key)):
        checked_url(path, key(f"channels[{i}]"), url)
    checked_list(
        path,
        key("match-specs"),
        table.get("match-specs", []),
        MATCH_SPEC,
        Msg("conda match specs"),
    )
    virtuals = table.get("virtual-packages", {})
    if not isinstance(virtuals, dict):
        raise LockFieldError(path, key("virtual-packages"), virtuals, TABLE)
    for subdir, listed in virtuals.items():
        expected = Msg('a conda subdir ("linux-64")')
        checked(path, key("virtual-packages"), subdir, SUBDIR, expected)
        checked_list(
            path,
            key(f"virtual-packages.{subdir}"),
            listed,
            VIRTUAL,
            Msg('virtual packages ("__cuda=13.0=0")'),
        )


def _list(table: Mapping[str, Any], name: str, path: str, key: Any) -> list[Any]:
    value = table.get(name, [])
    if not isinstance(value, list):
        raise LockFieldError(path, key(name), value, Msg("an array"))
    return value


def seal_hash(document: Mapping[str, Any], table_path: Sequence[str]) -> str:
    """sha256 of ``document`` without the ``lock-hash`` of the table at ``table_path`` (keys
    from the top: ("tool", "torchenv") in pylock.toml), in a canonical JSON form so that
    formatting does not count, only content."""
    copy: Any = json.loads(json.dumps(document, default=str))
    table = copy
    for name in table_path:
        table = table.get(name, {}) if isinstance(table, dict) else {}
    if isinstance(table, dict):
        table.pop(LOCK_HASH, None)
    canonical = json.dumps(copy, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
