"""`torchenv db update`: regenerate the torch release data from package indexes.

Starts from the current data (what the store loads: the user copy when valid and not older than
the packaged file, else the packaged file), reads PyPI and download.pytorch.org through one
``Remote``, merges, and writes ``user_data_dir()/torch.json`` atomically. The packaged file is
never written; deleting the user copy goes back to it. ``--from-scratch`` starts from a skeleton
without records instead and writes to ``--output`` only: what it rebuilds lacks the parts no index
publishes (notes, arch lists, conda-forge facts), so it must not replace the data torchenv uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from torchenv.errors import UsageError
from torchenv.i18n import Msg, _
from torchenv.knowledge.remote import Remote, SourceFailure, http_timeout, url_problem
from torchenv.knowledge.store import forget_unusable, load_knowledge, packaged_retrieved
from torchenv.knowledge.update import (
    NAME,
    UpdateOptions,
    current_data,
    skeleton,
    update_torch_data,
    write_atomic,
)
from torchenv.knowledge.userdata import user_data_dir
from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX
from torchenv.untrusted import files
from torchenv.untrusted.text import strip_credentials

SCHEMA = "torchenv.db-update/1"


@dataclass(frozen=True)
class ReleaseUpdate:
    version: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class DbUpdateResult:
    schema: str
    path: str  # the file written (or that would be written, when nothing changed)
    started_from: str  # "packaged", the user copy's path, or "nothing" (--from-scratch)
    pypi_index: str
    pytorch_index: str
    added: tuple[str, ...]
    changed: tuple[ReleaseUpdate, ...]
    minors_changed: tuple[str, ...]
    arch_lists_changed: tuple[str, ...]
    failures: tuple[SourceFailure, ...]
    releases: int
    wheel_reads: int
    requests: int
    bytes_read: int
    seconds: float
    written: bool


_VALID = Msg(
    "A valid index is an http(s):// URL with a host name, e.g. https://pypi.org/simple "
    "(non-ASCII characters percent-encoded, a non-ASCII host name in its xn-- form), a "
    "file:///path/to/simple URL of a PEP 503 tree, a directory (a PEP 503 tree or a folder of "
    "wheels), or an HTML page of links to wheels (pip --find-links)."
)


def normalise_index(url: str, option: str) -> str:
    """A URL ``Remote`` can read, or a local directory given as a path (turned into a file://
    URL). Checked here so a malformed value is a usage error (exit 2) naming the option, not a
    failure of the first request."""
    if not url.strip():
        raise UsageError("db-update-index", Msg("{option} is empty.", option=option), _VALID)
    if "://" in url or url[:5].lower() == "file:":
        problem = url_problem(url)
        if problem is not None:
            raise UsageError(
                "db-update-index",
                Msg(
                    "{option} {value} is not a valid index URL: {problem}.",
                    option=option,
                    value=repr(url),
                    problem=problem,
                ),
                _VALID,
            )
        return url.rstrip("/")
    path = Path(url).expanduser()
    if not (path.is_dir() or path.is_file()):  # a file: a find-links page saved to disk
        raise UsageError(
            "db-update-index",
            Msg("{option} {value} is neither a URL nor a directory.", option=option, value=url),
            _VALID,
        )
    return path.resolve().as_uri()


def run_db_update(
    *,
    pypi_index: str = PYPI_INDEX,
    pytorch_index: str = PYTORCH_INDEX,
    full: bool = False,
    versions: Iterable[str] | None = None,
    archs: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    remote: Remote | None = None,
    from_scratch: bool = False,
    output: Path | None = None,
) -> DbUpdateResult:
    """``output``: write there instead of the user data directory (always, changed or not)."""
    started = time.monotonic()
    if from_scratch and output is None:
        raise UsageError(
            "db-update-from-scratch",
            Msg(
                "--from-scratch rebuilds only what the indexes publish (no notes, arch lists or "
                "conda-forge facts), so it writes to --output FILE, never over the data torchenv "
                "uses."
            ),
            Msg("Add --output torch.json and compare it with the packaged file."),
        )
    pypi = normalise_index(pypi_index, "--pypi-index")
    pytorch = normalise_index(pytorch_index, "--pytorch-index")
    remote = remote or Remote(timeout=http_timeout())
    current, origin = (skeleton(), "nothing") if from_scratch else current_data()
    options = UpdateOptions(
        pypi_index=pypi,
        pytorch_index=pytorch,
        full=full,
        versions=frozenset(versions) if versions else None,
        archs=archs,
    )
    path = output if output is not None else user_data_dir() / NAME
    if origin == "packaged" and path.exists() and output is None:
        progress(
            _(
                "{path} is not used (older than the packaged data, or not readable): "
                "starting from the packaged data"
            ).format(path=path)
        )
    outcome = update_torch_data(remote, current, options, progress)
    written = output is not None or origin == "packaged" or outcome.data != current
    if written:
        try:
            write_atomic(path, outcome.data)
        except OSError as exc:
            where = "--output" if output is not None else "TORCHENV_DATA_DIR"
            raise UsageError(
                "db-unwritable",
                Msg(
                    "Cannot write the knowledge file {path}: {error}.",
                    path=path,
                    error=files.describe(exc),
                ),
                Msg(
                    "Point {option} at a directory you can write to, or move away what is in "
                    "the file's place.",
                    option=where,
                ),
            ) from None
        forget_unusable(path)  # the copy that could not be used is replaced
        load_knowledge.cache_clear()  # this process sees the new data from now on
        progress(_("wrote {path}").format(path=path))
        # a clock behind the data's: the store would prefer the packaged file to the copy
        if output is None and outcome.data["retrieved"] < packaged_retrieved(NAME):
            progress(
                _(
                    "the packaged data is dated {packaged}, after today ({today}): it stays in "
                    "use until the clock is right"
                ).format(packaged=packaged_retrieved(NAME), today=outcome.data["retrieved"])
            )
    return DbUpdateResult(
        schema=SCHEMA,
        path=str(path),
        started_from=origin,
        pypi_index=strip_credentials(pypi),
        pytorch_index=strip_credentials(pytorch),
        added=outcome.added,
        changed=tuple(ReleaseUpdate(c.version, c.fields) for c in outcome.changed),
        minors_changed=outcome.minors_changed,
        arch_lists_changed=outcome.arch_lists_changed,
        failures=outcome.failures,
        releases=len(outcome.data.get("releases", [])),
        wheel_reads=outcome.wheel_reads,
        requests=remote.stats.requests,
        bytes_read=remote.stats.bytes,
        seconds=round(time.monotonic() - started, 3),
        written=written,
    )
