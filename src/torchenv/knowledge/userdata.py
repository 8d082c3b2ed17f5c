"""Where torchenv keeps the user's data: `db update`'s copies of the knowledge files and the
registry of environments `create` made."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_data_dir() -> Path:
    """Where ``db update`` writes: $TORCHENV_DATA_DIR, else the platform's user data directory."""
    override = os.environ.get("TORCHENV_DATA_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("linux"):
        # what platformdirs answers on Linux (the XDG base directory spec: an absolute
        # $XDG_DATA_HOME, else ~/.local/share), without its import on every start-up
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
        return base / "torchenv" / "knowledge"
    import platformdirs  # noqa: PLC0415  (macOS and Windows have their own places)

    return Path(platformdirs.user_data_dir("torchenv", appauthor=False)) / "knowledge"


def registry_file() -> Path:
    """The user's list of environments torchenv created: in $TORCHENV_DATA_DIR when set, else
    in the platform's user data directory."""
    override = os.environ.get("TORCHENV_DATA_DIR")
    if override:
        return Path(override).expanduser() / "environments.json"
    return user_data_dir().parent / "environments.json"
