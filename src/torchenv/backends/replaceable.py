"""What ``create --force`` may replace: an environment, and nothing of the user's with it.

A directory qualifies when it is one of:
- an environment torchenv made: its ``torchenv-env.json`` is a record of schema
  ``torchenv.env/1`` and the user's registry lists the prefix;
- a complete venv: a ``pyvenv.cfg`` that names the ``home`` of its Python, and an interpreter in
  ``bin/`` (``Scripts\\`` on Windows), as ``python -m venv``, virtualenv and uv make them;
- a complete conda prefix: ``conda-meta/`` with at least one package record.

and it holds nothing else at its top level: a venv only what venv tools and packages put
there (``bin``, ``lib``, ``include``, ``share``, ...), a conda prefix only the top-level
entries of the files its packages installed. Anything more (a notebook, a data folder, a
``.git``) would be lost with it, so the directory is refused with that list.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from torchenv.backends.conda import installed_files
from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.i18n import Msg
from torchenv.models.build import ENV_RECORD_FILE
from torchenv.untrusted import files

# what venv, virtualenv and uv write at a prefix's top level, and what packages install there
# (data files of wheels go to share/, etc/, include/; man pages to share/man or man/)
VENV_ENTRIES = frozenset(
    {
        "bin",
        "Scripts",
        "lib",
        "lib64",
        "Lib",
        "include",
        "Include",
        "share",
        "etc",
        "man",
        "pyvenv.cfg",
        ".gitignore",  # uv and virtualenv
        "CACHEDIR.TAG",  # uv
        ".lock",  # uv
        ENV_RECORD_FILE,
    }
)
CONDA_BOOKKEEPING = frozenset({"conda-meta", ".nonadmin", ENV_RECORD_FILE, ".condarc"})
SHOWN = 8


def listing(prefix: Path) -> list[str]:
    try:
        return sorted(os.listdir(prefix))
    except OSError:
        return []


def complete_venv(prefix: Path) -> bool:
    try:
        cfg = files.read_text(prefix / "pyvenv.cfg", 1 << 20, errors="replace")
    except OSError:
        return False
    has_home = any(
        key.strip() == "home" and value.strip()
        for key, _, value in (line.partition("=") for line in cfg.splitlines())
    )
    interpreters = ("bin/python", "bin/python3", "Scripts/python.exe")
    return has_home and any(os.path.lexists(prefix / name) for name in interpreters)


def conda_entries(prefix: Path) -> frozenset[str] | None:
    """The top-level names the conda packages of ``prefix`` installed; None when it has no
    readable package record (not a conda prefix)."""
    names: set[str] = set()
    found = False
    for listed in installed_files(prefix):
        found = True
        names.update(f.split("/", 1)[0] for f in listed)
    return frozenset(names) if found else None


def recorded(prefix: Path, registered: Iterable[str]) -> bool:
    """torchenv's own record is in the prefix and the registry lists it."""
    try:
        record = read_env_record(prefix)
    except RecordUnusable:
        return False
    return record is not None and str(prefix) in set(registered)


def foreign_entries(prefix: Path, registered: Iterable[str]) -> tuple[str | None, list[str]]:
    """(what kind of environment ``prefix`` is, or None; the top-level entries that are not
    the environment's). An environment may be replaced when the kind is set and the list
    empty."""
    present = listing(prefix)
    if recorded(prefix, registered):
        kind: str | None = Msg("environment made by torchenv")
    elif complete_venv(prefix):
        kind = Msg("venv")
    else:
        kind = None
    conda = conda_entries(prefix)
    if conda is not None:
        allowed = conda | CONDA_BOOKKEEPING | (VENV_ENTRIES if kind else frozenset())
        kind = kind or Msg("conda environment")
    else:
        allowed = VENV_ENTRIES
    if kind is None:
        return None, present
    return kind, [name for name in present if name not in allowed]


def describe_loss(names: list[str]) -> str:
    more = len(names) - SHOWN
    listing = ", ".join(names[:SHOWN])
    if more > 0:
        return Msg("{names} and {count} more", names=listing, count=more)
    return listing or Msg("nothing")
