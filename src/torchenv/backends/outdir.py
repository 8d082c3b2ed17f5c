"""Writing a directory of generated files (an image's build context, deploy files) as one step.

The new directory is filled beside the old one and swapped in by rename, so an interrupted or
failed run leaves the previous directory as it was. A directory torchenv did not write (no
marker file) is never replaced: it may be the user's own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from torchenv.errors import UsageError
from torchenv.models.ship import ShipFile

MARKER = ".torchenv-generated"


def replace_dir(out: Path, fill: Callable[[Path], None], keep: Iterable[str] = ()) -> None:
    """Fill a fresh sibling of ``out`` with ``fill`` and put it in ``out``'s place. ``keep``:
    paths (relative) carried over from the old directory, such as a secret the user set."""
    out = out.absolute()
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir():
            raise UsageError(
                "out-not-directory",
                f"{out} exists and is not a directory.",
                "Choose another --out.",
            )
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise UsageError(
                "out-not-torchenv",
                f"{out} holds files that torchenv did not write; it will not replace them.",
                "Choose another --out, or empty that directory.",
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("out-unwritable", f"Cannot create {out.parent}: {exc.strerror}.") from None
    suffix = f"{os.getpid()}.{os.urandom(3).hex()}"
    fresh = out.with_name(f".{out.name}.new-{suffix}")
    old = out.with_name(f".{out.name}.old-{suffix}")
    try:
        fresh.mkdir()
        fill(fresh)
        for relative in keep:
            source = out / relative
            if source.is_file() and not (fresh / relative).exists():
                (fresh / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, fresh / relative)
        (fresh / MARKER).write_text("written by torchenv; it replaces this directory\n")
        if out.exists():
            out.rename(old)
        fresh.rename(out)
    except BaseException:
        if old.exists() and not out.exists():
            old.rename(out)
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(old)


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
