"""``db update``: rebuild the torch release data from package indexes and merge it.

Reads, in this order: the PyPI project pages of torch, torchvision and torchaudio (a failure is
fatal: without them nothing can be updated; either index may be a flat listing of wheels instead,
``indexes.IndexPages``), one wheel per new or incomplete release (METADATA, ``torch/version.py``,
the arch list, ``PYTORCH_RELEASES_CODE_CC``), the domain libraries' METADATA for the pairing,
and the download.pytorch.org page of torch for the variants per minor (a failure there is
reported and the existing variant data is kept). The current data is the starting point;
``merge`` keeps what is not regenerated; ``skeleton()`` is the starting point of a rebuild from
nothing. Every release read gets a ``read`` list: the URLs read for it and what was read there.
Writing is atomic: a temporary file in the same directory, then ``os.replace``, so an
interrupted update leaves the previous file.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from torchenv.errors import UsageError
from torchenv.i18n import Msg, _, shown
from torchenv.knowledge import merge
from torchenv.knowledge.indexes import IndexFile, IndexPages, Listing
from torchenv.knowledge.pairing import pair_domains
from torchenv.knowledge.releases import (
    MINIMUM,
    glibc_of,
    group_releases,
    index_facts,
    is_legacy_manylinux,
    pick_wheel,
    wheel_of,
)
from torchenv.knowledge.remote import (
    NotFound,
    Remote,
    RemoteError,
    RemoteFormatError,
    SourceFailure,
)
from torchenv.knowledge.store import SCHEMAS, load_data
from torchenv.knowledge.wheelfacts import WheelReader, read_entry, safe_version
from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX
from torchenv.untrusted import files as untrusted_files
from torchenv.untrusted.text import strip_credentials

NAME = "torch.json"


@dataclass(frozen=True)
class UpdateOptions:
    pypi_index: str = PYPI_INDEX
    pytorch_index: str = PYTORCH_INDEX
    full: bool = False
    versions: frozenset[str] | None = None  # only these releases (None: all)
    archs: bool = False  # also verify arch_lists from download.pytorch.org wheels
    today: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    )


@dataclass(frozen=True)
class UpdateOutcome:
    data: dict[str, Any]
    added: tuple[str, ...]
    changed: tuple[merge.ReleaseChange, ...]
    minors_changed: tuple[str, ...]
    arch_lists_changed: tuple[str, ...]
    failures: tuple[SourceFailure, ...]
    wheel_reads: int


def current_data() -> tuple[dict[str, Any], str]:
    """The data to start from and where it came from ("packaged" or the user copy's path): what
    the store loads (``store.load_data``), so an update never merges into a copy the store would
    then ignore, nor starts from one it would not use."""
    data = load_data(NAME)
    origin = str(data.pop("_origin"))
    return data, origin


def skeleton() -> dict[str, Any]:
    """Data without any record, for a rebuild from the indexes alone (``db update
    --from-scratch``): the parts no index publishes (notes, arch lists, conda-forge) stay empty."""
    return {"schema": SCHEMAS[NAME], "retrieved": "", "releases": [], "minors": {}}


def write_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """The user's copy, replaced in one rename; only a regular file is ever replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    untrusted_files.write_atomic(path, text.encode("utf-8"), mode=0o644)


def update_torch_data(
    remote: Remote,
    current: Mapping[str, Any],
    options: UpdateOptions,
    progress: Callable[[str], None],
) -> UpdateOutcome:
    data = copy.deepcopy(dict(current))
    data.pop("_origin", None)
    # a skeleton may lack the lists: the store ignores a torch.json without them (its shape check)
    for key, empty in (("releases", []), ("minors", {}), ("arch_lists", [])):
        data.setdefault(key, empty)
    reader = WheelReader(remote, options.pypi_index, progress)
    releases, page = _torch_releases(reader.pages, options.pypi_index, progress)
    selected = _select(releases, options.versions, options.pypi_index)
    old = {r["version"]: r for r in data["releases"]}
    fresh: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}
    for version in selected:
        fresh[str(version)] = _release(
            reader, str(version), releases[version], old.get(str(version)), options
        )
        fresh[str(version)][0]["read"].insert(0, read_entry(page, "file list", _LISTED))
    pair_domains(reader, options.full, progress, fresh, old, data)
    data["releases"], added, changes = merge.merge_releases(data["releases"], fresh)
    failures = reader.failures
    index = _pytorch_variants(remote, options.pytorch_index, progress, failures)
    minors_changed = _merge_minors(data, index, selected)
    if index is not None:
        variant_glibc(data["releases"], index, selected)
    arch_changes: list[str] = []
    if options.archs and index is not None:
        arch_changes = _verify_arch_lists(reader, data, index, selected)
    data["retrieved"] = options.today
    data["updated_from"] = {
        # the knowledge file is kept and shared: the indexes without their credentials
        "pypi": strip_credentials(options.pypi_index),
        "pytorch": strip_credentials(options.pytorch_index),
        "failed": [f.source for f in failures],
    }
    return UpdateOutcome(
        data=data,
        added=tuple(added),
        changed=tuple(changes),
        minors_changed=tuple(minors_changed),
        arch_lists_changed=tuple(arch_changes),
        failures=tuple(failures),
        wheel_reads=reader.reads,
    )


