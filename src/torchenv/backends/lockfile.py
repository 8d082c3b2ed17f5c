"""The lock file: PEP 751 ``pylock.toml`` as uv writes it, plus torchenv's ``[tool.torchenv]``.

PEP 751 reserves ``[tool]`` for tools; torchenv records there what the standard has no place for:
the plan (variant, CUDA, driver floor, GPU code), the hash of the spec it was made from (a lock
whose spec changed since is stale), and the indexes it was resolved against.
"""

from __future__ import annotations

import hashlib
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from torchenv.backends.lockrecord import (
    HASH,
    LOCK_HASH,
    SHA256,
    TABLE,
    LockFieldError,
    LockRecord,
    checked,
    checked_url,
    read_record,
    seal_hash,
)
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.untrusted.text import UNSAFE_IN_A_LINE, load_toml, printable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


# PEP 508 marker values of CPython on Linux (platform_release and _version are left as they are:
# locks do not use them)
LINUX_MARKERS = {
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


@dataclass(frozen=True)
class LockedWheel:
    url: str
    sha256: str | None


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    wheels: tuple[LockedWheel, ...] = ()
    marker: str | None = None


@dataclass(frozen=True)
class Lock:
    path: str
    sha256: str  # of the file's bytes: what an environment records it was built from
    packages: tuple[LockedPackage, ...]
    record: LockRecord | None = None  # the [tool.torchenv] table; None in a lock of others
    sealed: bool | None = None  # its lock-hash matches the content; None: it has none
    data: bytes = field(default=b"", repr=False, compare=False)  # the very bytes checked

    @property
    def spec_hash(self) -> str | None:
        return self.record.spec_hash if self.record is not None else None

    @property
    def tool(self) -> dict[str, Any]:
        """The checked [tool.torchenv] table as written (the environment record's plan)."""
        return dict(self.record.table) if self.record is not None else {}

    def versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.packages}

    def versions_for(self, python: str, machine: str | None = None) -> dict[str, str]:
        """The packages an installer puts into an environment of Python ``python`` ("3.11.7")
        on this machine, or on Linux on ``machine`` ("x86_64", for an image): a package whose
        marker excludes it (``triton ; platform_machine == 'x86_64'`` on aarch64) is not
        expected there (PEP 751 markers, PEP 508 evaluation)."""
        from packaging.markers import InvalidMarker, Marker, default_environment  # noqa: PLC0415

        env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
        if machine is not None:
            env.update(LINUX_MARKERS, platform_machine=machine)
        env["python_full_version"] = python
        env["python_version"] = ".".join(python.split(".")[:2])
        out = {}
        for package in self.packages:
            if package.marker:
                try:
                    if not Marker(package.marker).evaluate(env):
                        continue
                except InvalidMarker:
                    pass  # keep it: verify will say if it is missing
            out[package.name] = package.version
        return out


LOCK_LIMIT = 64 << 20  # what a lock may weigh: a universal CUDA lock is ~200 kB


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_lock(data: bytes, path: str) -> Lock:
    """A pylock.toml; malformed input, and any value out of its form, is a UsageError naming
    the file, the field and the fix."""
    hint = Msg("Run `torchenv lock` to write it again.")
    try:
        doc = load_toml(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            "lock-unreadable",
            Msg("{path} is not a TOML file: {error}", path=path, error=str(exc)),
            hint,
        ) from None
    if not str(doc.get("lock-version", "")).startswith("1."):
        raise UsageError(
            "lock-version",
            Msg(
                "{path} is not a PEP 751 lock file (lock-version {version}).",
                path=path,
                version=printable(repr(doc.get("lock-version")))[:40],
            ),
            hint,
        )
    _no_control_characters(doc, path)
    entries = doc.get("packages") or []
    if not isinstance(entries, list):
        raise LockFieldError(path, "packages", entries, ARRAY_OF_TABLES)
    packages = tuple(_package(entry, f"packages[{i}]", path) for i, entry in enumerate(entries))
    tool = doc.get("tool")
    table = tool.get("torchenv") if isinstance(tool, dict) else None
    if table is None:
        return Lock(path, content_hash(data), packages, data=data)
    if not isinstance(table, dict):
        raise LockFieldError(path, "tool.torchenv", table, TABLE)
    record = read_record(table, path, "tool.torchenv.")
    sealed = None
    if record.lock_hash is not None:
        sealed = record.lock_hash == seal_hash(doc, ("tool", "torchenv"))
    return Lock(path, content_hash(data), packages, record, sealed, data)


