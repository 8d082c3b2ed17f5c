"""The user's list of the environments ``torchenv create`` made (``environments.json`` in the user
data directory): prefix -> spec, lock sha256, backend, creation time.

It is written under a file lock (two creates of different prefixes must not drop each other's
entry) and replaced atomically. A registry that cannot be read as one JSON object is not reset
silently: it is kept beside as ``environments.json.corrupt-<time>``, and the list is rebuilt from
what is on disk: every prefix the damaged text still names whose ``torchenv-env.json`` reads.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json, printable

REGISTRY_LIMIT = 16 << 20
# a JSON key that is an absolute path: what survives of a prefix in a damaged registry
_PREFIX_KEY = re.compile(r'"(/[^"\x00-\x1f]{1,4096})"\s*:')


def check_location(registry: Path) -> None:
    """Refuse, before an environment is built, a registry that could not be written after."""
    parent = registry.parent
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(
            "registry-location",
            Msg(
                "The list of environments torchenv made would be {registry}, but {probe} is not "
                "a directory.",
                registry=registry,
                probe=probe,
            ),
            Msg("Point TORCHENV_DATA_DIR at a directory (or unset it)."),
        )
    if registry.is_symlink() or (registry.exists() and not registry.is_file()):
        raise UsageError(
            "registry-location",
            Msg(
                "{registry} is not a regular file; torchenv keeps its list of environments there.",
                registry=registry,
            ),
            Msg("Move it away, or point TORCHENV_DATA_DIR elsewhere."),
        )


def registered(registry: Path) -> frozenset[str]:
    """The prefixes the registry lists (none when it cannot be read)."""
    try:
        entries = load_json(files.read_bytes(registry, REGISTRY_LIMIT))
    except (OSError, ValueError):
        return frozenset()
    return frozenset(entries) if isinstance(entries, dict) else frozenset()


def register(registry: Path, prefix: str, entry: Mapping[str, object]) -> list[str]:
    """Add ``prefix`` to the registry; returns what the user should know (a damaged registry
    set aside and rebuilt)."""
    notes: list[str] = []
    try:
        registry.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(registry.with_name(f".{registry.name}.lock")), timeout=60):
            entries = _read(registry, notes)
            entries[prefix] = dict(entry)
            text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
            files.write_atomic(registry, text.encode("utf-8"))
    except Timeout:
        raise UsageError(
            "registry-busy",
            Msg(
                "The environment is in place at {prefix}, but {registry} stayed locked for a "
                "minute, so it is not listed there.",
                prefix=prefix,
                registry=registry,
            ),
            Msg("Run the create again with --force once no other torchenv runs."),
        ) from None
    except OSError as exc:
        raise UsageError(
            "registry-unwritable",
            Msg(
                "The environment is in place at {prefix}, but the list of environments "
                "{registry} cannot be written: {error}.",
                prefix=prefix,
                registry=registry,
                error=files.describe(exc),
            ),
            Msg("Point TORCHENV_DATA_DIR at a directory you can write to."),
        ) from None
    return notes


def _read(registry: Path, notes: list[str]) -> dict[str, Any]:
    try:
        data = files.read_bytes(registry, REGISTRY_LIMIT)
    except FileNotFoundError:
        return {}
    try:
        entries = load_json(data.decode("utf-8"))
        if isinstance(entries, dict):
            return entries
    except (UnicodeDecodeError, ValueError):
        pass
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = registry.with_name(f"{registry.name}.corrupt-{stamp}")
    count = 1
    while os.path.lexists(aside):  # a second damage within the same second keeps the first
        count += 1
        aside = registry.with_name(f"{registry.name}.corrupt-{stamp}-{count}")
    os.replace(registry, aside)
    rebuilt = rebuild(data.decode("utf-8", "replace"))
    notes.append(
        f"{registry} could not be read; it was kept as {aside.name} and rebuilt from the "
        f"environments it still names ({len(rebuilt)} found on disk)"
    )
    return rebuilt


def rebuild(damaged: str) -> dict[str, Any]:
    """Entries for the prefixes named in ``damaged`` that hold a readable record."""
    out: dict[str, Any] = {}
    for match in _PREFIX_KEY.finditer(damaged):
        prefix = match.group(1)
        try:
            record = read_env_record(prefix)
        except RecordUnusable:
            continue
        if record is None:
            continue
        out[prefix] = {
            "spec": _text(record.spec_path),
            "lock_sha256": _text(record.lock_sha256),
            "backend": _text(record.backend),
            "created": _text(record.created),
        }
    return out


def _text(value: object) -> str | None:
    return printable(value) if isinstance(value, str) else None