# what a release's file list gives (releases.index_facts), for its ``read`` row
_LISTED = ("released", "yanked", "requires_python", "python", "glibc")


def _torch_releases(
    pages: IndexPages, index: str, progress: Callable[[str], None]
) -> tuple[dict[Version, list[IndexFile]], str]:
    """The torch releases on the PyPI-like ``index`` and the page that listed them. An index
    without any stops the update before anything is written: merging nothing would only re-date
    the data (``retrieved``)."""
    progress(_("reading the torch file list from {index}").format(index=index))
    try:
        listing = pages.listing("torch")
    except NotFound as exc:  # still "cannot be read" (exit 4), with what the option expects
        raise RemoteError(exc.url, exc.error, _INDEX_HINT) from exc
    url, files = listing.url, listing.files
    torch = [f for f in files if _is_torch(f.filename)]
    releases = group_releases(torch)
    if not releases:
        others = len(files) + listing.others
        if torch:
            message = Msg(
                "The index {index} holds no torch release: {url} lists {count} torch files but "
                "no final release from {minimum} on; nothing was written.",
                index=index,
                url=url,
                count=len(torch),
                minimum=MINIMUM,
            )
        else:
            links = Msg("1 other link") if others == 1 else Msg("{count} other links", count=others)
            message = Msg(
                "The index {index} holds no torch release: {url} lists no torch files ({links}); "
                "nothing was written.",
                index=index,
                url=url,
                links=links,
            )
        raise UsageError("db-update-no-torch", message, _INDEX_HINT)
    return releases, url


_INDEX_HINT = Msg(
    "--pypi-index takes the root of a PEP 503/691 simple index, such as https://pypi.org/simple "
    "or file:///path/to/simple, whose torch/ page lists the torch wheels, or a flat listing of "
    "wheel files as pip --find-links reads one (an HTML page of links, or a directory)."
)


def _is_torch(filename: str) -> bool:
    """A file of the torch project (a page may list others): wheels and sdists are named
    ``torch-<version>...`` (PEP 427, PEP 625)."""
    return filename.split("-", 1)[0].lower() == "torch"


