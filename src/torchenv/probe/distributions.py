"""Installed distributions, read from ``*.dist-info``/``*.egg-info`` files on the host side.

Origin evidence follows PyPA "Recording installed projects": INSTALLER (pip, uv, conda, uv-pixi),
REQUESTED, direct_url.json (PEP 610). Broken metadata gives a distribution with ``error`` set,
never an exception: a corrupt METADATA file is a finding, not a crash.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from torchenv.models import Distribution, FileConflict, to_data
from torchenv.models.environment import canonical_name
from torchenv.probe.cache import file_stamp
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_bytes, read_prefix, read_text
from torchenv.untrusted.text import load_json

_DIR_NAME = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+?)(?:-py\d.*)?\.(?:dist|egg)-info$")
# Only the beginning of METADATA is read: its headers never come close to this, the description
# after them can be megabytes (a cap on the whole file would reject such a package).
_HEADER_LIMIT = 256 * 1024
_SMALL_LIMIT = 64 * 1024  # INSTALLER, direct_url.json
# torch's RECORD lists ~15k files; kubernetes-validate 1.37's (the largest here) is 2.6 MB
RECORD_LIMIT = 32 << 20


def parse_metadata_headers(text: str) -> dict[str, list[str]]:
    """RFC 822 style headers up to the first blank line (continuation lines folded)."""
    headers: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        is_header = bool(sep and key and line[0] not in " \t" and " " not in key.strip())
        if not is_header and last is not None:
            # a folded line; old PKG-INFO files also fold License text without indenting it,
            # which importlib.metadata accepts too
            headers[last][-1] += " " + line.strip()
            continue
        if not is_header:
            raise ValueError(f"not a metadata header line: {line[:60]!r}")
        last = key.strip().lower()
        headers.setdefault(last, []).append(value.strip())
    return headers


def _read_small(path: str) -> str | None:
    """A small metadata file; None when absent, unreadable, not a regular file or too big."""
    try:
        return read_bytes(path, _SMALL_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None


def read_record_rows(metadata_dir: str) -> list[list[str]] | None:
    """The rows of a distribution's RECORD (PEP 376 CSV); None when it cannot be read."""
    try:
        text = read_text(os.path.join(metadata_dir, "RECORD"), RECORD_LIMIT, errors="replace")
        return list(csv.reader(io.StringIO(text, newline="")))
    except (OSError, csv.Error):
        return None


def read_distribution(site_dir: str, entry: str) -> Distribution:
    meta_dir = os.path.join(site_dir, entry)
    from_name = _DIR_NAME.match(entry)
    dir_name = from_name.group("name") if from_name else entry.rsplit(".", 1)[0]
    dir_version = from_name.group("version") if from_name else None
    is_egg = entry.endswith(".egg-info")
    error = None
    headers: dict[str, list[str]] = {}
    meta_file = os.path.join(meta_dir, "PKG-INFO" if is_egg else "METADATA")
    if is_egg and os.path.isfile(meta_dir):
        meta_file = meta_dir  # a single-file egg-info
    try:
        # the beginning only, of a regular file only: a FIFO or /dev/zero there must not hang
        text = read_prefix(meta_file, _HEADER_LIMIT).decode("utf-8", "replace")
    except FileNotFoundError:
        error = f"{os.path.basename(meta_file)} is missing"
    except OSError as exc:
        error = f"{os.path.basename(meta_file)} is unreadable: {describe(exc)}"
    else:
        try:
            headers = parse_metadata_headers(text)
        except ValueError as exc:
            error = f"{os.path.basename(meta_file)} is malformed: {exc}"
    name = headers["name"][0] if headers.get("name") else dir_name
    version = headers["version"][0] if headers.get("version") else dir_version
    if not error and not headers.get("version"):
        error = "METADATA has no Version header"
    installer = _read_small(os.path.join(meta_dir, "INSTALLER"))
    direct_url, editable = _direct_url(os.path.join(meta_dir, "direct_url.json"))
    return Distribution(
        name=canonical_name(name),
        version=version,
        location=site_dir,
        metadata_dir=meta_dir,
        installer=(installer.strip() or None) if installer is not None else None,
        requested=os.path.exists(os.path.join(meta_dir, "REQUESTED")) if not is_egg else None,
        direct_url=direct_url,
        editable=editable,
        requires=tuple(headers.get("requires-dist", ())),
        requires_python=headers["requires-python"][0] if headers.get("requires-python") else None,
        error=error,
    )


def _direct_url(path: str) -> tuple[str | None, bool]:
    text = _read_small(path)
    if text is None:
        return None, False
    try:
        data = load_json(text)
    except ValueError:
        return None, False
    if not isinstance(data, dict):
        return None, False
    url = data.get("url") if isinstance(data.get("url"), str) else None
    dir_info = data.get("dir_info")
    editable = bool(isinstance(dir_info, dict) and dir_info.get("editable"))
    return url, editable


def scan_site_dirs(site_dirs: Iterable[str]) -> list[Distribution]:
    """Every distribution in sys.path order (the first of a name is the one Python imports)."""
    found: list[Distribution] = []
    for site_dir in site_dirs:
        try:
            entries = sorted(os.listdir(site_dir))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".dist-info", ".egg-info")):
                found.append(read_distribution(site_dir, entry))
    return found


def find_file_conflicts(dists: Iterable[Distribution]) -> list[FileConflict]:
    """Paths that more than one RECORD claims with different content (last writer won).

    Identical files (same recorded hash) are not conflicts: every nvidia-*-cu12 wheel ships the
    same empty ``nvidia/__init__.py``, and that is harmless. Two NCCL wheels writing
    ``nvidia/nccl/lib/libnccl.so.2`` (failure catalog B3) are not.
    """
    owners: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for dist in dists:
        rows = read_record_rows(dist.metadata_dir)
        for row in rows or ():
            if not row or not row[0] or row[0].startswith(("..", "/")):
                continue
            path = row[0]
            if ".dist-info/" in path or "__pycache__" in path:
                continue
            digest = row[1] if len(row) > 1 else ""
            owners.setdefault((dist.location, path), []).append((dist.name, digest))
    conflicts = []
    for (_, path), claims in owners.items():
        names = tuple(dict.fromkeys(name for name, _ in claims))
        digests = {digest for _, digest in claims}
        if len(names) > 1 and (len(digests) > 1 or "" in digests):
            conflicts.append(FileConflict(path=path, owners=names))
    return sorted(conflicts, key=lambda c: c.path)


def cached_file_conflicts(ctx: ProbeContext, dists: Sequence[Distribution]) -> list[FileConflict]:
    """find_file_conflicts, cached while no RECORD file changed (torch's lists ~15k files)."""
    records = [os.path.join(d.metadata_dir, "RECORD") for d in dists]
    stamp = "|".join(f"{r}={file_stamp(Path(r))}" for r in records)
    key = "\0".join(sorted({d.location for d in dists}))
    hit = ctx.cache.get("file-conflicts", key, stamp)
    if isinstance(hit, list):
        return [FileConflict(c["path"], tuple(c["owners"])) for c in hit]
    conflicts = find_file_conflicts(dists)
    ctx.cache.put("file-conflicts", key, stamp, [to_data(c) for c in conflicts])
    return conflicts
