"""Writing a directory of generated files (an image's build context, deploy files) as one step.

The new directory is filled beside the old one and swapped in by rename, so an interrupted or
failed run leaves the previous directory as it was. The marker file lists what torchenv wrote;
a directory holding anything else (a notebook saved there, a checkpoint, a directory torchenv
never wrote) is not replaced: those files are the user's.

"Anything else" is judged without following symbolic links: torchenv writes regular files and
the directories on their paths, and nothing more, so an empty directory, a directory no listed
file lies in, a symbolic link (even one named like a listed file, to a file or a directory,
dangling or not), a FIFO, a socket or a device is the user's. A file carried over (``keep``: the
Jupyter token) is read through no symbolic link, so a link there cannot copy the file it points
to into an image's build context.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.ship import ShipFile
from torchenv.untrusted.files import DEFAULT_LIMIT, NotRegularFile, kind_of, open_regular, read_text

MARKER = ".torchenv-generated"
_HEADER = "# written by torchenv, which replaces this directory; the files it wrote:\n"
SHOWN = 5
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def replace_dir(
    out: Path, fill: Callable[[Path], None], keep: Iterable[str] = ()
) -> tuple[str, ...]:
    """Fill a fresh sibling of ``out`` with ``fill`` and put it in ``out``'s place; returns the
    files it holds (relative paths, the marker left out). ``keep``: paths (relative) carried
    over from the old directory, such as a secret the user set."""
    out = out.absolute()
    keep = tuple(keep)
    try:
        _check_replaceable(out, keep)
        out.parent.mkdir(parents=True, exist_ok=True)
        suffix = f"{os.getpid()}.{os.urandom(3).hex()}"
        fresh = out.with_name(f".{out.name}.new-{suffix}")
        old = out.with_name(f".{out.name}.old-{suffix}")
        fresh.mkdir()
    except OSError as exc:
        raise _unwritable(out, exc) from None
    try:
        fill(fresh)
        for relative in keep:
            if not os.path.lexists(fresh / relative):
                _carry_over(out, fresh, relative)
        written = sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file())
        (fresh / MARKER).write_text(_HEADER + "".join(f"{w}\n" for w in written))
        if out.exists():
            out.rename(old)
        fresh.rename(out)
    except BaseException as exc:
        if old.exists() and not out.exists():
            old.rename(out)
        shutil.rmtree(fresh, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _unwritable(out, exc) from None
        raise
    # the swap is done; an old copy that cannot be removed is only a leftover
    shutil.rmtree(old, ignore_errors=True)
    return tuple(written)


def _walk(out: Path) -> tuple[dict[str, int], set[str]]:
    """Every entry under ``out``, links not followed: (non-directories with their st_mode,
    real directories), as relative POSIX paths."""
    entries: dict[str, int] = {}
    directories: set[str] = set()

    def fail(exc: OSError) -> None:
        raise exc

    for root, dirnames, filenames in os.walk(out, onerror=fail, followlinks=False):
        base = PurePosixPath(Path(root).relative_to(out).as_posix())
        # os.walk lists a link to a directory among dirnames (and does not enter it)
        for name in (*dirnames, *filenames):
            mode = os.lstat(os.path.join(root, name)).st_mode
            relative = str(base / name)
            if stat.S_ISDIR(mode):
                directories.add(relative)
            else:
                entries[relative] = mode
    return entries, directories


def _check_replaceable(out: Path, keep: tuple[str, ...]) -> None:
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        raise UsageError(
            "out-not-directory",
            Msg("{out} exists and is not a directory.", out=out),
            Msg("Choose another --out."),
        )
    entries, directories = _walk(out)
    if not entries and not directories:
        return
    for relative in keep:
        mode = entries.get(relative)
        if mode is not None and not stat.S_ISREG(mode):
            raise _keep_not_regular(out / relative, kind_of(mode))
    listed: list[str] = []
    if MARKER in entries and stat.S_ISREG(entries[MARKER]):
        try:
            listed = read_text(out / MARKER, DEFAULT_LIMIT, "replace").splitlines()
        except OSError:
            listed = []  # unreadable or swapped since: the directory is not known to be ours
    known = {line for line in listed if line and not line.startswith("#")}
    known.update(keep)
    known.add(MARKER)
    # the directories torchenv made: those on the path of a file it lists
    own_directories = {parent for path in known for parent in _parents(path)}
    foreign = [
        path
        for path, mode in entries.items()
        if path not in known or not stat.S_ISREG(mode)  # a link named like a listed file too
    ]
    # a directory of the user's is shown when it is empty; else what it holds is
    holding = {parent for path in (*entries, *directories) for parent in _parents(path)}
    foreign += [f"{path}/" for path in directories - own_directories - holding]
    foreign.sort()
    if foreign or not listed:
        more = len(foreign) - SHOWN
        listing = ", ".join(foreign[:SHOWN])
        shown = (
            Msg("{files} and {count} more", files=listing, count=more)
            if more > 0
            else listing or Msg("no marker")
        )
        raise UsageError(
            "out-not-torchenv",
            Msg(
                "{out} holds files that torchenv did not write ({files}); it will not replace "
                "them.",
                out=out,
                files=shown,
            ),
            Msg("Move them out of that directory, or choose another --out."),
        )


def _parents(relative: str) -> list[str]:
    """The directories on the path of ``relative`` ("a/b/c": "a/b", "a"), "." left out."""
    return [str(parent) for parent in PurePosixPath(relative).parents][:-1]


def _keep_not_regular(path: Path, kind: str) -> UsageError:
    return UsageError(
        "out-keep-not-file",
        Msg(
            "{path} is {kind}; torchenv carries over only a regular file there, never what a "
            "link points to (it would be copied into the generated directory).",
            path=path,
            kind=kind,
        ),
        Msg("Replace {path} with the file itself, or remove it to have a new one made.", path=path),
    )


def _carry_over(out: Path, fresh: Path, relative: str) -> None:
    """Copy ``out/relative`` to ``fresh/relative`` when it is a regular file, opening every
    component of its path without following a symbolic link; nothing when it is absent. The
    new parents get the permissions of the old ones (the token's directory is 0700)."""
    parts = PurePosixPath(relative).parts
    directory_flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
    opened: list[int] = []
    try:
        opened.append(os.open(out, directory_flags))
        for part in parts[:-1]:
            opened.append(os.open(part, directory_flags, dir_fd=opened[-1]))
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW
        source = os.open(parts[-1], flags, dir_fd=opened[-1])
    except FileNotFoundError:
        _close(opened)
        return
    except OSError as exc:
        _close(opened)
        # O_NOFOLLOW meets a link: ELOOP for the file, ENOTDIR for a directory on its path
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        kind = Msg("reached through a symbolic link")
        raise _keep_not_regular(out / relative, kind) from None
    try:
        info = os.fstat(source)
        if not stat.S_ISREG(info.st_mode):
            raise _keep_not_regular(out / relative, kind_of(info.st_mode))
        target = fresh / relative
        for depth in range(len(parts) - 1):
            made = fresh.joinpath(*parts[: depth + 1])
            if not made.is_dir():
                made.mkdir()
                made.chmod(stat.S_IMODE(os.fstat(opened[depth + 1]).st_mode))
        with os.fdopen(source, "rb", closefd=False) as reader, open(target, "xb") as writer:
            shutil.copyfileobj(reader, writer)
        os.chmod(target, stat.S_IMODE(info.st_mode))
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    finally:
        os.close(source)
        _close(opened)


def _close(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)


def _unwritable(out: Path, exc: OSError) -> UsageError:
    where = exc.filename or out
    return UsageError(
        "out-unwritable",
        Msg(
            "Cannot write {out}: {error} ({where}).",
            out=out,
            error=exc.strerror or str(exc),
            where=where,
        ),
        Msg("Choose an --out you can write to."),
    )


def write_files(root: Path, files: Iterable[ShipFile]) -> None:
    """The generated files under ``root``, a fresh directory. A lone surrogate in a text (an
    undecodable byte of a path, as os.fsdecode gives it) is written as that byte again."""
    for item in files:
        relative = PurePosixPath(item.path)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"generated file outside its directory: {item.path!r}")
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.text, "utf-8", "surrogateescape")
        path.chmod(0o755 if item.executable else 0o644)


