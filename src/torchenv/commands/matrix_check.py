"""`torchenv matrix --check`: the packaged torch data against a fresh `db update`, in memory.

The fresh run is ``update_torch_data`` started from a skeleton that holds no records, so every
fact in it was read now and none was carried over from the data it is compared with; it is never
written. The PyPI torch page is read first (the releases on the index decide what is read in
full: about 14 MB of wheel ranges per release), then the fresh run reads it again with the
wheels. PyPI is required (exit 4 when it cannot be read); a source the fresh run could not read
is reported as not checked and the facts only it provides are not compared (``datadiff``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from torchenv.commands.db_update import normalise_index
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _
from torchenv.knowledge import datadiff
from torchenv.knowledge.indexes import IndexFile, fetch_files, project_url
from torchenv.knowledge.releases import MINIMUM, group_releases
from torchenv.knowledge.remote import NotFound, Remote, RemoteError, http_timeout
from torchenv.knowledge.store import load_data
from torchenv.knowledge.update import NAME, UpdateOptions, update_torch_data
from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX
from torchenv.models.matrix import (
    ABSENT,
    MATRIX_CHECK_SCHEMA,
    MISSING,
    DataDifference,
    MatrixCheckReport,
    SourceStatus,
)
from torchenv.untrusted.text import strip_credentials

DEFAULT_MINORS = 2
NOTHING_READ = "no release was selected to be read in full"
_INDEX_HINT = Msg(
    "--pypi-index takes the root of a PEP 503/691 simple index, such as https://pypi.org/simple, "
    "whose torch/ page lists the torch wheels."
)


def packaged_data() -> dict[str, Any]:
    """The torch data shipped with torchenv, never a `db update` copy: that is what CI checks."""
    data = load_data(NAME, packaged_only=True)
    data.pop("_origin", None)
    return data


def run_matrix_check(
    *,
    only: Iterable[str] = (),
    minors: int | None = None,
    pypi_index: str = PYPI_INDEX,
    pytorch_index: str = PYTORCH_INDEX,
    progress: Callable[[str], None] = lambda _: None,
    remote: Remote | None = None,
) -> MatrixCheckReport:
    """Raises UsageError for a bad --only/--minors or index URL, RemoteError (exit 4) when the
    PyPI index cannot be read."""
    started = time.monotonic()
    wanted = datadiff.parse_only(only)
    if wanted and minors is not None:
        raise UsageError(
            "matrix-check-options",
            Msg("--minors chooses the releases to read when --only does not; give one of them."),
        )
    pypi = normalise_index(pypi_index, "--pypi-index")
    pytorch = normalise_index(pytorch_index, "--pytorch-index")
    remote = remote or Remote(timeout=http_timeout())
    packaged = packaged_data()
    releases = _index_releases(remote, pypi, progress)
    count = DEFAULT_MINORS if minors is None else minors
    read, unknown = datadiff.choose(list(releases), _versions(packaged), wanted, count)
    if unknown:
        raise UsageError(
            "matrix-check-unknown-version",
            Msg(
                "torch {versions} is neither a release on {index} nor in the packaged data.",
                versions=", ".join(unknown),
                index=strip_credentials(pypi),
            ),
            datadiff.ONLY_HINT,
        )
    fresh, failures = None, None
    if read:
        progress(
            _("reading torch {versions} in full (about 14 MB of wheel ranges each)").format(
                versions=", ".join(read)
            )
        )
        skeleton: dict[str, Any] = {
            "schema": packaged.get("schema"),
            "retrieved": packaged.get("retrieved"),
            "releases": [],
            "minors": {},
            "arch_lists": [],
        }
        options = UpdateOptions(
            pypi_index=pypi,
            pytorch_index=pytorch,
            full=True,
            versions=frozenset(read),
            archs=True,  # arch lists are compared wherever the PyTorch index can be read
        )
        outcome = update_torch_data(remote, skeleton, options, progress)
        fresh = outcome.data
        failures = {f.source: strip_credentials(f.error) for f in outcome.failures}
    sources = _sources(pypi, pytorch, failures)
    scope = datadiff.Scope(
        index_versions=tuple(releases),
        only=frozenset(wanted) if wanted else None,
        legacy_glibc=frozenset(v for v in read if datadiff.legacy_manylinux(releases[v])),
        unread={s.id: s.why or "" for s in sources if not s.checked},
        sources=_labels(sources),
    )
    differences = datadiff.compare(packaged, fresh, scope)
    return MatrixCheckReport(
        schema=MATRIX_CHECK_SCHEMA,
        packaged=f"packaged data retrieved {packaged.get('retrieved') or 'on an unknown date'}",
        pypi_index=strip_credentials(pypi),
        pytorch_index=strip_credentials(pytorch),
        only=wanted,
        read=tuple(read),
        missing=tuple(d.fresh for d in differences if _whole(d, MISSING)),
        absent=tuple(d.packaged for d in differences if _whole(d, ABSENT)),
        differences=differences,
        sources=sources,
        requests=remote.stats.requests,
        bytes_read=remote.stats.bytes,
        seconds=round(time.monotonic() - started, 3),
    )


def _versions(data: Mapping[str, Any]) -> list[str]:
    rows = data.get("releases")
    return [
        r["version"]
        for r in rows or []
        if isinstance(r, dict) and isinstance(r.get("version"), str)
    ]


def _index_releases(
    remote: Remote, pypi: str, progress: Callable[[str], None]
) -> dict[str, list[IndexFile]]:
    """The final torch releases from 1.13.0 on that the PyPI index lists; exit 4 when the page
    cannot be read, 2 when it lists none (not a torch index: every release would look gone)."""
    progress(_("reading the torch file list from {index}").format(index=strip_credentials(pypi)))
    try:
        files = fetch_files(remote, pypi, "torch")
    except NotFound as exc:
        raise RemoteError(exc.url, exc.error, _INDEX_HINT) from exc
    torch = [f for f in files if f.filename.split("-", 1)[0].lower() == "torch"]
    releases = {str(version): found for version, found in group_releases(torch).items()}
    if not releases:
        raise UsageError(
            "matrix-check-no-torch",
            Msg(
                "{url} lists no torch release from {minimum} on; nothing was compared.",
                url=project_url(strip_credentials(pypi), "torch"),
                minimum=MINIMUM,
            ),
            _INDEX_HINT,
        )
    return releases


def _sources(
    pypi: str, pytorch: str, failures: Mapping[str, str] | None
) -> tuple[SourceStatus, ...]:
    """Each source and whether it was read; ``failures`` is None when no release was read in
    full (then only the PyPI torch page was)."""
    pypi, pytorch = strip_credentials(pypi), strip_credentials(pytorch)
    urls = {
        datadiff.PYPI: project_url(pypi, "torch"),
        datadiff.PYPI_WHEELS: project_url(pypi, "torch"),
        datadiff.TORCHVISION: project_url(pypi, "torchvision"),
        datadiff.TORCHAUDIO: project_url(pypi, "torchaudio"),
        datadiff.TOOLKIT: project_url(pypi, "cuda-toolkit"),
        datadiff.PYTORCH_INDEX: project_url(pytorch, "torch"),
        datadiff.PYTORCH_WHEELS: project_url(pytorch, "torch"),
    }
    unread = dict(failures or {})
    if failures is None:
        unread = dict.fromkeys(set(urls) - {datadiff.PYPI}, NOTHING_READ)
    elif datadiff.PYTORCH_INDEX in unread:
        unread[datadiff.PYTORCH_WHEELS] = "the PyTorch index was not read"
    statuses = [SourceStatus(s, url, s not in unread, unread.get(s)) for s, url in urls.items()]
    # a failure under an id this module does not name (a source a later `db update` reads)
    statuses += [SourceStatus(s, "", False, why) for s, why in unread.items() if s not in urls]
    return tuple(statuses)


def _labels(sources: Iterable[SourceStatus]) -> dict[str, str]:
    """What each difference names as its source: the page, or the wheels it lists."""
    labels = {s.id: s.url for s in sources}
    for wheels, what in ((datadiff.PYPI_WHEELS, "torch"), (datadiff.PYTORCH_WHEELS, "CUDA")):
        labels[wheels] = f"the {what} wheels on {labels[wheels]}"
    return labels


def _whole(difference: DataDifference, change: str) -> bool:
    """A whole release missing or absent (minors and arch lists are listed as differences)."""
    return difference.change == change and difference.where.startswith("release ")