def _select(
    releases: Mapping[Version, list[IndexFile]], versions: frozenset[str] | None, index: str
) -> list[Version]:
    if versions is None:
        return list(releases)
    wanted = {v for v in map(safe_version, versions) if v is not None}
    if len(wanted) != len(versions):
        bad = sorted(v for v in versions if safe_version(v) is None)
        raise UsageError(
            "db-update-bad-version", Msg("Not a version: {versions}.", versions=", ".join(bad))
        )
    missing = sorted(str(v) for v in wanted - set(releases))
    if missing:
        raise UsageError(
            "db-update-unknown-version",
            Msg(
                "torch {versions} is not a release >= {minimum} on {index}.",
                versions=", ".join(missing),
                minimum=MINIMUM,
                index=index,
            ),
            Msg("Name final releases as they appear on the index, e.g. --only 2.13.0."),
        )
    return [v for v in releases if v in wanted]


def _release(
    reader: WheelReader,
    version: str,
    files: list[IndexFile],
    old: Mapping[str, Any] | None,
    options: UpdateOptions,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The regenerated fields of one release and the sources they came from."""
    facts = {"version": version, **index_facts(files)}
    if facts["released"] is None and old:
        facts["released"] = old.get("released")  # HTML pages carry no upload time
    if old and _stronger_glibc(files, old.get("glibc"), facts["glibc"]):
        facts["glibc"] = old["glibc"]
    if options.full or not merge.is_complete(old):
        built = reader.torch_release(version, files)
        metadata_python = built.pop("requires_python")
        toolkit = built.pop("toolkit_read")
        facts["requires_python"] = facts["requires_python"] or metadata_python
        facts.update(built)
        ids: tuple[str, ...] = (merge.SOURCE_INDEX, merge.SOURCE_METADATA, merge.SOURCE_WHEEL)
        ids += (merge.SOURCE_TOOLKIT,) if toolkit else ()
    else:
        if facts["requires_python"] is None and old:
            facts["requires_python"] = old.get("requires_python")
        ids = (merge.SOURCE_INDEX,)
        facts["read"] = []  # the file list's row comes first (update_torch_data)
    return facts, ids


def _stronger_glibc(files: list[IndexFile], known: Any, from_tags: str | None) -> bool:
    """Whether to keep a recorded glibc above what a legacy manylinux tag promises: PEP 600 maps
    manylinux1 to 2.5, but the recorded value was read from the binaries' symbol versions."""
    if not isinstance(known, str) or from_tags is None:
        return False
    legacy = all(
        any(is_legacy_manylinux(tag) for tag in wheel.file.filename[:-4].split("-")[-1].split("."))
        for wheel in (w for w in map(wheel_of, files) if w and w.platform == "linux_x86_64")
    )
    return legacy and _numbers(known) > _numbers(from_tags)


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split(".") if n.isdigit())


