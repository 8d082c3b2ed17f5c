"""Build an environment beside its final place and move it there only when it works.

- ``<parent>/.<name>.torchenv-build-<random>`` holds the environment while it is built; a failure,
  Ctrl-C or SIGTERM removes it, and a build directory left by a killed run is removed by the next
  run (it is stale once nobody holds the prefix's file lock).
- A file lock per prefix (in a per-user runtime directory, not beside the project) makes a second
  concurrent create of the same prefix fail at once with a message.
- An existing prefix is replaced only with ``replace=True`` and only when it is an environment
  (``pyvenv.cfg``, ``conda-meta/`` or torchenv's record) that is not the project or an ancestor of
  it: it is renamed aside, the new tree renamed in, and the old one deleted afterwards. If a run
  dies between the two renames, the next run puts the old environment back first.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from filelock import FileLock, Timeout

from torchenv.backends import replaceable
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted import files

BUILD_MARK = ".torchenv-build-"
OLD_MARK = ".torchenv-old-"


class Busy(UsageError):
    pass


def lock_path(prefix: Path) -> Path:
    """The prefix's lock file, outside the project so no stray file is left beside it, in a
    directory of this user's that nobody else can write to (checked, since /tmp is shared: a
    directory another user made there first is refused, not used)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    # keyed on the prefix as named (its parent resolved), never on where a link leads: a
    # prefix with generations is a link whose target changes at every switch, and the lock
    # must stay the same one across it
    named = prefix.absolute().parent.resolve() / prefix.name
    digest = hashlib.sha256(str(named).encode()).hexdigest()[:24]
    return Path(base) / f"torchenv-{uid}" / "locks" / f"{digest}.lock"


def _lock_directory(path: Path) -> None:
    try:
        files.private_dir(path.parent.parent)
        files.private_dir(path.parent)
    except OSError as exc:
        raise UsageError(
            "create-lock-directory",
            Msg(
                "Cannot use {directory} for torchenv's locks: {error}.",
                directory=exc.filename or path.parent,
                error=files.describe(exc),
            ),
            Msg(
                "Set XDG_RUNTIME_DIR (or TMPDIR) to a directory of your own, or remove that one "
                "if it is not yours."
            ),
        ) from None


def check_target(
    prefix: Path, replace: bool, protected: Sequence[Path] = (), registered: Iterable[str] = ()
) -> bool:
    """Refuse a prefix that cannot or must not become the environment, before anything is
    built; returns whether an existing environment will be replaced. ``registered``: the
    prefixes of the user's registry (replaceable.py)."""
    parent = prefix.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(
            "prefix-parent-not-a-directory",
            Msg(
                "{parent} is not a directory, so {prefix} cannot be made.",
                parent=parent,
                prefix=prefix,
            ),
            Msg("Choose a --prefix whose parent is a directory."),
        )
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(
            "prefix-not-writable",
            Msg(
                "{directory} is not writable, so {prefix} cannot be made there.",
                directory=probe,
                prefix=prefix,
            ),
            Msg("Choose a --prefix in a directory you can write to."),
        )
    if not (prefix.exists() or prefix.is_symlink()):
        return False
    if not replace:
        raise UsageError(
            "prefix-exists",
            Msg("{prefix} already exists.", prefix=prefix),
            Msg(
                "Pass --force to replace it (the old environment stays in place until the new "
                "one is ready), or choose another --prefix."
            ),
        )
    if prefix.is_symlink():
        raise UsageError(
            "prefix-is-symlink",
            Msg("{prefix} is a symbolic link; --force replaces directories only.", prefix=prefix),
            Msg("Pass the real path ({path}) as --prefix.", path=prefix.resolve()),
        )
    real = prefix.resolve()
    for kept in (Path.home(), Path(real.anchor), *protected):
        keep = kept.resolve()
        if real == keep or real in keep.parents:
            raise UsageError(
                "prefix-protected",
                Msg(
                    "{prefix} is or contains {kept}: --force will not replace it.",
                    prefix=prefix,
                    kept=keep,
                ),
                Msg("Give the environment its own directory, e.g. --prefix .venv."),
            )
    if not prefix.is_dir():
        raise UsageError(
            "prefix-not-an-environment",
            Msg(
                "{prefix} exists and is not a directory: --force replaces environments only.",
                prefix=prefix,
            ),
            Msg("Remove it yourself if it is meant to go, or choose another --prefix."),
        )
    kind, foreign = replaceable.foreign_entries(prefix, registered)
    if kind is None:
        raise UsageError(
            "prefix-not-an-environment",
            Msg(
                "{prefix} exists and is not a complete Python or conda environment (a "
                "pyvenv.cfg naming its home and an interpreter in bin/, package records in "
                "conda-meta/, or torchenv's record of it): --force replaces environments only. "
                "It holds: {entries}.",
                prefix=prefix,
                entries=replaceable.describe_loss(foreign),
            ),
            Msg("Remove it yourself if it is meant to go, or choose another --prefix."),
        )
    if foreign:
        raise UsageError(
            "prefix-holds-other-files",
            Msg(
                "{prefix} is a {kind}, but it also holds what --force would delete with it: "
                "{entries}.",
                prefix=prefix,
                kind=kind,
                entries=replaceable.describe_loss(foreign),
            ),
            Msg("Move those out of it first, or choose another --prefix."),
        )
    return True


