"""Merge freshly read facts into the current torch data (pure; no I/O).

Only the fields ``db update`` regenerates are replaced; everything else in a record (notes, other
fields a later format adds) and every record it did not read stays as it was. A record whose
regenerated fields are all equal keeps its ``source`` text untouched. ``read`` (where the facts
were read) is provenance, not a fact: its rows are replaced role by role (``merge_read``) and a
new URL alone is no change of the release.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

# data/sources.json: S1 = the PyPI index file lists, S2 = wheel METADATA, S3 = wheel files,
# S13 = the cuda-toolkit metapackage's METADATA (cublas/cudart behind torch's pin from 2.11 on).
SOURCE_INDEX, SOURCE_METADATA, SOURCE_WHEEL, SOURCE_TOOLKIT = "S1", "S2", "S3", "S13"
# The download.pytorch.org file list of torch (and, with --archs, its wheels).
SOURCE_PYTORCH_INDEX = "S15"

RELEASE_ORDER = (
    "version",
    "released",
    "yanked",
    "requires_python",
    "python",
    "glibc",
    "pypi_default",
    "pypi_linux_x86_64",
    "cuda_code_cc",
    "torchvision",
    "torchaudio",
)
PER_PLATFORM = ("python", "pypi_default")
WHEEL_FIELDS = ("variant", "cuda", "archs", "git_version", "cudnn", "nccl", "cublas", "cudart")


@dataclass(frozen=True)
class ReleaseChange:
    version: str
    fields: tuple[str, ...]  # the regenerated fields whose value changed ("*" = a new release)


def add_sources(text: str | None, ids: Iterable[str]) -> str:
    """``text`` with the ids it lacks appended; notes in parentheses are kept as they are."""
    text = (text or "").strip()
    parts, depth, start = [], 0, 0
    for at, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:  # commas inside a note do not separate ids
            parts.append(text[start:at])
            start = at + 1
    parts.append(text[start:])
    present = {p.split("(")[0].strip() for p in parts}
    missing = [i for i in ids if i not in present]
    return ",".join([text, *missing] if text else missing)


def is_complete(record: Mapping[str, Any] | None) -> bool:
    """Whether a release already has every fact that needs wheel reads."""
    if not record or not isinstance(record.get("pypi_default"), dict):
        return False
    build = record.get("pypi_linux_x86_64")
    return isinstance(build, dict) and all(key in build for key in WHEEL_FIELDS)


def merge_release(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], ids: Iterable[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(merged record, changed field names); ``new`` holds the regenerated fields only."""
    new = dict(new)
    read = new.pop("read", None)
    if old is None:
        ordered = {k: new[k] for k in RELEASE_ORDER if k in new}
        ordered.update({k: v for k, v in new.items() if k not in ordered})
        if read:
            ordered["read"] = merge_read(None, read)
        ordered["source"] = ",".join(ids)
        return ordered, ("*",)
    for key in PER_PLATFORM:
        # a mirror may hold the wheels of some platforms only: what it lacks is not evidence
        # that PyPI dropped them, so platforms absent from the new facts keep their old values
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            new[key] = {**old[key], **new[key]}
    changed = tuple(k for k, v in new.items() if old.get(k) != v)
    rows = merge_read(old.get("read"), read) if read else old.get("read")
    if not changed and rows == old.get("read"):
        return copy.deepcopy(dict(old)), ()
    merged: dict[str, Any] = {}
    for key in RELEASE_ORDER:
        if key in new or key in old:
            merged[key] = new.get(key, old.get(key))
    for key, value in old.items():
        merged.setdefault(key, copy.deepcopy(value))
    merged.pop("read", None)
    if rows is not None:
        merged["read"] = rows
    merged.pop("source", None)  # "source" last, as in the packaged records
    if changed:  # a new URL alone changes no fact: the sources stay
        merged["source"] = add_sources(str(old.get("source") or ""), ids)
    elif "source" in old:
        merged["source"] = old["source"]
    return merged, changed


# the order of a record's ``read`` rows, by the role that begins their ``what``
_READ_ROLES = (
    "file list",
    "linux_x86_64 wheel",
    "cuda-toolkit wheel",
    "linux_aarch64 wheel",
    "win_amd64 wheel",
    "torchvision wheel",
    "torchaudio wheel",
)


def _role(row: Mapping[str, Any]) -> str:
    return str(row.get("what", "")).split(":", 1)[0]


