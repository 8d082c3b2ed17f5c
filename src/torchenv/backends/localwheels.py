"""The wheels a lock takes from this machine (``file://`` URLs, as ``torchenv lock`` records a
spec's ``find-links`` folder), carried into an image's build context.

A lock is data from elsewhere: only a wheel file (``*.whl``) whose content has the sha256 the
lock gives it is copied, so a lock naming ``file:///home/you/.ssh/id_ed25519`` cannot carry that
file into an image. The image checks the copies against the same hashes when it installs them.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

import tomli_w

from torchenv.backends.lockfile import Lock, reseal
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted import files
from torchenv.untrusted.text import load_toml, printable


def portable_lock(lock: Lock) -> tuple[str, list[Path]]:
    """The lock's text with each wheel that lies on this machine (file:// URL) named by a path
    relative to the lock (PEP 751 `path`), and those wheels, to be copied beside it. Only a
    wheel is copied, and only when its content has the sha256 the lock gives it: a lock is data
    from elsewhere, and one naming ``file:///home/you/.ssh/id_ed25519`` must not carry that
    file into an image. The image checks the copies against the same hashes when it installs."""
    doc = load_toml(lock.data.decode("utf-8"))  # the very bytes parse_lock checked
    wheels: list[Path] = []
    for package in doc.get("packages") or []:
        for wheel in package.get("wheels") or []:
            url = wheel.get("url", "")
            if not url.startswith("file:"):
                continue
            source = _local_wheel(lock, url, (wheel.get("hashes") or {}).get("sha256"))
            if source.name not in {w.name for w in wheels}:  # a universal lock names it twice
                wheels.append(source)
            del wheel["url"]
            wheel["path"] = f"wheels/{source.name}"
    return reseal(tomli_w.dumps(doc)), wheels


def _local_wheel(lock: Lock, url: str, sha256: str | None) -> Path:
    """The file of a file:// wheel URL, when it is a wheel with the lock's sha256."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # noqa: PLC0415

    source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    shown = printable(str(source))
    try:
        parse_wheel_filename(source.name)
    except InvalidWheelFilename:
        raise UsageError(
            "image-local-file-not-a-wheel",
            Msg(
                "{lock} names the local file {file}, which is not a wheel: only wheels (*.whl) "
                "are copied into an image.",
                lock=lock.path,
                file=shown,
            ),
            Msg("Lock again with `torchenv lock`; check the lock if you did not write it."),
        ) from None
    if sha256 is None:
        raise UsageError(
            "image-wheel-unhashed",
            Msg(
                "{lock} names {file} without a sha256, so its content cannot be checked.",
                lock=lock.path,
                file=shown,
            ),
            Msg("Lock again with `torchenv lock` (uv records the hash of every file)."),
        )
    try:
        digest = files.sha256_of(source)
    except FileNotFoundError:
        raise UsageError(
            "image-wheel-missing",
            Msg("{lock} names {file}, which is not on this machine.", lock=lock.path, file=shown),
            Msg("Lock again where the wheel is, or put it back."),
        ) from None
    except OSError as exc:
        raise UsageError(
            "image-wheel-unreadable",
            Msg(
                "{lock} names {file}, which cannot be read: {error}.",
                lock=lock.path,
                file=shown,
                error=files.describe(exc),
            ),
            Msg("Lock again with `torchenv lock`."),
        ) from None
    if digest != sha256:
        raise UsageError(
            "image-wheel-hash",
            Msg(
                "{file} does not have the sha256 that {lock} gives it: it changed since the lock "
                "was made, or the lock names another file.",
                file=shown,
                lock=lock.path,
            ),
            Msg("Lock again with `torchenv lock`; check the lock if you did not write it."),
        )
    return source
