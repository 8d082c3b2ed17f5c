"""The packaged torch data against the facts a fresh ``db update`` read (pure; no I/O).

``fresh`` is what ``update.update_torch_data`` returns when it starts from a skeleton without
records: every record in it was read in this run. Only what that run regenerates is compared, and
only where its source was read (``Scope.unread``): a source that could not be read is no evidence
that a fact changed. Where ``db update`` keeps the recorded value because the fresh read found
none (an HTML page has no upload time; no domain release pins the torch), the record is not
contradicted either, so those are not differences. What is left is what a maintainer has to look
at: a release the index has and the data lacks, a release the data has and the index lost, and
every field that now reads otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.knowledge.indexes import IndexFile
from torchenv.knowledge.releases import is_legacy_manylinux, wheel_of
from torchenv.models.matrix import ABSENT, CHANGED, MISSING, DataDifference

# Source ids: the ones a fresh run can fail to read are the ``SourceFailure.source`` ids of
# ``update`` ("pytorch-index", "torchvision", "torchaudio", "cuda-toolkit").
PYPI = "pypi"  # the torch project page of the PyPI index
PYPI_WHEELS = "pypi-wheels"  # the torch wheels it lists (version.py, METADATA, the library)
TORCHVISION, TORCHAUDIO, TOOLKIT = "torchvision", "torchaudio", "cuda-toolkit"
PYTORCH_INDEX = "pytorch-index"  # the torch page of download.pytorch.org
PYTORCH_WHEELS = "pytorch-wheels"  # the CUDA wheels it lists (their arch lists)

# The release fields the fresh run regenerates and where each is read (data/README.md).
RELEASE_FIELDS = {
    "released": PYPI,
    "yanked": PYPI,
    "requires_python": PYPI,
    "python": PYPI,
    "glibc": PYPI,
    "pypi_default": PYPI_WHEELS,
    "pypi_linux_x86_64": PYPI_WHEELS,
    TORCHVISION: TORCHVISION,
    TORCHAUDIO: TORCHAUDIO,
}
# The record's key, its provenance (source ids; ``read``: the URLs a `db update` read, which
# differ from one index to the next) and hand-written text are not facts the indexes hold.
NOT_COMPARED = frozenset({"version", "source", "read", "notes"})
# `db update` keeps the recorded value where the fresh read finds none (an HTML page has no
# upload time; no domain release pins this torch, the pairing is documented): a null there
# contradicts nothing
KEPT_WHEN_UNKNOWN = frozenset({"released", "requires_python", TORCHVISION, TORCHAUDIO})
# platform -> value maps: a platform only one side lists is a difference (wheels added or gone);
# in other objects only the keys the fresh run writes are compared (a later format may add some)
PLATFORM_MAPS = frozenset({"python", "pypi_default"})
TOOLKIT_PINS = frozenset({"cublas", "cudart"})  # behind the cuda-toolkit pin from 2.11 on
LINUX = "linux_x86_64"
ONLY_HINT = Msg(
    "Name final releases as the index lists them, e.g. --only 2.13.0 (repeat for more)."
)


@dataclass(frozen=True)
class Scope:
    """What the fresh run covered and what it could not read."""

    index_versions: tuple[str, ...]  # the final torch releases on the PyPI index
    only: frozenset[str] | None = None  # --only; None: every release is in scope
    # releases whose Linux x86_64 wheels carry legacy manylinux tags only: their glibc was read
    # from the binaries (S14) and may be above what the tag promises, as ``db update`` keeps it
    legacy_glibc: frozenset[str] = frozenset()
    unread: Mapping[str, str] = field(default_factory=dict)  # source id -> why not read
    sources: Mapping[str, str] = field(default_factory=dict)  # source id -> what was read


def compare(
    packaged: Mapping[str, Any], fresh: Mapping[str, Any] | None, scope: Scope
) -> tuple[DataDifference, ...]:
    """Every difference: releases (oldest first), then minors, then arch lists. ``fresh`` is
    None when no release was read in full: then only presence on the index is compared."""
    # keyed by one spelling per release, shown as each side spells it
    old = {_norm(r["version"]): r for r in _rows(packaged.get("releases"), "version")}
    new = {_norm(r["version"]): r for r in _rows((fresh or {}).get("releases"), "version")}
    found = list(_presence({k: r["version"] for k, r in old.items()}, scope))
    legacy = {_norm(v) for v in scope.legacy_glibc}
    for key, record in new.items():
        if key in old:
            version = record["version"]
            glibc_kept = key in legacy
            found += [(version, d) for d in _release(version, old[key], record, scope, glibc_kept)]
    found.sort(key=lambda pair: _sort_key(pair[0]))
    diffs = [d for _, d in found]
    if fresh is not None:
        diffs += _minors(packaged, fresh, scope, set(new))
        diffs += _arch_lists(packaged, fresh, scope)
    return tuple(diffs)


def _presence(ours: Mapping[str, str], scope: Scope) -> Iterator[tuple[str, DataDifference]]:
    """Releases on one side only (``ours``: key -> the packaged spelling)."""
    index = {_norm(v): v for v in scope.index_versions}
    only = None if scope.only is None else {_norm(v) for v in scope.only}
    source = _source(scope, PYPI)
    for key, version in index.items():
        if key not in ours and (only is None or key in only):
            yield version, DataDifference(f"release {version}", "", MISSING, None, version, source)
    for key, version in ours.items():
        if key not in index and (only is None or key in only):
            yield version, DataDifference(f"release {version}", "", ABSENT, version, None, source)


def _release(
    version: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    scope: Scope,
    glibc_kept: bool,
) -> Iterator[DataDifference]:
    where = f"release {version}"
    keys = [k for k in RELEASE_FIELDS if k in new]
    keys += sorted(k for k in new if k in old and k not in RELEASE_FIELDS)
    for key in (k for k in keys if k not in NOT_COMPARED):
        source = RELEASE_FIELDS.get(key, PYPI_WHEELS)
        value = new[key]
        if source in scope.unread or (value is None and key in KEPT_WHEN_UNKNOWN):
            continue
        if key == "glibc" and glibc_kept and _above(old.get(key), value):
            continue
        for path, before, after in _walk(key, old.get(key), value, key in PLATFORM_MAPS):
            leaf = path.rsplit(".", 1)[-1]
            if after is None and leaf in TOOLKIT_PINS and TOOLKIT in scope.unread:
                continue  # the metapackage was not read: the pin behind it stays unknown
            yield DataDifference(where, path, CHANGED, before, after, _source(scope, source))


def _walk(path: str, old: Any, new: Any, every_key: bool) -> Iterator[tuple[str, Any, Any]]:
    """(path, packaged, fresh) of each leaf that differs; objects are compared key by key."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [*new, *(k for k in old if k not in new)] if every_key else list(new)
        for key in keys:
            yield from _walk(f"{path}.{key}", old.get(key), new.get(key), False)
    elif old != new or type(old) is not type(new):  # True == 1, but "yanked": 1 is not a fact
        yield path, old, new


