"""Reading and writing files that somebody else may have put in torchenv's way.

- Reads accept regular files only, up to a size cap: a FIFO would block the open or the read
  forever, ``/dev/zero`` never ends, and a multi-GB file is not a spec. The file is opened with
  ``O_NONBLOCK`` (opening a FIFO does not wait for a writer) and checked with ``fstat`` on the
  open descriptor, so what is checked is what is read.
- Writes replace a regular file or create one, and nothing else: a symbolic link (dangling or
  not), a FIFO, a device node or a directory in the target's place is refused, since renaming over
  it would destroy what it was (``/dev/null`` made a regular file). The data is written to a
  temporary sibling and renamed in, so a reader never sees half a file.
- A private directory (locks, scratch space) under a shared one such as /tmp must belong to
  this user and be writable by nobody else, or another user could plant files in it.

The errors are ``OSError`` subclasses, so a caller that already handles an unreadable file
handles these the same way; ``strerror`` says what was wrong.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from torchenv.errors import UsageError
from torchenv.i18n import Msg

# large enough for any file torchenv reads whole (the biggest: a lock of a CUDA stack, ~100 kB;
# the knowledge data, ~1 MB), small enough that a hostile file cannot exhaust memory
DEFAULT_LIMIT = 16 << 20
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a directory, a socket or (for writes) a symbolic link."""


class FileTooLarge(OSError):
    """The file is larger than the cap of the reader."""


class UnsafeDirectory(OSError):
    """A private directory belongs to another user or can be written by others."""


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` is, in words."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    for test, text in kinds:
        if test(mode):
            return text
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"


def _not_regular(path: str | os.PathLike[str], mode: int) -> NotRegularFile:
    return NotRegularFile(
        errno.EINVAL, f"it is {kind_of(mode)}, not a regular file", os.fspath(path)
    )


def _too_large(path: str | os.PathLike[str], limit: int) -> FileTooLarge:
    return FileTooLarge(errno.EFBIG, f"it is larger than {_size(limit)}", os.fspath(path))


def _open_regular_fd(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """A descriptor of ``path`` opened without blocking, checked to be a regular file. It is
    checked before the open too: opening some devices acts (a watchdog arms, a tape rewinds),
    and paths here may come from other users (a process's environment, a lock)."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(path, before.st_mode)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def read_bytes(path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT) -> bytes:
    """The content of the regular file ``path`` (symbolic links followed), at most ``limit``
    bytes; ``NotRegularFile`` or ``FileTooLarge`` otherwise, and the usual ``OSError``s."""
    fd, info = _open_regular_fd(path)
    try:
        if info.st_size > limit:
            raise _too_large(path, limit)
        chunks: list[bytes] = []
        total = 0
        # /proc and /sys files report size 0: read until the end, but never past the cap
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise _too_large(path, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(
    path: str | os.PathLike[str], limit: int = DEFAULT_LIMIT, errors: str = "strict"
) -> str:
    """``read_bytes`` decoded as UTF-8 (``UnicodeDecodeError`` with ``errors="strict"``)."""
    return read_bytes(path, limit).decode("utf-8", errors)


def read_prefix(path: str | os.PathLike[str], size: int) -> bytes:
    """The first ``size`` bytes of a regular file (a header, a marker), whatever its length."""
    fd, _ = _open_regular_fd(path)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading in binary, when it is a regular file (for files read in
    blocks rather than whole, such as wheels of gigabytes)."""
    fd, _ = _open_regular_fd(path)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def sha256_of(path: str | os.PathLike[str]) -> str:
    """sha256 of a regular file, read in blocks (CUDA wheels and packages are gigabytes)."""
    import hashlib  # noqa: PLC0415

    digest = hashlib.sha256()
    with open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def existing_regular(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a regular file that a write may replace (False: nothing is
    there). Anything else in its place, a symbolic link included, is ``NotRegularFile``."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISREG(info.st_mode):
        return True
    raise NotRegularFile(
        errno.EEXIST,
        f"it is {kind_of(info.st_mode)}; torchenv replaces regular files only",
        os.fspath(path),
    )


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> None:
    """Put ``data`` at ``path`` in one rename, refusing anything but a regular file in its
    place. ``mode``: the new file's permissions (default: 0666 less the umask)."""
    target = Path(path)
    existing_regular(target)
    temp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temp, flags, 0o666 if mode is None else mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)  # the umask applies to os.open's mode
        existing_regular(target)  # once more, right before the rename
        os.replace(temp, target)
    finally:
        # gone after a successful replace; left behind only by a failure or an interrupt
        with contextlib.suppress(OSError):
            os.unlink(temp)


_THE_FILE = Msg("the file")  # what write_output writes, unless told


def write_output(
    path: str | os.PathLike[str], data: bytes, *, what: str = _THE_FILE, mode: int | None = None
) -> None:
    """``write_atomic`` for a file the user asked for: every failure is a ``UsageError`` that
    names the path, and a non-regular file in its place is left as it is. ``what``: a ``Msg``
    ("the lock"), shown translated within the message."""
    try:
        write_atomic(path, data, mode)
    except NotRegularFile as exc:
        raise UsageError(
            "output-not-a-file",
            Msg(
                "Cannot write {what} {path}: {reason}, so it was left as it is.",
                what=what,
                path=os.fspath(path),
                reason=exc.strerror,
            ),
            Msg(
                "Remove it yourself if {what} should take its place, or choose another path.",
                what=what,
            ),
        ) from None
    except OSError as exc:
        raise UsageError(
            "output-unwritable",
            Msg(
                "Cannot write {what} {path}: {reason}.",
                what=what,
                path=os.fspath(path),
                reason=describe(exc),
            ),
            Msg("Choose a location you can write to."),
        ) from None
    except ValueError:  # a NUL byte in the path: no file can have that name
        raise UsageError(
            "output-bad-path",
            Msg(
                "Cannot write {what} {path}: a path cannot hold a NUL byte.",
                what=what,
                path=repr(os.fspath(path)),
            ),
            Msg("Choose another path."),
        ) from None


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a directory of this user's that nobody else may write to, made with mode 0700
    when missing, and set to 0700 when it is this user's but others may write to it. A
    directory of another owner (planted in /tmp by another user), or a link, is
    ``UnsafeDirectory``."""
    directory = Path(path)
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(
            errno.ENOTDIR, f"it is {kind_of(info.st_mode)}, not a directory", str(directory)
        )
    uid = os.getuid() if hasattr(os, "getuid") else info.st_uid
    if info.st_uid != uid:
        raise UnsafeDirectory(
            errno.EPERM,
            f"it belongs to uid {info.st_uid}, not to this user (uid {uid})",
            str(directory),
        )
    if info.st_mode & 0o022:
        # this user's own, made by an older torchenv under a umask of 002: made private again
        # (another user cannot have made it: the owner is checked above)
        os.chmod(directory, 0o700)
    return directory


def describe(exc: OSError) -> str:
    """``exc`` as the end of a sentence: "it is a FIFO (named pipe), not a regular file",
    "Permission denied"."""
    return exc.strerror or str(exc)