def _pytorch_variants(
    remote: Remote, index: str, progress: Callable[[str], None], failures: list[SourceFailure]
) -> dict[str, dict[str, dict[str, list[IndexFile]]]] | None:
    """minor -> platform -> variant -> wheels on download.pytorch.org; None when unreadable."""
    progress(_("reading the torch file list from {index}").format(index=index))
    try:
        listing: Listing = IndexPages(remote, index).listing("torch")
    except (RemoteError, RemoteFormatError) as exc:
        failures.append(SourceFailure("pytorch-index", index, exc.message))
        progress(
            _("{error}; keeping the variant data already known").format(error=shown(exc.message))
        )
        return None
    found: dict[str, dict[str, dict[str, list[IndexFile]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for file in listing.files:
        wheel = wheel_of(file)
        if wheel is None or wheel.platform is None or not _is_torch(wheel.file.filename):
            continue
        version = wheel.version
        if version.is_prerelease or version.is_devrelease or Version(version.public) < MINIMUM:
            continue
        minor = f"{version.major}.{version.minor}"
        found[minor][wheel.platform][wheel.variant].append(file)
    if not found:  # read, but not a torch wheel index: as if unreadable, the known data stays
        error = Msg(
            "{url} lists no torch wheel from {minimum} on", url=listing.url, minimum=MINIMUM
        )
        failures.append(SourceFailure("pytorch-index", index, error))
        progress(_("{error}; keeping the variant data already known").format(error=shown(error)))
        return None
    return found


def _merge_minors(
    data: dict[str, Any],
    index: Mapping[str, Mapping[str, Mapping[str, list[IndexFile]]]] | None,
    selected: list[Version],
) -> list[str]:
    """Update ``minors`` for the minors of the selected releases: variants from the index,
    the PyPI default from the newest release of the minor."""
    minors: dict[str, Any] = data.setdefault("minors", {})
    changed = []
    for minor in sorted({f"{v.major}.{v.minor}" for v in selected}, key=Version):
        in_minor = [r for r in data["releases"] if _minor_of(r["version"]) == minor]
        newest: dict[str, Any] = max(in_minor, key=lambda r: Version(r["version"]), default={})
        default = (newest.get("pypi_linux_x86_64") or {}).get("variant")
        by_platform = None
        if index is not None and minor in index:
            by_platform = {p: set(v) for p, v in index[minor].items()}
        merged = merge.minor_record(minors.get(minor), by_platform, default)
        if merged != minors.get(minor):
            changed.append(minor)
        minors[minor] = merged
    data["minors"] = dict(sorted(minors.items(), key=lambda kv: Version(kv[0])))
    return changed


def variant_glibc(
    releases: list[dict[str, Any]],
    index: Mapping[str, Mapping[str, Mapping[str, list[IndexFile]]]],
    selected: list[Version],
) -> None:
    """``glibc_by_variant`` of the selected releases: a variant whose Linux x86_64 wheels on
    the PyTorch index carry a stricter PEP 600 tag than the release's PyPI wheels (2.6.0+cu126:
    manylinux_2_28 where PyPI's are manylinux1). Legacy tags say less than the binaries need
    (S14), so they never override the recorded floor."""
    wanted = {str(v) for v in selected}
    for record in releases:
        if record["version"] not in wanted or not record.get("glibc"):
            continue
        floor = _numbers(record["glibc"])
        minor = _minor_of(record["version"])
        stricter: dict[str, str] = {}
        for variant, files in index.get(minor, {}).get("linux_x86_64", {}).items():
            tags = [
                glibc_of(tag)
                for w in map(wheel_of, files)
                if w and w.version.public == record["version"]
                for tag in w.file.filename[:-4].split("-")[-1].split(".")
                if not is_legacy_manylinux(tag)
            ]
            needed = max((t for t in tags if t), default=None)
            if needed and needed > floor:
                stricter[variant] = f"{needed[0]}.{needed[1]}"
        if stricter:
            record["glibc_by_variant"] = stricter
        else:
            record.pop("glibc_by_variant", None)


def _minor_of(version: str) -> str:
    parsed = Version(version)
    return f"{parsed.major}.{parsed.minor}"


def _verify_arch_lists(
    reader: WheelReader,
    data: dict[str, Any],
    index: Mapping[str, Mapping[str, Mapping[str, list[IndexFile]]]],
    selected: list[Version],
) -> list[str]:
    """--archs: the arch list of each CUDA variant's Linux x86_64 wheel of the newest release
    of each minor, read from download.pytorch.org."""
    rows: list[dict[str, Any]] = data.setdefault("arch_lists", [])
    changed = []
    for minor in sorted({f"{v.major}.{v.minor}" for v in selected}, key=Version):
        for variant, files in sorted(index.get(minor, {}).get("linux_x86_64", {}).items()):
            if not variant.startswith("cu"):
                continue  # ROCm/XPU/CPU builds carry no CUDA arch list
            versions = {w.version for w in map(wheel_of, files) if w}
            newest = max(versions, default=None)
            wheel = pick_wheel([f for f in files if f.version == newest], "linux_x86_64")
            if wheel is None:
                continue
            archs = reader.variant_archs(wheel)
            if archs and merge.merge_arch_list(rows, minor, variant, list(archs)):
                changed.append(f"{minor} {variant}")
    return changed