def _minors(
    packaged: Mapping[str, Any], fresh: Mapping[str, Any], scope: Scope, read: set[str]
) -> Iterator[DataDifference]:
    old_minors, new_minors = _map(packaged, "minors"), _map(fresh, "minors")
    variants_read = PYTORCH_INDEX not in scope.unread
    for minor in sorted(new_minors, key=_sort_key):
        new, old = new_minors[minor], old_minors.get(minor)
        where = f"minor {minor}"
        if not isinstance(old, dict):
            yield DataDifference(where, "", MISSING, None, minor, _source(scope, PYPI))
            continue
        # the minor's PyPI build is that of its newest release: only a run that read that one
        # regenerates it (--only 2.13.0 says nothing about a 2.13.1)
        default = new.get("pypi_default_linux_x86_64")
        newest = _newest(minor, scope.index_versions)
        if default is not None and newest is not None and _norm(newest) in read:
            before = old.get("pypi_default_linux_x86_64")
            if before != default:
                source = _source(scope, PYPI_WHEELS)
                yield DataDifference(
                    where, "pypi_default_linux_x86_64", CHANGED, before, default, source
                )
        # variants that were inferred (the index unread, or without a wheel of this minor)
        # were not read: they say nothing about the recorded lists
        if variants_read and new.get("verified") is True:
            yield from _variants(where, old, new, _source(scope, PYTORCH_INDEX))


def _variants(
    where: str, old: Mapping[str, Any], new: Mapping[str, Any], source: str
) -> Iterator[DataDifference]:
    if old.get("index_variants") != new.get("index_variants"):
        before, after = old.get("index_variants"), new.get("index_variants")
        yield DataDifference(where, "index_variants", CHANGED, before, after, source)
    # A platform the fresh record leaves out has no wheel on the index, or (merge.minor_record
    # drops those) the Linux x86_64 list: an entry equal to that list is no evidence either way.
    # The store reads a platform the packaged record leaves out as one without variants.
    key = "index_variants_by_platform"
    old_map, new_map = _map(old, key), _map(new, key)
    for platform in [*new_map, *(p for p in old_map if p not in new_map)]:
        before, after = old_map.get(platform), new_map.get(platform)
        if platform not in new_map and before == new.get("index_variants"):
            continue
        if before != after:
            yield DataDifference(where, f"{key}.{platform}", CHANGED, before, after, source)
    if old.get("verified") is not True:
        yield DataDifference(where, "verified", CHANGED, old.get("verified"), True, source)