@contextlib.contextmanager
def exclusive(prefix: Path) -> Iterator[None]:
    path = lock_path(prefix)
    _lock_directory(path)
    try:
        lock = FileLock(str(path), timeout=0)
        lock.acquire()
    except Timeout:
        raise Busy(
            "create-busy",
            Msg(
                "Another torchenv command (create, upgrade, rollback) is changing {prefix} right "
                "now (it holds {lock}).",
                prefix=prefix,
                lock=path,
            ),
            Msg("Wait for it to finish, or work on another --prefix."),
        ) from None
    except OSError as exc:
        raise UsageError(
            "create-lock-failed",
            Msg(
                "Cannot take the lock {lock} for {prefix}: {error}.",
                lock=path,
                prefix=prefix,
                error=exc.strerror,
            ),
            Msg("Set XDG_RUNTIME_DIR or TMPDIR to a directory you can write to."),
        ) from None
    try:
        yield
    finally:
        lock.release()


def _siblings(prefix: Path, mark: str) -> list[Path]:
    return sorted(prefix.parent.glob(glob.escape(f".{prefix.name}{mark}") + "*"))


def remove_leftovers(prefix: Path) -> list[Path]:
    """Directories of ``prefix`` left by killed runs (call with the lock held). An environment
    set aside by a run that died between its two renames is put back, not deleted."""
    removed = []
    olds = _siblings(prefix, OLD_MARK)
    if olds and not (prefix.exists() or prefix.is_symlink()):
        os.replace(olds.pop(), prefix)
    for path in [*_siblings(prefix, BUILD_MARK), *olds]:
        remove_path(path)
        removed.append(path)
    return removed


def remove_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (timeout, docker stop, a cancelled CI job) unwinds like Ctrl-C, so the build
    directory is removed instead of left behind with gigabytes in it."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def build_dir(prefix: Path) -> Iterator[Path]:
    """A fresh sibling directory; removed unless ``promote`` moved it into place."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{prefix.name}{BUILD_MARK}", dir=prefix.parent))
    path.chmod(0o777 & ~umask())  # mkdtemp makes it 0700; the environment gets normal modes
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def promote(
    build: Path,
    prefix: Path,
    replace: bool,
    protected: Sequence[Path] = (),
    registered: Iterable[str] = (),
) -> None:
    """Rename the finished build to ``prefix`` (same file system: one rename each)."""
    if check_target(prefix, replace, protected, registered):
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
