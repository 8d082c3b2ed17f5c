"""Solve, lock and install conda packages with py-rattler, embedded: no conda, mamba or pixi.

py-rattler is the optional extra ``conda`` and is imported only here, inside the functions.
Its API is async; each call runs in ``asyncio.run`` and every exception is caught inside the
coroutine: in py-rattler 0.28 one escaping ``asyncio.run`` while a gateway was alive crashed the
interpreter at exit in 2 of ~16 runs (test-environment.md, "conda without conda"). pyo3 turns a
Rust panic into ``PanicException``, a BaseException, so that is caught too. Each call is
followed by a short pause, since exiting right after one crashed the interpreter (see ``_run``).
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from torchenv.backends.conda import LOCK_ENVIRONMENT, parse_virtual, require_rattler
from torchenv.backends.tools import BackendError
from torchenv.errors import UsageError
from torchenv.i18n import Msg

if TYPE_CHECKING:
    from rattler import RepoDataRecord

T = TypeVar("T")
SETTLE_SECONDS = 0.05
SOLVE_HINT = Msg(
    "Check that the channels hold the planned build (`torchenv plan --installer conda` shows "
    "it) and are reachable; `torchenv lock --verbose` shows the virtual packages assumed."
)


@dataclass(frozen=True)
class Solved:
    """One platform of a solve or of a lock: its conda subdir, the virtual packages it
    assumed, and its records (rattler ``RepoDataRecord``)."""

    subdir: str
    virtual_packages: tuple[str, ...]
    records: tuple[RepoDataRecord, ...]

    def versions(self) -> dict[str, str]:
        return {name: version for name, version, _ in self.packages()}

    def packages(self) -> list[tuple[str, str, str]]:
        """(name, version, build) of each record, by name."""
        return sorted((r.name.normalized, str(r.version), str(r.build)) for r in self.records)


def _failure(exc: BaseException) -> str:
    text = str(exc).strip() or "(no message)"
    return textwrap.indent(f"{type(exc).__name__}: {text}", "    ").lstrip()


def _run(ref: str, what: str, hint: str, factory: Callable[[], Awaitable[T]]) -> T:
    """``await factory()`` in a fresh event loop; a failure becomes a BackendError (exit 4,
    reference ``conda-<ref>-failed``) naming ``what``, raised after the loop has closed."""
    outcome: list[T] = []
    failure: list[str] = []

    async def guarded() -> None:
        try:
            outcome.append(await factory())
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
            raise
        except BaseException as exc:  # noqa: BLE001 - rattler's errors and pyo3's PanicException
            failure.append(_failure(exc))

    asyncio.run(guarded())
    # rattler's worker thread hands the result over and only then releases the GIL; an
    # interpreter that exits in between aborts ("PyGILState_Release ... finalizing", SIGSEGV).
    # Measured with py-rattler 0.28 on a solve and exit: 16 of 300 runs crashed without this
    # pause, none of 900 with 10-50 ms
    time.sleep(SETTLE_SECONDS)
    if failure:
        raise BackendError(
            f"conda-{ref}-failed",
            Msg("py-rattler failed to {what}:\n    {failure}", what=what, failure=failure[0]),
            hint,
        )
    return outcome[0]


def _sync(ref: str, what: str, hint: str, call: Callable[[], T], usage: bool = False) -> T:
    """A synchronous rattler call, with its errors (and panics) reported the same way."""
    try:
        return call()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - rattler's errors and pyo3's PanicException
        error = UsageError if usage else BackendError
        # the cause is in the message; a chained traceback would only repeat it
        raise error(
            f"conda-{ref}-failed",
            Msg("Cannot {what}: {failure}", what=what, failure=_failure(exc)),
            hint,
        ) from None


def channel_urls(channels: Sequence[str]) -> list[str]:
    """The channels as rattler spells them in a lock ("conda-forge" ->
    "https://conda.anaconda.org/conda-forge/", a directory -> "file:///...")."""
    require_rattler()
    import rattler  # noqa: PLC0415

    hint = Msg("Fix [index] channels in the spec.")
    return [
        _sync(
            "channel",
            Msg("read the channel {channel}", channel=c),
            hint,
            partial(_base_url, rattler, c),
            True,
        )
        for c in channels
    ]


def _base_url(rattler: Any, channel: str) -> str:
    return str(rattler.Channel(channel).base_url)


def host_subdir() -> str:
    require_rattler()
    import rattler  # noqa: PLC0415

    return str(rattler.Subdir.current())


def solve(
    channels: Sequence[str], specs: Sequence[str], platforms: dict[str, tuple[str, ...]]
) -> list[Solved]:
    """Solve ``specs`` against ``channels`` for each conda subdir in ``platforms`` (subdir ->
    the virtual packages to assume there), the channels in strict priority, as conda-forge
    recommends."""
    require_rattler()
    import rattler  # noqa: PLC0415

    def virtual(text: str) -> rattler.GenericVirtualPackage:
        name, version, build = parse_virtual(text)
        return rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
        )

    async def solve_all() -> list[Solved]:
        gateway = rattler.Gateway()
        out = []
        for subdir, virtuals in platforms.items():
            records = await rattler.solve(
                sources=list(channels),
                specs=list(specs),
                gateway=gateway,
                platforms=[rattler.Subdir(subdir), rattler.Subdir("noarch")],
                virtual_packages=[virtual(v) for v in virtuals],
            )
            out.append(Solved(subdir, virtuals, tuple(records)))
        return out

    return _run("solve", Msg("solve {specs}", specs=", ".join(specs)), SOLVE_HINT, solve_all)


def write_lock(path: Path, channels: Sequence[str], solved: Sequence[Solved]) -> None:
    """rattler's lock file (the format pixi writes and reads): the channels, and per platform
    the virtual packages assumed and every record with its URL, sha256 and md5."""
    require_rattler()
    import rattler  # noqa: PLC0415

    def write() -> None:
        platforms = [
            rattler.LockPlatform(s.subdir, virtual_packages=list(s.virtual_packages))
            for s in solved
        ]
        lock = rattler.LockFile(platforms)
        lock.set_channels(LOCK_ENVIRONMENT, [rattler.LockChannel(u) for u in channels])
        for platform, part in zip(platforms, solved, strict=True):
            for record in part.records:
                lock.add_conda_package(LOCK_ENVIRONMENT, platform, record)
        lock.to_path(path)

    _sync(
        "lock-write",
        Msg("write {path}", path=path),
        Msg("Check that the directory is writable."),
        write,
    )


def read_lock(path: Path) -> list[Solved]:
    """Every platform of the lock at ``path`` with its records."""
    require_rattler()
    import rattler  # noqa: PLC0415

    hint = Msg("Run `torchenv lock` to write it again.")

    def read() -> list[Solved]:
        lock = rattler.LockFile.from_path(path)
        environment = lock.environment(LOCK_ENVIRONMENT)
        if environment is None:
            raise ValueError(f"it has no {LOCK_ENVIRONMENT!r} environment")
        out = []
        # the environment's own platform objects: rattler 0.28 panics when handed a new one
        for platform in environment.platforms():
            records = environment.conda_repodata_records_for_platform(platform) or []
            out.append(Solved(platform.name, tuple(platform.virtual_packages), tuple(records)))
        return out

    return _sync("lock-read", Msg("read the conda lock {path}", path=path), hint, read, usage=True)


def install(records: Sequence[Any], build: Path, prefix: Path) -> None:
    """Link ``records`` into ``build``, an empty directory that is renamed to ``prefix``
    afterwards: rattler writes ``prefix`` wherever a package has its build prefix
    (placeholders in scripts and text files), so nothing names the build directory. Packages
    come through rattler's cache (``RATTLER_CACHE_DIR``, else the user cache). Link scripts are
    not run: rattler does not sandbox them and advises against it."""
    require_rattler()
    import rattler  # noqa: PLC0415

    async def link() -> None:
        # requested_specs is left out: py-rattler 0.28 raises TypeError on it
        await rattler.install(
            list(records),
            target_prefix=build,
            alternative_target_prefix=prefix,
            installed_packages=[],
            execute_link_scripts=False,
            show_progress=False,
        )

    _run(
        "install",
        Msg("install {count} packages into {build}", count=len(records), build=build),
        Msg("Check that the lock's package URLs are reachable and the disk has room."),
        link,
    )
