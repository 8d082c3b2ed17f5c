"""Writing a directory of generated files (an image's build context, deploy files) as one step.

The new directory is filled beside the old one and swapped in by rename, so an interrupted or
failed run leaves the previous directory as it was. The marker file lists what torchenv wrote;
a directory holding anything else (a notebook saved there, a checkpoint, a directory torchenv
never wrote) is not replaced: those files are the user's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from torchenv.errors import UsageError
from torchenv.models.ship import ShipFile

MARKER = ".torchenv-generated"
_HEADER = "# written by torchenv, which replaces this directory; the files it wrote:\n"
SHOWN = 5


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
            source = out / relative
            if source.is_file() and not (fresh / relative).exists():
                (fresh / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, fresh / relative)
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


def _check_replaceable(out: Path, keep: tuple[str, ...]) -> None:
    if not (out.exists() or out.is_symlink()):
        return
    if out.is_symlink() or not out.is_dir():
        raise UsageError(
            "out-not-directory", f"{out} exists and is not a directory.", "Choose another --out."
        )
    present = sorted(str(p.relative_to(out)) for p in out.rglob("*") if not p.is_dir())
    if not present:
        return
    try:
        listed = (out / MARKER).read_text("utf-8").splitlines()
    except FileNotFoundError:
        listed = []
    known = {line for line in listed if line and not line.startswith("#")}
    known.update(keep)
    known.add(MARKER)
    foreign = [p for p in present if p not in known]
    if foreign or not listed:
        more = len(foreign) - SHOWN
        shown = ", ".join(foreign[:SHOWN]) + (f" and {more} more" if more > 0 else "")
        raise UsageError(
            "out-not-torchenv",
            f"{out} holds files that torchenv did not write ({shown or 'no marker'}); it will not "
            "replace them.",
            "Move them out of that directory, or choose another --out.",
        )


def _unwritable(out: Path, exc: OSError) -> UsageError:
    where = exc.filename or out
    return UsageError(
        "out-unwritable",
        f"Cannot write {out}: {exc.strerror or exc} ({where}).",
        "Choose an --out you can write to.",
    )


def write_files(root: Path, files: Iterable[ShipFile]) -> None:
    for item in files:
        path = root / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.text, "utf-8")
        path.chmod(0o755 if item.executable else 0o644)


def copy_wheel(source: Path, dest_dir: Path) -> None:
    """A hard link where the file system allows one (CUDA wheels are gigabytes), else a copy."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.name
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