ARRAY_OF_TABLES = Msg("an array of tables")
# PEP 508 names (packaging.utils): what pip and uv accept, and nothing a requirements file
# could read as an option or a second line
PACKAGE_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _package(entry: object, key: str, path: str) -> LockedPackage:
    from packaging.markers import InvalidMarker, Marker  # noqa: PLC0415
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    if not isinstance(entry, dict):
        raise LockFieldError(path, key, entry, TABLE)
    name = checked(path, f"{key}.name", entry.get("name"), PACKAGE_NAME, Msg("a package name"))
    version = entry.get("version", "")
    try:
        Version(version if isinstance(version, str) else "")
    except InvalidVersion:
        expected = Msg("a PEP 440 version")
        raise LockFieldError(path, f"{key}.version", version, expected) from None
    marker = entry.get("marker")
    if marker is not None:
        try:
            marker = str(Marker(marker if isinstance(marker, str) else ""))
        except InvalidMarker:
            expected = Msg("a PEP 508 marker")
            raise LockFieldError(path, f"{key}.marker", marker, expected) from None
    wheels = entry.get("wheels") or []
    if not isinstance(wheels, list):
        raise LockFieldError(path, f"{key}.wheels", wheels, ARRAY_OF_TABLES)
    return LockedPackage(
        name,
        version,
        tuple(_wheel(w, f"{key}.wheels[{i}]", path) for i, w in enumerate(wheels)),
        marker,
    )


def _wheel(entry: object, key: str, path: str) -> LockedWheel:
    if not isinstance(entry, dict):
        raise LockFieldError(path, key, entry, TABLE)
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename  # noqa: PLC0415

    if "url" in entry:
        where, location = f"{key}.url", checked_url(path, f"{key}.url", entry["url"])
    else:
        where = f"{key}.path"
        location = checked(path, where, entry.get("path"), _RELATIVE, Msg("a relative path"))
    # an entry of `wheels` names a wheel: a lock naming file:///home/you/.ssh/id_ed25519 there is
    # refused before an installer or an image build opens it
    try:
        parse_wheel_filename(urllib.parse.unquote(location.rsplit("/", 1)[-1]))
    except InvalidWheelFilename:
        expected = Msg("the location of a wheel (*.whl)")
        raise LockFieldError(path, where, location, expected) from None
    hashes = entry.get("hashes") or {}
    if not isinstance(hashes, dict):
        raise LockFieldError(path, f"{key}.hashes", hashes, TABLE)
    sha = hashes.get("sha256")
    if sha is not None:
        checked(path, f"{key}.hashes.sha256", sha, HASH, SHA256)
    return LockedWheel(location, sha)


# a wheel beside the lock (PEP 751 `path`, as `torchenv image` writes it): no "..", no root
_RELATIVE = re.compile(r"(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9._+/-]{1,300}")


def _no_control_characters(value: object, path: str, key: str = "") -> None:
    """No string anywhere in a lock holds a control character: uv writes none, and a newline
    in a name, version or marker would become a line of its own in a requirements file."""
    if isinstance(value, str):
        if UNSAFE_IN_A_LINE.search(value):
            expected = Msg("text without control characters")
            raise LockFieldError(path, key or Msg("a value"), value, expected)
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_control_characters(k, path, key)
            _no_control_characters(v, path, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_control_characters(v, path, f"{key}[{i}]")


def with_tool_table(pylock_text: str, table: dict[str, Any]) -> str:
    """``pylock_text`` with ``[tool.torchenv]`` appended (uv's own text is kept as it is) and
    sealed: its ``lock-hash`` is the sha256 of the whole lock's content without itself."""
    if "[tool.torchenv]" in pylock_text:
        raise ValueError("the lock already has a [tool.torchenv] table")
    table = {k: v for k, v in table.items() if k != LOCK_HASH}

    def render(tool: dict[str, Any]) -> str:
        return pylock_text.rstrip("\n") + "\n\n" + tomli_w.dumps({"tool": {"torchenv": tool}})

    unsealed = tomllib.loads(render(table))  # the result must stay valid TOML
    return render({**table, LOCK_HASH: seal_hash(unsealed, ("tool", "torchenv"))})


def reseal(text: str) -> str:
    """A lock torchenv rewrote (the image's copy names local wheels by path) sealed again."""
    doc = tomllib.loads(text)
    digest = seal_hash(doc, ("tool", "torchenv"))
    return re.sub(
        rf'^{LOCK_HASH} = "[0-9a-f]{{64}}"$', f'{LOCK_HASH} = "{digest}"', text, flags=re.M
    )


def pip_requirements(lock: Lock) -> str:
    """requirements.txt for ``pip install --require-hashes --no-deps``: every locked package
    pinned, with the hash of each of its wheels, so pip may pick the one for its platform but
    cannot install anything the lock does not name."""
    lines = [f"# generated by torchenv from the lock with sha256 {lock.sha256}"]
    for package in lock.packages:
        hashes = [w.sha256 for w in package.wheels if w.sha256]
        if not hashes:
            raise UsageError(
                "lock-without-hashes",
                Msg(
                    "{lock}: {package} {version} has no wheel hash; the pip backend installs "
                    "with --require-hashes.",
                    lock=lock.path,
                    package=package.name,
                    version=package.version,
                ),
                Msg("Lock again (uv records sha256 for every file), or use the uv backend."),
            )
        line = f"{package.name}=={package.version}"
        if package.marker:
            line += f" ; {package.marker}"
        if len(line.splitlines()) != 1:  # parse_lock refused these; a second guard, at the writer
            raise ValueError(f"a requirement would span lines: {line!r}")
        lines.append(line + "".join(f" \\\n    --hash=sha256:{h}" for h in hashes))
    return "\n".join(lines) + "\n"
