"""`torchenv export`'s renderers, pure: a lock as requirements.txt, environment.yml or pixi.toml.

A lock comes from elsewhere (a clone, a pull request), so every value of it that reaches an
exported file is checked here once more against a strict form: each format has its own way to be
broken out of (pip reads `` #`` as a comment and expands ``${VAR}``, YAML reads ``: `` as a key,
TOML ends a string at a quote). A value out of form is refused (exit 2), never rewritten. What a
format cannot say (hashes, markers, uv's first-index strategy) becomes a note for the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import tomli_w

from torchenv.backends import exportwords as words
from torchenv.backends.conda import SUBDIRS
from torchenv.backends.lockfile import PACKAGE_NAME, Lock, pip_requirements
from torchenv.backends.lockrecord import CUDA, SUBDIR, LockRecord
from torchenv.errors import UsageError
from torchenv.untrusted.text import printable, strip_credentials

FORMATS = ("requirements.txt", "environment.yml", "pixi.toml")

# PEP 508 names (lockfile.PACKAGE_NAME): nothing an option, comment or second line starts with
_NAME = PACKAGE_NAME
# the characters of a PEP 440 version; packaging accepts " 1.0 " with its spaces, this does not
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,127}")
# markers as uv writes them: no "#" (a pip comment), "$" (pip's ${VAR}) or "\\" (a continuation)
_MARKER = re.compile(r"[A-Za-z0-9 _.<>=!~'\"(),*+-]{1,1000}")
# conda: lower-case names, versions and build strings without "-" (it separates them in file names)
_CONDA_NAME = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,127}")
_CONDA_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+!]{0,127}")
_BUILD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+]{0,127}")
# a conda environment's (and pixi workspace's) name: a directory name with nothing to quote
ENV_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# an index URL or a find-links folder: no space, quote, "#" or "$", so that every format (pip's
# option lines above all) reads it as one value
_LOCATION = re.compile(r"[A-Za-z0-9._~:/%+=,@?&-]{1,2000}")
REDO = words.REDO
HASHED = "For a hash-checked install, export requirements.txt and use pip --require-hashes."
_UNHASHED = {
    "environment.yml": "pip installs the pins unchecked",
    "pixi.toml": "`pixi install` resolves the pins again and records new hashes in pixi.lock",
}
# PEP 508 (os_name, sys_platform, platform_system, platform_machine) of each conda subdir, for
# deciding a marker per pixi platform
_PLATFORM_MARKERS = {
    "linux-64": ("posix", "linux", "Linux", "x86_64"),
    "linux-aarch64": ("posix", "linux", "Linux", "aarch64"),
    "osx-64": ("posix", "darwin", "Darwin", "x86_64"),
    "osx-arm64": ("posix", "darwin", "Darwin", "arm64"),
    "win-64": ("nt", "win32", "Windows", "AMD64"),
}


@dataclass(frozen=True)
class Exported:
    text: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CondaPlatform:
    """One platform of a conda lock as plain data (the command reads rattler's records)."""

    subdir: str
    packages: tuple[tuple[str, str, str], ...]
    virtual_packages: tuple[str, ...] = ()


def _checked(
    where: str, what: str, value: str, form: re.Pattern[str], expected: str, hint: str = REDO
) -> str:
    if form.fullmatch(value) is None:
        shown = printable(repr(value))
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise UsageError("export-value", words.refused(where, what, shown, expected), hint)
    return value


def checked_name(name: str) -> str:
    expected = words.NAME_CHARACTERS
    return _checked("--name", words.ENVIRONMENT_NAME, name, ENV_NAME, expected, words.RENAME)


def _pins(lock: Lock) -> list[tuple[str, str, str | None]]:
    """(name, version, marker) of every package, each value checked."""
    out = []
    for package in lock.packages:
        name = _checked(lock.path, words.PACKAGE_NAME, package.name, _NAME, words.PEP508_NAME)
        key = words.version_of(name)
        version = _checked(lock.path, key, package.version, _VERSION, words.PEP440_VERSION)
        marker = package.marker
        if marker is not None:
            _checked(lock.path, words.marker_of(name), marker, _MARKER, words.PEP508_MARKER)
        out.append((name, version, marker))
    return out


def _location(where: str, value: object) -> str:
    # the lock never holds credentials (lockrecord refuses them); stripped again in case
    text = strip_credentials(value) if isinstance(value, str) else repr(value)
    return _checked(where, words.INDEX_LOCATION, text, _LOCATION, words.URL_OR_PATH)


def _sources(lock: Lock) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(PyPI index, PyTorch index, find-links) of the lock's record, each checked."""
    indexes = lock.record.table.get("indexes") if lock.record else None
    if not isinstance(indexes, dict):
        return None, None, ()
    pypi, pytorch = indexes.get("pypi"), indexes.get("pytorch")
    links = indexes.get("find-links") or []
    return (
        _location(lock.path, pypi) if pypi else None,
        _location(lock.path, pytorch) if pytorch else None,
        tuple(_location(lock.path, link) for link in (links if isinstance(links, list) else [])),
    )


def _options(pypi: str | None, pytorch: str | None, links: tuple[str, ...]) -> list[str]:
    options = [f"--index-url {pypi}"] if pypi else []
    options += [f"--extra-index-url {pytorch}"] if pytorch else []
    return options + [f"--find-links {link}" for link in links]


def _source_notes(lock: Lock, fmt: str, pytorch: str | None) -> list[str]:
    notes = []
    if fmt in _UNHASHED:
        notes.append(f"{fmt} cannot carry the lock's hashes: {_UNHASHED[fmt]}. {HASHED}")
    if lock.record is None:
        notes.append(
            f"the lock has no [tool.torchenv] record: {fmt} names no index, so the installer "
            "uses the one it is configured with"
        )
    elif lock.sealed is None:
        notes.append("the lock has no lock-hash: whether it was edited cannot be told")
    if any("://" not in w.url for p in lock.packages for w in p.wheels):
        notes.append(
            "some wheels are named by a path beside the lock: add their folder to find-links"
        )
    if pytorch and fmt != "pixi.toml":
        safe = "the hashes keep it to the locked files"
        if fmt != "requirements.txt":
            safe = "a package of the same version on PyPI may be taken instead"
        notes.append(
            "pip has no index strategy: it looks on PyPI and on the PyTorch index alike, where "
            f"uv took what the PyTorch index has from there only ({safe})"
        )
    return notes


def _comments(lines: Iterable[str]) -> str:
    """Lines that stay comments; controls and non-ASCII escaped (PyYAML refuses some)."""
    out = []
    for text in lines:
        for line in text.splitlines() or [""]:
            shown = printable(line).encode("ascii", "backslashreplace").decode("ascii")
            out.append(f"# {shown}".rstrip())
    return "".join(f"{line}\n" for line in out)


def _finished(source: str, notes: list[str], body: str) -> Exported:
    """``body`` below comments naming its source and saying what it could not carry."""
    return Exported(
        _comments([f"generated by torchenv export from {source}", *notes]) + body, tuple(notes)
    )


def render_requirements(lock: Lock) -> Exported:
    """requirements.txt for ``pip install --require-hashes --no-deps``: ``pip_requirements``
    (every pin with its wheels' hashes, markers kept) below the index options of the lock."""
    _pins(lock)
    pypi, pytorch, links = _sources(lock)
    options = _options(pypi, pytorch, links)
    header, _, body = pip_requirements(lock).partition("\n")  # its own sha256 comment first
    usage = _comments(["install with: pip install --require-hashes --no-deps -r requirements.txt"])
    text = header + "\n" + usage + "".join(f"{o}\n" for o in options) + body
    return Exported(text, tuple(_source_notes(lock, "requirements.txt", pytorch)))


def _yaml(value: str) -> str:
    # a JSON string is a YAML double-quoted scalar; \U escapes: PyYAML reads no surrogate pairs
    text = json.dumps(value, ensure_ascii=False)
    return re.sub(r"[^\x20-\x7e]", lambda m: f"\\U{ord(m.group(0)):08x}", text)


def _python(record: LockRecord | None, notes: list[str]) -> str | None:
    if record is None:
        notes.append("the lock does not say which Python it is for: python is left unpinned")
        return None
    python = record.python.rstrip("t")
    if python != record.python:
        notes.append(
            f"the lock is for free-threaded Python {record.python}, the file pins Python "
            f"{python}: add conda-forge's python-freethreading for that build"
        )
    return python


def render_environment(lock: Lock, name: str) -> Exported:
    """environment.yml of a pip/uv lock: Python and pip from conda-forge, then every package
    pinned in the ``pip:`` section behind the lock's index options."""
    pins = _pins(lock)
    pypi, pytorch, links = _sources(lock)
    notes = _source_notes(lock, "environment.yml", pytorch)
    python = _python(lock.record, notes)
    pip = _options(pypi, pytorch, links) + [
        f"{n}=={v}" + (f" ; {m}" if m else "") for n, v, m in pins
    ]
    lines = [
        f"name: {_yaml(checked_name(name))}",
        "channels:",
        f"  - {_yaml('conda-forge')}",
        f"  - {_yaml('nodefaults')}",
        "dependencies:",
        f"  - {_yaml(f'python={python}' if python else 'python')}",
        f"  - {_yaml('pip')}",
        "  - pip:",
        *(f"      - {_yaml(line)}" for line in pip),
    ]
    return _finished(f"the lock with sha256 {lock.sha256}", notes, "\n".join(lines) + "\n")


def _subdirs(record: LockRecord | None, platforms: Sequence[str], notes: list[str]) -> list[str]:
    if not platforms and record is None:
        notes.append("the lock names no platforms: the pixi workspace is for linux-64")
    chosen = platforms or ([SUBDIRS[p] for p in record.platforms] if record else ["linux-64"])
    return [_checked("--platform", words.PLATFORM, p, SUBDIR, words.CONDA_SUBDIR) for p in chosen]


def _marker_holds(marker: str, subdir: str, python: str) -> bool | None:
    """Whether ``marker`` holds on ``subdir`` with Python ``python`` ("3.11"); None when it
    depends on what the platform does not fix (a patch release, an extra)."""
    from packaging.markers import Marker  # noqa: PLC0415

    keys = ("os_name", "sys_platform", "platform_system", "platform_machine")
    base = {
        **dict(zip(keys, _PLATFORM_MARKERS.get(subdir, ("",) * 4), strict=True)),
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": python,
    }
    results = set()
    for patch in ("0", "99"):  # two releases apart: a marker that tells them apart is undecided
        env = {**base, "python_full_version": f"{python}.{patch}", "platform_release": patch}
        try:
            results.add(Marker(marker).evaluate({**env, "platform_version": patch}))
        except Exception:  # noqa: BLE001 - packaging raises several kinds for an unknown name
            return None
    return results.pop() if len(results) == 1 else None


def _pypi(lock: Lock, subdirs: list[str], python: str) -> tuple[dict[str, object], list[str]]:
    """[pypi-dependencies], and [target.SUBDIR.pypi-dependencies] for the packages whose marker
    holds on some platforms only: pixi has no markers."""
    common: dict[str, str] = {}
    targets: dict[str, dict[str, str]] = {}
    notes = []
    for name, version, marker in _pins(lock):
        pin = f"=={version}"
        if marker is None:
            common[name] = pin
            continue
        held = {s: _marker_holds(marker, s, python) for s in subdirs}
        on = [s for s, ok in held.items() if ok]
        if None in held.values() or len(on) == len(subdirs):
            common[name] = pin
            where = "listed for every platform"
        else:
            for subdir in on:
                targets.setdefault(subdir, {})[name] = pin
            where = f"under [target] for {', '.join(on)}" if on else "left out (no platform has it)"
        notes.append(f"pixi.toml has no markers: {name} ({marker}) is {where}")
    tables: dict[str, object] = {"pypi-dependencies": common}
    if targets:
        tables["target"] = {s: {"pypi-dependencies": t} for s, t in sorted(targets.items())}
    return tables, notes


def render_pixi(lock: Lock, name: str, platforms: Sequence[str] = ()) -> Exported:
    """pixi.toml of a pip/uv lock: Python from conda-forge, every package an exact PyPI pin,
    the lock's indexes as [pypi-options] (pixi resolves with uv: first-index, as torchenv)."""
    notes: list[str] = []
    subdirs = _subdirs(lock.record, platforms, notes)
    python = _python(lock.record, notes)
    tables, marker_notes = _pypi(lock, subdirs, python or "3")
    pypi, pytorch, links = _sources(lock)
    notes = [*_source_notes(lock, "pixi.toml", pytorch), *notes, *marker_notes]
    options: dict[str, object] = {"index-url": pypi} if pypi else {}
    if pytorch:  # uv's strategy, as torchenv resolved: a package the PyTorch index has
        options["extra-index-urls"] = [pytorch]  # comes from there only
        options["index-strategy"] = "first-index"
    if links:
        options["find-links"] = [{"url" if "://" in x else "path": x} for x in links]
    document: dict[str, object] = {
        "workspace": {
            "name": checked_name(name),
            "channels": ["conda-forge"],
            "platforms": subdirs,
        },
        "dependencies": {"python": f"{python}.*" if python else "*"},
        **tables,
    }
    if options:
        document["pypi-options"] = options
    return _finished(f"the lock with sha256 {lock.sha256}", notes, tomli_w.dumps(document))


def _conda_pins(path: str, part: CondaPlatform) -> list[tuple[str, str, str]]:
    _checked(path, words.PLATFORM, part.subdir, SUBDIR, words.CONDA_SUBDIR)
    for name, version, build in part.packages:
        _checked(path, words.CONDA_PACKAGE_NAME, name, _CONDA_NAME, words.CONDA_NAME)
        _checked(path, words.version_of(name), version, _CONDA_VERSION, words.CONDA_VERSION)
        _checked(path, words.build_of(name), build, _BUILD, words.CONDA_BUILD)
    return list(part.packages)


def _cuda(part: CondaPlatform) -> str | None:
    """The CUDA version of the ``__cuda`` virtual package the solve assumed, if any."""
    found = [v.split("=")[1] for v in part.virtual_packages if v.startswith("__cuda=")]
    return _checked(words.THE_LOCK, "CUDA", found[0], CUDA, words.CUDA_VERSION) if found else None


def _channels(path: str, record: LockRecord) -> list[str]:
    listed = record.table.get("channels")
    return [_location(path, c) for c in (listed if isinstance(listed, list) else [])]


def _conda_notes(
    path: str, record: LockRecord, parts: Sequence[CondaPlatform], fmt: str
) -> list[str]:
    notes = [
        f"{fmt} cannot carry the conda packages' sha256: the solver finds the pinned builds "
        "again in the channels and the installer checks them against the channels' own records"
    ]
    for part in parts if fmt == "environment.yml" else ():  # pixi.toml says it itself
        cuda = _cuda(part)
        if cuda:
            notes.append(
                f"the lock for {part.subdir} was solved assuming __cuda={cuda}: on a machine "
                f"without that driver, set CONDA_OVERRIDE_CUDA={cuda} when creating it"
            )
    if not _channels(path, record):
        notes.append("the lock names no conda channels: conda-forge is written")
    return notes


def render_conda_environment(
    path: str, sha256: str, record: LockRecord, part: CondaPlatform, name: str
) -> Exported:
    """environment.yml of a conda lock for one platform: every record ``name ==version build``
    (the canonical match spec, which rattler's strict parser takes too), the lock's channels."""
    pins = _conda_pins(path, part)
    channels = _channels(path, record) or ["conda-forge"]
    notes = _conda_notes(path, record, [part], "environment.yml")
    notes.append(f"environment.yml has no platforms: it lists the packages for {part.subdir}")
    lines = [
        f"name: {_yaml(checked_name(name))}",
        "channels:",
        *(f"  - {_yaml(c)}" for c in [*channels, "nodefaults"]),
        "dependencies:",
        *(f"  - {_yaml(f'{n} =={v} {b}')}" for n, v, b in pins),
    ]
    return _finished(f"the conda lock with sha256 {sha256}", notes, "\n".join(lines) + "\n")


def render_conda_pixi(
    path: str, sha256: str, record: LockRecord, parts: Sequence[CondaPlatform], name: str
) -> Exported:
    """pixi.toml of a conda lock: what all platforms pin alike in [dependencies], the rest in
    [target.SUBDIR.dependencies], each ``{version = "==x", build = "..."}``; CUDA as pixi's
    [system-requirements]."""
    pinned = {p.subdir: {n: (v, b) for n, v, b in _conda_pins(path, p)} for p in parts}
    shared = set.intersection(*(set(p.items()) for p in pinned.values())) if pinned else set()
    common = {n: {"version": f"=={v}", "build": b} for n, (v, b) in sorted(shared)}
    document: dict[str, object] = {
        "workspace": {
            "name": checked_name(name),
            "channels": _channels(path, record) or ["conda-forge"],
            "platforms": [p.subdir for p in parts],
        },
        "dependencies": common,
    }
    targets = {
        subdir: {"dependencies": {n: {"version": f"=={v}", "build": b} for n, (v, b) in rest}}
        for subdir, rest in ((s, sorted(set(p.items()) - shared)) for s, p in pinned.items())
        if rest
    }
    if targets:
        document["target"] = targets
    cudas = sorted({c for c in map(_cuda, parts) if c})
    if cudas:  # the virtual package the solve assumed, which pixi takes from here
        document["system-requirements"] = {"cuda": cudas[0]}
    notes = _conda_notes(path, record, parts, "pixi.toml")
    return _finished(f"the conda lock with sha256 {sha256}", notes, tomli_w.dumps(document))
