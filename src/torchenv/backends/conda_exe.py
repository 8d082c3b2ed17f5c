"""The conda backend through an executable: ``micromamba create --file`` of an explicit list
made from ``conda.lock``, for machines where the py-rattler extra is not installed.

Only micromamba can build the environment beside its place: ``--relocate-prefix`` makes it
write the final prefix into packages while installing them into the build directory (mamba
issue #2429; jupyterlite/xeus relies on it for the same reason). conda and mamba write the
directory they install into, so an environment they built elsewhere and renamed would point
back at a directory that no longer exists: they are refused, with that reason.

The lock is read as the YAML it is (rattler's lock format, versions 6 and 7), without
py-rattler; every URL and digest is checked before it becomes a line of the explicit file.
"""

from __future__ import annotations

import platform as host
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchenv.backends.base import BuildPlan, Installed, SpecRef, Steps
from torchenv.backends.conda import (
    CONDA_LOCK_FILE,
    LOCK_ENVIRONMENT,
    conda_installed,
    meta_path,
)
from torchenv.backends.lockload import load_fresh_conda_lock, with_packages
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _

EXECUTABLE = "micromamba"
EXPLICIT_FILE = ".torchenv-explicit.txt"
# what may stand in an explicit file's line: a URL or absolute path with no space or control
_LOCATION = re.compile(r"(?:https?://|file://|/)[^\s#]+\.(?:conda|tar\.bz2)")
_MD5 = re.compile(r"[0-9a-f]{32}")
_FILENAME = re.compile(r"([a-z0-9_.+-]+)-([^-]+)-([^-]+)\.(?:conda|tar\.bz2)")


@dataclass(frozen=True)
class LockedRecord:
    location: str  # URL, as the explicit file names it
    md5: str
    name: str
    version: str
    build: str


@dataclass(frozen=True)
class PlatformRecords:
    subdir: str
    virtual_packages: tuple[str, ...]
    records: tuple[LockedRecord, ...]


def host_subdir() -> str:
    machine = host.machine().lower()
    arm = machine in ("arm64", "aarch64")
    if sys.platform == "darwin":
        return "osx-arm64" if arm else "osx-64"
    if sys.platform == "win32":
        return "win-64"
    return "linux-aarch64" if arm else "linux-64"


def read_records(data: bytes, path: str, subdir: str) -> PlatformRecords:
    """The lock's records for ``subdir`` (UsageError naming what is wrong)."""
    import yaml  # noqa: PLC0415

    again = Msg("Run `torchenv lock` to write it again.")
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(
            "lock-unreadable", Msg("{path} is not YAML: {error}", path=path, error=str(exc)), again
        ) from None
    malformed = UsageError(
        "lock-malformed", Msg("{path} is not a conda lock of torchenv's.", path=path), again
    )
    try:
        environment = document["environments"][LOCK_ENVIRONMENT]
        listed = environment["packages"].get(subdir)
        by_location = {p["conda"]: p for p in document["packages"] if "conda" in p}
        platforms = {p["name"]: p for p in document.get("platforms") or []}
    except (KeyError, TypeError, AttributeError):
        raise malformed from None
    if listed is not None and not isinstance(listed, list):
        raise malformed
    if listed is None:
        raise UsageError(
            "lock-platform",
            Msg(
                "{path} has no packages for this machine ({platform}).", path=path, platform=subdir
            ),
            Msg("Add this machine's platform to [targets] in the spec and lock again."),
        )
    records = tuple(_record(entry, by_location, path) for entry in listed)
    platform = platforms.get(subdir) or {}
    virtuals = platform.get("virtual-packages") if isinstance(platform, dict) else None
    if not isinstance(virtuals, list | None):
        raise malformed
    return PlatformRecords(subdir, tuple(str(v) for v in virtuals or []), records)


def _record(entry: Any, by_location: Mapping[str, Any], path: str) -> LockedRecord:
    location = entry.get("conda") if isinstance(entry, dict) else None
    package = by_location.get(location) if isinstance(location, str) else None
    md5 = package.get("md5") if isinstance(package, dict) else None
    url = (
        f"file://{location}" if isinstance(location, str) and location.startswith("/") else location
    )
    if not isinstance(url, str) or not _LOCATION.fullmatch(url) or not isinstance(md5, str):
        raise UsageError(
            "lock-malformed",
            Msg(
                "{path} lists a package that is not a conda package URL with its md5: {location}.",
                path=path,
                location=repr(str(location)[:80]),
            ),
            Msg("Run `torchenv lock` to write it again."),
        )
    named = _FILENAME.fullmatch(url.rsplit("/", 1)[-1])
    if not _MD5.fullmatch(md5) or named is None:
        raise UsageError(
            "lock-malformed",
            Msg(
                "{path} has a package whose file name or md5 is not valid: {name}.",
                path=path,
                name=repr(url.rsplit("/", 1)[-1][:80]),
            ),
            Msg("Run `torchenv lock` to write it again."),
        )
    return LockedRecord(url, md5, *named.groups())


def explicit_list(records: PlatformRecords) -> str:
    """conda's explicit environment format: every package by URL and md5, no solve."""
    lines = ["# made by torchenv from conda.lock", "@EXPLICIT"]
    lines += [f"{r.location}#{r.md5}" for r in records.records]
    return "\n".join(lines) + "\n"


class CondaExecutableBackend:
    name = "conda"
    lock_file = CONDA_LOCK_FILE
    lock_files: tuple[str, ...] = (CONDA_LOCK_FILE, meta_path(Path(CONDA_LOCK_FILE)).name)

    def describe(self) -> str:
        return _("conda (micromamba): `micromamba create --relocate-prefix` of conda.lock")

    def unavailable(self, which: Callable[[str], str | None]) -> str | None:
        if which(EXECUTABLE):
            return None
        others = [name for name in ("conda", "mamba") if which(name)]
        if others:
            return Msg(
                "{tools} cannot build an environment beside its place and rename it (they write "
                "the directory they install into; only micromamba has --relocate-prefix)",
                tools=others[0] if len(others) == 1 else Msg("conda and mamba"),
            )
        return Msg("no micromamba on PATH")

    def plan(self, ref: SpecRef) -> BuildPlan:
        lock = load_fresh_conda_lock(ref)
        records = read_records(lock.data, lock.path, host_subdir())
        lock = with_packages(lock, [(r.name, r.version) for r in records.records])
        python = lock.record.python if lock.record is not None else ""
        here = {r.name: r.version for r in records.records}
        return BuildPlan(lock, len(records.records), python, records, here)

    def install(
        self,
        plan: BuildPlan,
        build: Path,
        target: Path,
        steps: Steps,
        env: Mapping[str, str],
        which: Callable[[str], str | None],
    ) -> Installed:
        records: PlatformRecords = plan.detail
        exe = which(EXECUTABLE)
        if exe is None:
            raise UsageError("conda-exe-missing", Msg("No micromamba on PATH."), None)
        explicit = build.parent / f"{build.name}{EXPLICIT_FILE}"
        explicit.write_text(explicit_list(records), "utf-8")
        steps.progress(
            _("installing {count} conda packages with micromamba").format(count=plan.count)
        )
        argv = [exe, "create", "--yes", "--quiet", "--prefix", str(build)]
        argv += ["--relocate-prefix", str(target), "--file", str(explicit)]
        try:
            steps.run("install", argv, env)
        finally:
            explicit.unlink(missing_ok=True)
        packages = [(r.name, r.version, r.build) for r in records.records]
        return conda_installed(build, records.subdir, records.virtual_packages, packages)
