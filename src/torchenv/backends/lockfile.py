"""The lock file: PEP 751 ``pylock.toml`` as uv writes it, plus torchenv's ``[tool.torchenv]``.

PEP 751 reserves ``[tool]`` for tools; torchenv records there what the standard has no place for:
the plan (variant, CUDA, driver floor, GPU code), the hash of the spec it was made from (a lock
whose spec changed since is stale), and the indexes it was resolved against.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from torchenv.errors import UsageError

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
    tool: dict[str, Any] = field(default_factory=dict)  # the [tool.torchenv] table

    @property
    def spec_hash(self) -> str | None:
        value = self.tool.get("spec-hash")
        return value if isinstance(value, str) else None

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


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_lock(data: bytes, path: str) -> Lock:
    """A pylock.toml; malformed input is a UsageError naming the file and the fix."""
    hint = "Run `torchenv lock` to write it again."
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError("lock-unreadable", f"{path} is not a TOML file: {exc}", hint) from None
    if not str(doc.get("lock-version", "")).startswith("1."):
        raise UsageError(
            "lock-version",
            f"{path} is not a PEP 751 lock file (lock-version {doc.get('lock-version')!r}).",
            hint,
        )
    packages = []
    for index, entry in enumerate(doc.get("packages") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise UsageError("lock-malformed", f"{path}: packages[{index}] has no name.", hint)
        wheels = tuple(
            LockedWheel(
                str(w.get("url") or w.get("path") or ""),
                (w.get("hashes") or {}).get("sha256"),
            )
            for w in entry.get("wheels") or []
            if isinstance(w, dict)
        )
        packages.append(
            LockedPackage(entry["name"], str(entry.get("version", "")), wheels, entry.get("marker"))
        )
    tool = doc.get("tool", {}).get("torchenv", {}) if isinstance(doc.get("tool"), dict) else {}
    return Lock(path, content_hash(data), tuple(packages), tool if isinstance(tool, dict) else {})


def with_tool_table(pylock_text: str, table: dict[str, Any]) -> str:
    """``pylock_text`` with ``[tool.torchenv]`` appended (uv's own text is kept as it is)."""
    if "[tool.torchenv]" in pylock_text:
        raise ValueError("the lock already has a [tool.torchenv] table")
    tail = tomli_w.dumps({"tool": {"torchenv": table}})
    text = pylock_text.rstrip("\n") + "\n\n" + tail
    tomllib.loads(text)  # the result must stay valid TOML
    return text


def pip_requirements(lock: Lock) -> str:
    """requirements.txt for ``pip install --require-hashes --no-deps``: every locked package
    pinned, with the hash of each of its wheels, so pip may pick the one for its platform but
    cannot install anything the lock does not name."""
    lines = [f"# generated by torchenv from {lock.path} (sha256 {lock.sha256[:12]})"]
    for package in lock.packages:
        hashes = [w.sha256 for w in package.wheels if w.sha256]
        if not hashes:
            raise UsageError(
                "lock-without-hashes",
                f"{lock.path}: {package.name} {package.version} has no wheel hash; the pip "
                "backend installs with --require-hashes.",
                "Lock again (uv records sha256 for every file), or use the uv backend.",
            )
        line = f"{package.name}=={package.version}"
        if package.marker:
            line += f" ; {package.marker}"
        lines.append(line + "".join(f" \\\n    --hash=sha256:{h}" for h in hashes))
    return "\n".join(lines) + "\n"
