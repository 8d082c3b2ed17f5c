"""Scratch directories that a killed torchenv does not leave behind for good.

``tempfile.TemporaryDirectory`` is removed when the ``with`` block ends, which a SIGKILL (the OOM
killer, a CI timeout, a closed terminal) skips. So scratch directories live in one place,
``<tempdir>/torchenv-<uid>/scratch``, each named after the process that made it
(``verify-<pid>-<random>``), and the next run removes those whose process is gone. Both levels are
``untrusted.files.private_dir``: this user's, writable by nobody else, so another user cannot
plant files or links in /tmp for torchenv to use or delete.

A recycled pid keeps a leftover until a later run finds that process gone too.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from torchenv.untrusted.files import private_dir

_NAME = re.compile(r"^[a-z]+-(?P<pid>\d+)-")


def scratch_root(base: str | os.PathLike[str] | None = None) -> Path:
    """``<base>/torchenv-<uid>/scratch`` (base: the system's temporary directory), made
    private; ``UnsafeDirectory`` (an OSError) when a level belongs to another user."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    top = private_dir(Path(base or tempfile.gettempdir()) / f"torchenv-{uid}")
    return private_dir(top / "scratch")


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def remove_leftovers(root: Path) -> list[Path]:
    """Remove the scratch directories in ``root`` whose process is gone; what was removed."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return []
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        if process_alive(int(match["pid"])):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def scratch_dir(purpose: str, base: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """A new private directory ``<root>/<purpose>-<pid>-<random>``, removed at the end; the
    leftovers of dead processes are removed first. Where the shared root cannot be used (it
    belongs to another user), a plain temporary directory, which only the end removes."""
    try:
        root: Path | None = scratch_root(base)
    except OSError:
        root = None
    if root is not None:
        remove_leftovers(root)
        prefix = f"{purpose}-{os.getpid()}-"
    else:
        prefix = f"torchenv-{purpose}-"
    # mkdtemp: mode 0700, a name nobody can guess or take first
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