def merge_read(old: Any, new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``read`` rows of a record: the new ones, and the old ones of roles not read again
    (an incremental update reads the file list only; the wheel rows of the run that read the
    wheels stay, as the facts read from them do)."""
    rows = {_role(r): dict(r) for r in old if isinstance(r, dict)} if isinstance(old, list) else {}
    rows.update({_role(r): dict(r) for r in new})
    rank = {role: at for at, role in enumerate(_READ_ROLES)}
    return [rows[k] for k in sorted(rows, key=lambda k: rank.get(k, len(rank)))]


def merge_releases(
    old: list[dict[str, Any]], fresh: Mapping[str, tuple[dict[str, Any], tuple[str, ...]]]
) -> tuple[list[dict[str, Any]], list[str], list[ReleaseChange]]:
    """Releases merged by version, oldest first; (records, added versions, changes)."""
    by_version = {r["version"]: r for r in old}
    added, changes = [], []
    for version, (facts, ids) in fresh.items():
        merged, changed = merge_release(by_version.get(version), facts, ids)
        if changed == ("*",):
            added.append(version)
        elif changed:
            changes.append(ReleaseChange(version, changed))
        by_version[version] = merged
    ordered = sorted(by_version.values(), key=lambda r: Version(r["version"]))
    return ordered, added, changes


# --- minors ---------------------------------------------------------------------------------
_KIND = {"cu": 0, "rocm": 1, "xpu": 2}


def variant_key(variant: str) -> tuple[int, tuple[int, ...], str]:
    """cu126 < cu130 < rocm7.1 < rocm7.2 < xpu < cpu, the order of the packaged lists."""
    if variant == "cpu":
        return 9, (), variant
    for prefix, rank in _KIND.items():
        if variant.startswith(prefix):
            digits = variant[len(prefix) :]
            numbers = tuple(int(n) for n in digits.split(".") if n.isdigit())
            return rank, numbers, variant
    return 5, (), variant


def minor_record(
    old: Mapping[str, Any] | None,
    by_platform: Mapping[str, set[str]] | None,
    pypi_default: str | None,
) -> dict[str, Any]:
    """A ``minors`` entry from the variants on download.pytorch.org (None when that index was
    not read) and the Linux x86_64 variant PyPI serves for the minor's newest release."""
    record = copy.deepcopy(dict(old or {}))
    ids: list[str] = []
    if by_platform and by_platform.get("linux_x86_64"):
        linux = sorted(by_platform["linux_x86_64"], key=variant_key)
        record["index_variants"] = linux
        # every platform read is kept, also one whose list equals Linux's: the store reads a
        # platform missing here as one without builds (store.platform_variants)
        others = {
            p: sorted(v, key=variant_key)
            for p, v in sorted(by_platform.items())
            if p != "linux_x86_64"
        }
        if others:
            record["index_variants_by_platform"] = others
        else:
            record.pop("index_variants_by_platform", None)
        record["verified"] = True
        if "platform_variants_verified" in record:  # per-platform lists are now read, not inferred
            record["platform_variants_verified"] = dict.fromkeys(others, True)
            record.pop("platform_variants_note", None)
        ids.append(SOURCE_PYTORCH_INDEX)
    elif not old:
        # a minor newer than the data with download.pytorch.org unread: only the PyPI build is
        # known to exist
        record["index_variants"] = [pypi_default] if pypi_default else []
        record["verified"] = False
    if pypi_default:
        record["pypi_default_linux_x86_64"] = pypi_default
        ids.append(SOURCE_WHEEL)
    if old is not None and {k: v for k, v in record.items() if k != "source"} == {
        k: v for k, v in old.items() if k != "source"
    }:
        return copy.deepcopy(dict(old))
    if SOURCE_PYTORCH_INDEX in ids or not old:
        note = "" if SOURCE_PYTORCH_INDEX in ids else " (inferred: download.pytorch.org not read)"
        record["source"] = ",".join(ids) + note
    else:
        record["source"] = add_sources(str(old.get("source") or ""), ids)
    return {k: record[k] for k in _minor_order(record)}


def _minor_order(record: Mapping[str, Any]) -> list[str]:
    first = ["index_variants", "index_variants_by_platform", "pypi_default_linux_x86_64"]
    keys = [k for k in first if k in record]
    keys += [k for k in record if k not in keys and k != "source"]
    return [*keys, "source"] if "source" in record else keys


# --- arch lists -----------------------------------------------------------------------------
def merge_arch_list(rows: list[dict[str, Any]], minor: str, variant: str, archs: list[str]) -> bool:
    """Record a verified arch list for (minor, variant) on Linux x86_64, read from the wheel on
    download.pytorch.org; rows that disagree lose the minor. Returns whether anything changed."""

    def linux(row: Mapping[str, Any]) -> bool:
        return bool(row.get("platform", "linux_x86_64") == "linux_x86_64") and bool(
            row["variant"] == variant
        )

    for row in rows:
        if linux(row) and minor in row["torch"] and row["archs"] == archs and row["verified"]:
            return False
    for row in rows:
        if linux(row) and minor in row["torch"]:
            row["torch"] = [m for m in row["torch"] if m != minor]
    rows[:] = [r for r in rows if r["torch"]]
    for row in rows:
        if linux(row) and row["archs"] == archs and row["verified"]:
            row["torch"] = sorted({*row["torch"], minor}, key=Version)
            row["source"] = add_sources(row.get("source"), [SOURCE_PYTORCH_INDEX])
            return True
    rows.append(
        {
            "torch": [minor],
            "variant": variant,
            "archs": archs,
            "source": SOURCE_PYTORCH_INDEX,
            "verified": True,
        }
    )
    return True
