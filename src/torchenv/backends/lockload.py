"""Reading the spec's lock for a build: refused when missing, made from another version of the
spec, or changed since ``torchenv lock`` sealed it. One place for the checks every backend's
``plan`` makes, so create and upgrade refuse the same locks with the same words."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torchenv.backends.base import SpecRef
from torchenv.backends.conda import CONDA_LOCK_FILE, content_hash, meta_path, parse_meta
from torchenv.backends.lockfile import LOCK_LIMIT, Lock, LockedPackage, parse_lock
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.spec import LOCK_FILE, Spec
from torchenv.untrusted import files

AGAIN = Msg("Run `torchenv lock` again, then create.")
# what read_lock_bytes reads, as its messages name it (a caller's plain "conda lock" included)
_WHAT = {str(m): m for m in (Msg("lock"), Msg("conda lock"), Msg("record of the conda lock"))}


def _spec_name(spec: Spec) -> str:
    return spec.path or Msg("the spec")


def read_lock_bytes(path: Path, spec: Spec, what: str = "lock") -> bytes:
    """A lock file's bytes: a regular file of sensible size, else a UsageError."""
    try:
        return files.read_bytes(path, LOCK_LIMIT)
    except FileNotFoundError:
        raise UsageError(
            "lock-missing",
            Msg(
                "There is no {what} for {spec} ({path}).",
                what=_WHAT.get(what, what),
                spec=_spec_name(spec),
                path=path,
            ),
            Msg("Run `torchenv lock` first."),
        ) from None
    except OSError as exc:
        raise UsageError(
            "lock-unreadable",
            Msg("Cannot read {path}: {error}.", path=path, error=files.describe(exc)),
            Msg("Run `torchenv lock` to write it again."),
        ) from None


def _stale(path: Path, spec: Spec) -> UsageError:
    return UsageError(
        "lock-stale",
        Msg(
            "{path} was made from another version of {spec} (the spec changed since `torchenv "
            "lock`).",
            path=path,
            spec=_spec_name(spec),
        ),
        AGAIN,
    )


def load_fresh_lock(ref: SpecRef) -> Lock:
    """The spec's ``pylock.toml`` with its [tool.torchenv] record, checked fresh."""
    spec = ref.spec
    path = ref.lock_home / LOCK_FILE
    lock = parse_lock(read_lock_bytes(path, spec), str(path))
    if lock.record is None:
        raise UsageError(
            "lock-not-torchenv",
            Msg(
                "{path} has no [tool.torchenv] table: it was not written by `torchenv lock`, so "
                "nothing says which spec and plan it belongs to.",
                path=path,
            ),
            Msg("Run `torchenv lock` to write it."),
        )
    if lock.spec_hash != ref.spec_hash:
        raise _stale(path, spec)
    if not lock.sealed:
        edited = (
            Msg("{path} has no lock-hash (an older torchenv wrote it).", path=path)
            if lock.sealed is None
            else Msg(
                "{path} was changed after `torchenv lock` wrote it: its content no longer "
                "matches its lock-hash.",
                path=path,
            )
        )
        raise UsageError(
            "lock-edited",
            edited,
            Msg("Run `torchenv lock` to write it again; review the change if you did not make it."),
        )
    return lock


def load_fresh_conda_lock(ref: SpecRef) -> Lock:
    """The spec's ``conda.lock`` checked against its sealed sidecar: its record, sha256 and
    bytes (``data``); the packages are filled in by the backend that reads its records."""
    spec = ref.spec
    path = ref.lock_home / CONDA_LOCK_FILE
    data = read_lock_bytes(path, spec, "conda lock")
    sidecar = meta_path(path)
    sidecar_data = read_lock_bytes(sidecar, spec, "record of the conda lock")
    locked_sha, record, sealed = parse_meta(sidecar_data, str(sidecar))
    if record.spec_hash != ref.spec_hash:
        raise _stale(path, spec)
    sha = content_hash(data)
    if not sealed:
        raise UsageError(
            "lock-edited",
            Msg(
                "{sidecar} has no lock-hash, or its content no longer matches it: it was written "
                "by an older torchenv or changed since `torchenv lock`.",
                sidecar=sidecar,
            ),
            AGAIN,
        )
    if sha != locked_sha:
        raise UsageError(
            "lock-stale",
            Msg(
                "{path} changed since `torchenv lock` wrote it (its sha256 is not the one "
                "{record} records).",
                path=path,
                record=sidecar.name,
            ),
            AGAIN,
        )
    return Lock(str(path), sha, (), record, sealed, data)


def with_packages(lock: Lock, packages: list[tuple[str, str]]) -> Lock:
    return dataclasses.replace(lock, packages=tuple(LockedPackage(n, v) for n, v in packages))
