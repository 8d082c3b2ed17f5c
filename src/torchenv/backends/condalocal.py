"""The conda packages a lock takes from this machine (a local channel: ``file://`` URLs), carried
into an image's build context as ``conda-pkgs/<subdir>/<file>``, and found there again by the
installer that runs inside the build (backends/conda_image.py).

A lock is data from elsewhere, as for local wheels (localwheels.py): only a conda archive
(``*.conda``, ``*.tar.bz2``) whose content has the sha256 the lock gives it is copied, so a lock
naming ``file:///home/you/.ssh/id_ed25519`` cannot carry that file into an image. The lock
itself is not rewritten: the image keeps the user's lock byte for byte (its sha256 is the
image's label), and the installer maps each local URL to the copy by file name and hash.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted import files
from torchenv.untrusted.text import printable

if TYPE_CHECKING:
    from torchenv.backends.conda_rattler import Solved

PACKAGES_DIR = "conda-pkgs"
# a conda archive's file name: <name>-<version>-<build>.conda or .tar.bz2 (CEP 2 / conda docs)
_ARCHIVE = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.+!-]*-[A-Za-z0-9_.+!]+-[A-Za-z0-9_.+!]+\.(conda|tar\.bz2)"
)
_SUBDIR = re.compile(r"[a-z0-9]+-[a-z0-9_]+|noarch")
AGAIN = Msg("Lock again with `torchenv lock`; check the lock if you did not write it.")


@dataclass(frozen=True)
class LocalPackage:
    subdir: str  # the record's subdir ("linux-64", "noarch")
    source: Path  # the file on this machine

    @property
    def context_path(self) -> str:
        """Where the copy lies in the build context (and under /build in the image)."""
        return f"{PACKAGES_DIR}/{self.subdir}/{self.source.name}"


def is_local(url: str) -> bool:
    return url.startswith("file:")


def local_packages(lock_path: str, parts: list[Solved]) -> list[LocalPackage]:
    """The lock's local packages of its Linux platforms, each checked: a conda archive whose
    content has the record's sha256."""
    found: dict[str, LocalPackage] = {}
    for part in parts:
        if not part.subdir.startswith("linux-"):
            continue
        for record in part.records:
            url = str(record.url)
            if not is_local(url):
                continue
            package = _checked(lock_path, record, url)
            found.setdefault(package.context_path, package)
    return sorted(found.values(), key=lambda p: p.context_path)


def _checked(lock_path: str, record: Any, url: str) -> LocalPackage:
    source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    shown = printable(str(source))
    subdir = str(record.subdir)
    if not _ARCHIVE.fullmatch(source.name) or not _SUBDIR.fullmatch(subdir):
        raise UsageError(
            "image-local-file-not-a-package",
            Msg(
                "{lock} names the local file {file} (subdir {subdir}), which is not a conda "
                "package: only conda archives (*.conda, *.tar.bz2) are copied into an image.",
                lock=lock_path,
                file=shown,
                subdir=printable(subdir),
            ),
            AGAIN,
        )
    expected = bytes(record.sha256).hex() if record.sha256 else None
    if expected is None:
        raise UsageError(
            "image-package-unhashed",
            Msg(
                "{lock} names {file} without a sha256, so its content cannot be checked.",
                lock=lock_path,
                file=shown,
            ),
            AGAIN,
        )
    try:
        digest = files.sha256_of(source)
    except FileNotFoundError:
        raise UsageError(
            "image-package-missing",
            Msg("{lock} names {file}, which is not on this machine.", lock=lock_path, file=shown),
            Msg("Lock again where the local channel is, or put the package back."),
        ) from None
    except OSError as exc:
        raise UsageError(
            "image-package-unreadable",
            Msg(
                "{lock} names {file}, which cannot be read: {error}.",
                lock=lock_path,
                file=shown,
                error=files.describe(exc),
            ),
            AGAIN,
        ) from None
    if digest != expected:
        raise UsageError(
            "image-package-hash",
            Msg(
                "{file} does not have the sha256 that {lock} gives it: it changed since the lock "
                "was made, or the lock names another file.",
                file=shown,
                lock=lock_path,
            ),
            AGAIN,
        )
    return LocalPackage(subdir, source)
