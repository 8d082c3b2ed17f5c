"""Build an environment beside its final place and move it there only when it works.

- ``<parent>/.<name>.torchenv-build-<random>`` holds the environment while it is built; a failure
  or Ctrl-C removes it, and a build directory left by a killed run is removed by the next run
  (it is stale once nobody holds the prefix's file lock).
- ``<parent>/.<name>.torchenv.lock`` (filelock) makes a second concurrent create of the same
  prefix fail at once with a message, instead of two installers writing one tree.
- An existing prefix is replaced only with ``replace=True``: it is renamed aside, the new tree
  renamed in, and the old one deleted afterwards, so at no point does a half-made tree sit at the
  prefix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from torchenv.errors import UsageError

BUILD_MARK = ".torchenv-build-"
OLD_MARK = ".torchenv-old-"


class Busy(UsageError):
    pass


def lock_path(prefix: Path) -> Path:
    return prefix.parent / f".{prefix.name}.torchenv.lock"


@contextlib.contextmanager
def exclusive(prefix: Path) -> Iterator[None]:
    lock = FileLock(str(lock_path(prefix)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(
            "create-busy",
            f"Another torchenv create is building {prefix} right now (it holds "
            f"{lock_path(prefix)}).",
            "Wait for it to finish, or build into another --prefix.",
        ) from None
    try:
        yield
    finally:
        lock.release()


def remove_leftovers(prefix: Path) -> list[Path]:
    """Build and swap directories of ``prefix`` left by killed runs (call with the lock held)."""
    removed = []
    for mark in (BUILD_MARK, OLD_MARK):
        for path in prefix.parent.glob(f".{prefix.name}{mark}*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def build_dir(prefix: Path) -> Iterator[Path]:
    """A fresh sibling directory; removed unless ``promote`` moved it into place."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{prefix.name}{BUILD_MARK}", dir=prefix.parent))
    path.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; the environment gets normal modes
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def promote(build: Path, prefix: Path, replace: bool) -> None:
    """Rename the finished build to ``prefix`` (same file system: one rename each)."""
    if prefix.exists() or prefix.is_symlink():
        if not replace:
            raise UsageError(
                "prefix-exists",
                f"{prefix} already exists.",
                "Pass --force to replace it (the old environment stays in place until the new "
                "one is ready), or choose another --prefix.",
            )
        aside = Path(tempfile.mkdtemp(prefix=f".{prefix.name}{OLD_MARK}", dir=prefix.parent))
        os.rmdir(aside)
        os.replace(prefix, aside)
        os.replace(build, prefix)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.replace(build, prefix)


def relocate(tree: Path, old: str, new: str) -> int:
    """Rewrite ``old`` to ``new`` in the venv's scripts under ``tree``: pip and the stdlib venv
    write absolute paths into shebangs and activation scripts. Run before the rename, so the
    scripts already name the place the environment is about to have. Returns files changed."""
    changed = 0
    bin_dir = tree / ("Scripts" if os.name == "nt" else "bin")
    old_bytes, new_bytes = old.encode(), new.encode()
    for path in bin_dir.iterdir() if bin_dir.is_dir() else ():
        if path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if old_bytes in data and b"\0" not in data[:1024]:  # text scripts only
            path.write_bytes(data.replace(old_bytes, new_bytes))
            changed += 1
    return changed
