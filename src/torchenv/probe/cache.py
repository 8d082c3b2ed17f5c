"""A small on-disk cache for facts that are costly to read.

Entries are keyed by what they describe (a file path, an interpreter) and stamped with what would
change if the fact changed (size and mtime of the file, the hash of the probe script). A stale,
corrupt or unreadable entry is a miss, never an error: the cache only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchenv.untrusted.files import read_bytes, write_atomic
from torchenv.untrusted.text import load_json

CACHE_FORMAT = 1
# entries hold a few facts (an interpreter's answer, a list of file conflicts): far below this
ENTRY_LIMIT = 16 << 20


def file_stamp(path: Path) -> str | None:
    """Size, mtime and inode of a file: changes whenever the file is replaced or rewritten."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


class Cache:
    def __init__(self, root: Path | None) -> None:
        self.root = root  # None: caching disabled

    @classmethod
    def for_user(cls, env: Mapping[str, str]) -> Cache:
        """The user's cache directory (platformdirs), or $TORCHENV_CACHE_DIR; off when
        $TORCHENV_NO_CACHE is set."""
        if env.get("TORCHENV_NO_CACHE"):
            return cls(None)
        override = env.get("TORCHENV_CACHE_DIR")
        if override:
            return cls(Path(override))
        import platformdirs  # noqa: PLC0415  (only needed when the cache is used)

        return cls(Path(platformdirs.user_cache_dir("torchenv", appauthor=False)))

    def _entry(self, namespace: str, key: str) -> Path | None:
        if self.root is None:
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return self.root / f"v{CACHE_FORMAT}" / namespace / f"{digest}.json"

    def get(self, namespace: str, key: str, stamp: str) -> Any | None:
        path = self._entry(namespace, key)
        if path is None:
            return None
        try:
            entry = load_json(read_bytes(path, ENTRY_LIMIT))
        except (OSError, ValueError):  # a FIFO or a huge file in its place is a miss too
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or entry.get("stamp") != stamp:
            return None
        return entry.get("value")

    def put(self, namespace: str, key: str, stamp: str, value: Any) -> None:
        path = self._entry(namespace, key)
        if path is None:
            return
        data = json.dumps({"key": key, "stamp": stamp, "value": value}).encode("utf-8")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # atomic: concurrent readers see the old or the new entry; and only a regular file
            # is replaced, as everywhere torchenv writes
            write_atomic(path, data)
        except OSError:
            pass  # the cache only ever saves time