def copy_wheel(source: Path, dest_dir: Path) -> None:
    """A hard link where the file system allows one (CUDA wheels are gigabytes), else a copy.
    Only a regular file (a link to one is followed) is taken: a FIFO would hang the copy, and
    a hard link to a link or a device would put that into the build context. What is linked
    or copied is the very file that was checked."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.name
    try:
        reader = open_regular(source)
    except NotRegularFile as exc:
        kind = (exc.strerror or "").removeprefix("it is ")
        raise _bad_wheel(source, Msg("is {kind}", kind=kind)) from None
    except OSError as exc:
        why = Msg("cannot be read ({error})", error=exc.strerror or str(exc))
        raise _bad_wheel(source, why) from None
    with reader:
        checked = os.fstat(reader.fileno())
        try:
            os.link(source, target, follow_symlinks=True)
            linked = os.lstat(target)
            if (linked.st_dev, linked.st_ino) == (checked.st_dev, checked.st_ino):
                return
            os.unlink(target)  # the path changed between the check and the link
        except OSError:
            pass
        with open(target, "xb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)


def _bad_wheel(source: Path, why: str) -> UsageError:
    return UsageError(
        "image-wheel-not-file",
        Msg(
            "The lock names the local wheel {wheel}, which {why}; torchenv copies only a "
            "regular file into the build context.",
            wheel=source,
            why=why,
        ),
        Msg(
            "Put the wheel file itself at that path (or lock again with one that is), then run "
            "`torchenv image` again."
        ),
    )