def _arch_lists(
    packaged: Mapping[str, Any], fresh: Mapping[str, Any], scope: Scope
) -> Iterator[DataDifference]:
    if PYTORCH_INDEX in scope.unread or PYTORCH_WHEELS in scope.unread:
        return
    source = _source(scope, PYTORCH_WHEELS)
    old_rows = _rows(packaged.get("arch_lists"), "variant")
    read = sorted(
        (
            (minor, row["variant"], row)
            for row in _rows(fresh.get("arch_lists"), "variant")
            if row.get("platform", LINUX) == LINUX
            for minor in row.get("torch") or []
        ),
        key=lambda item: (_sort_key(item[0]), item[1]),
    )
    for minor, variant, new in read:
        where = f"arch list {minor} {variant}"
        old = next((r for r in old_rows if _covers(r, minor, variant)), None)
        if old is None:
            yield DataDifference(where, "archs", MISSING, None, new.get("archs"), source)
            continue
        if old.get("archs") != new.get("archs"):
            yield DataDifference(
                where, "archs", CHANGED, old.get("archs"), new.get("archs"), source
            )
        if old.get("verified") is not True and new.get("verified") is True:
            yield DataDifference(where, "verified", CHANGED, old.get("verified"), True, source)


def _covers(row: Mapping[str, Any], minor: str, variant: str) -> bool:
    torch = row.get("torch")
    return (
        row.get("platform", LINUX) == LINUX
        and row.get("variant") == variant
        and isinstance(torch, list)
        and minor in torch
    )


# --- what to read ---------------------------------------------------------------------------
def parse_only(values: Iterable[str]) -> tuple[str, ...]:
    """--only values as PEP 440 spells them, each once; UsageError for anything but a final
    release (the data holds no pre-release or local build)."""
    wanted: list[Version] = []
    for text in values:
        version = _key(text.strip())
        if (
            not isinstance(version, Version)
            or version.local
            or version.is_prerelease
            or version.is_devrelease
        ):
            raise UsageError(
                "matrix-check-bad-version",
                Msg("--only {value} is not a final torch release.", value=repr(text)),
                ONLY_HINT,
            )
        if version not in wanted:
            wanted.append(version)
    return tuple(map(str, wanted))


def choose(
    index: Sequence[str], packaged: Iterable[str], only: Sequence[str], minors: int
) -> tuple[list[str], list[str]]:
    """(the releases to read in full as the index spells them, the --only releases neither side
    holds). With --only, those of them on the index (PEP 440 equality, as `db update --only`
    matches: "2.13" is 2.13.0); else the newest release of each of the last ``minors`` minors
    both sides hold: a release the data lacks is reported missing, it has nothing to compare."""
    on_index = {v: text for text in index if isinstance(v := _key(text), Version)}
    ours = {v for v in map(_key, packaged) if isinstance(v, Version)}
    if only:
        wanted = [Version(v) for v in only]
        unknown = [str(v) for v in wanted if v not in on_index and v not in ours]
        return [text for v, text in sorted(on_index.items()) if v in wanted], unknown
    newest: dict[tuple[int, int], Version] = {}
    for version in (v for v in on_index if v in ours):
        minor = (version.major, version.minor)
        newest[minor] = max(version, newest.get(minor, version))
    chosen = sorted(newest)[-minors:] if minors > 0 else []
    return [on_index[newest[minor]] for minor in chosen], []


def legacy_manylinux(files: Iterable[IndexFile]) -> bool:
    """Every Linux x86_64 wheel of a release carries a legacy manylinux tag (manylinux1, 2010,
    2014): its glibc in the data was read from the binaries (S14), as `db update` keeps it."""
    wheels = [w for w in map(wheel_of, files) if w and w.platform == LINUX]
    return bool(wheels) and all(
        any(is_legacy_manylinux(tag) for tag in w.file.filename[:-4].split("-")[-1].split("."))
        for w in wheels
    )


# --- small helpers ------------------------------------------------------------------------
def _rows(value: Any, key: str) -> list[dict[str, Any]]:
    """The records of a list that carry a string ``key``; anything else is skipped."""
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, dict) and isinstance(r.get(key), str)]


def _map(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _source(scope: Scope, source: str) -> str:
    return scope.sources.get(source, source)


def _norm(version: str) -> str:
    """One spelling per release: PEP 440 makes "2.0" and "2.0.0" the same version."""
    try:
        return canonicalize_version(version)
    except InvalidVersion:
        return version


def _key(version: str) -> Version | str:
    try:
        return Version(version)
    except InvalidVersion:
        return version


def _sort_key(version: str) -> tuple[int, Version, str]:
    """Versions in order, anything unparsable after them by its text."""
    parsed = _key(version)
    if isinstance(parsed, Version):
        return 0, parsed, ""
    return 1, Version("0"), parsed


def _newest(minor: str, versions: tuple[str, ...]) -> str | None:
    """The newest release of ``minor`` ("2.13") among ``versions``."""
    inside = [
        v for v in map(_key, versions) if isinstance(v, Version) and f"{v.major}.{v.minor}" == minor
    ]
    return str(max(inside)) if inside else None


def _above(known: Any, from_tags: Any) -> bool:
    """Whether a recorded glibc is above the one a wheel tag promises ("2.17" > "2.5")."""
    if not (isinstance(known, str) and isinstance(from_tags, str)):
        return False
    numbers = [tuple(int(n) for n in s.split(".") if n.isdigit()) for s in (known, from_tags)]
    return numbers[0] > numbers[1]
