"""``torchenv list``: every environment in the user's registry, each with what it holds and
whether it is still what torchenv built.

Each row is read from outside the environment: no interpreter is started (a registry of twenty
environments would mean twenty Python start-ups, and a broken one may hang or not start at
all). The installed packages come from a scan of the dist-info directories, which is what
``doctor`` compares with the record too; ``probe_environment`` would also query the
interpreter, inspect libtorch and the kernels, none of which a listing shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchenv.backends import generations
from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.backends.registry import REGISTRY_LIMIT, rebuild
from torchenv.commands.provenance import SHOWN, _drift, _lock_changed, _spec_changed
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models import Environment
from torchenv.models.envrecord import ENV_RECORD_FILE, EnvRecord
from torchenv.models.lifecycle import LIST_SCHEMA, EnvironmentRow, ListReport
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

# the order health words are shown in: the first one that applies explains most of the others
HEALTH_ORDER = ("gone", "python-broken", "record-unusable", "lock-stale", "drifted")
_ENTRY_FIELDS = ("spec", "lock_sha256", "backend", "created")
_NAME_SHOWN = 80  # a skipped registry key is quoted in a note: a long one only in part


def run_list(registry: Path | None = None) -> ListReport:
    """The rows of every environment the registry names, sorted by prefix."""
    if registry is None:
        from torchenv.knowledge.userdata import registry_file  # noqa: PLC0415

        registry = registry_file()
    notes: list[str] = []
    entries = _read_registry(registry, notes)
    rows = []
    # a spec shared by several environments (the generations of a project) is parsed once
    specs: dict[tuple[str, str], tuple[bool | None, str | None]] = {}
    for prefix in sorted(entries):
        why = _unusable_name(prefix)
        if why is not None:
            notes.append(f"skipped the registry entry {_quoted(prefix)}: {why}")
            continue
        rows.append(environment_row(prefix, entries[prefix], registry, specs))
    return ListReport(LIST_SCHEMA, str(registry), tuple(rows), tuple(notes))


def _read_registry(registry: Path, notes: list[str]) -> dict[str, Any]:
    """prefix -> its entry. A registry that is not one JSON object is listed from what its
    text still names, as ``create`` would rebuild it (without setting it aside: list writes
    nothing); one that cannot be read at all is an error, since no listing can be made."""
    try:
        data = files.read_bytes(registry, REGISTRY_LIMIT)
    except FileNotFoundError:
        return {}  # nothing created yet
    except OSError as exc:
        raise UsageError(
            "registry-unreadable",
            Msg(
                "The list of environments torchenv made, {path}, cannot be read: {error}.",
                path=registry,
                error=files.describe(exc),
            ),
            Msg(
                "Move it away (the next `torchenv create` starts a new one), or point "
                "TORCHENV_DATA_DIR elsewhere."
            ),
        ) from None
    try:
        entries = load_json(data)
    except ValueError as exc:
        why = f"is not JSON ({exc})"
    else:
        if isinstance(entries, dict):
            return entries
        why = "is not a JSON object"
    found = rebuild(data.decode("utf-8", "replace"))
    notes.append(
        f"{registry} {why}; listed are the {len(found)} environments its text still names "
        "that carry a readable record (the next `torchenv create` rebuilds it so)"
    )
    return found


def _unusable_name(prefix: str) -> str | None:
    """Why a registry key cannot be an environment's prefix, None when it can be."""
    if "\x00" in prefix:
        return "it holds a NUL character"
    try:
        os.fsencode(prefix)
    except UnicodeEncodeError:
        return "it is not a file name this system can hold"
    if not os.path.isabs(prefix):
        # a relative name would be looked for in whatever directory list runs in
        return "it is not an absolute path"
    return None


def _quoted(name: str) -> str:
    shown = name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "..."
    return repr(shown)


def environment_row(
    prefix: str,
    entry: object,
    registry: Path,
    specs: dict[tuple[str, str], tuple[bool | None, str | None]] | None = None,
) -> EnvironmentRow:
    """One environment's row: what the record and its files say, and each health word with
    what it rests on."""
    found: dict[str, list[str]] = {}  # health word -> its details
    facts = _entry_facts(entry, registry, found)
    path = Path(prefix)
    generation = _live(path)
    gone = _gone(prefix)
    if gone is not None:
        found["gone"] = [gone]
        return _row(prefix, found, generation, facts, None, None)
    broken = _python_problem(path)
    if broken is not None:
        found["python-broken"] = [broken]
    record = None
    try:
        record = read_env_record(path)
    except RecordUnusable as exc:
        found.setdefault("record-unusable", []).append(f"{path / ENV_RECORD_FILE} {exc}")
    else:
        if record is None:
            found.setdefault("record-unusable", []).append(
                f"{path / ENV_RECORD_FILE} is missing, so neither the lock nor the installed "
                "packages can be checked"
            )
    env = _environment(path)
    if record is not None and _paths_usable(record, path, found):
        stale = _lock_stale(record) + _spec_stale(record, specs if specs is not None else {})
        if stale:
            found["lock-stale"] = stale
        drift = _drift(record.packages, env)
        if drift:
            more = len(drift) - SHOWN
            found["drifted"] = [
                *drift[:SHOWN],
                *([f"and {more} more differences from the lock"] if more > 0 else []),
            ]
    return _row(prefix, found, generation, facts, record, env)


def _paths_usable(record: EnvRecord, prefix: Path, found: dict[str, list[str]]) -> bool:
    """Whether the lock and spec paths the record names can be opened at all (not when one
    holds a NUL, or is relative to wherever list runs); why not goes under
    "record-unusable", since then neither can be checked."""
    usable = True
    for what, named in (("lock", record.lock_path), ("spec", record.spec_path)):
        why = _unusable_name(named) if named is not None else None
        if named is not None and why is not None:
            found.setdefault("record-unusable", []).append(
                f"{prefix / ENV_RECORD_FILE} names the {what} {_quoted(named)}: {why}"
            )
            usable = False
    return usable


def _entry_facts(entry: object, registry: Path, found: dict[str, list[str]]) -> dict[str, str]:
    """The registry entry's fields that are text; each malformed part is a detail of
    "record-unusable" (the entry is a record of the environment too)."""
    if not isinstance(entry, Mapping):
        found["record-unusable"] = [f"its entry in {registry} is not a JSON object"]
        return {}
    facts = {}
    for key in _ENTRY_FIELDS:
        value = entry.get(key)
        if isinstance(value, str):
            facts[key] = value
        elif value is not None:
            found.setdefault("record-unusable", []).append(
                f'its entry in {registry} has a "{key}" that is not text'
            )
    return facts


def _live(prefix: Path) -> int | None:
    try:
        return generations.live_number(prefix)
    except (OSError, ValueError):  # a link that vanished between the two looks, a long name
        return None


def _gone(prefix: str) -> str | None:
    """Why nothing usable is at ``prefix``, None when a directory is there."""
    if os.path.isdir(prefix):
        return None
    if not os.path.lexists(prefix):
        return f"there is nothing at {prefix}"
    if os.path.islink(prefix):
        return f"{prefix} is a dangling link (to {_link_target(prefix)})"
    return f"{prefix} is not a directory"


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _python_candidates(prefix: Path) -> tuple[Path, ...]:
    if os.name == "nt":
        # a venv keeps it in Scripts, a conda environment at its top
        return (prefix / "Scripts" / "python.exe", prefix / "python.exe")
    return (prefix / "bin" / "python",)


def _python_problem(prefix: Path) -> str | None:
    """What is wrong with the interpreter's file, from its metadata only: running it for each
    environment would make list as slow as its slowest environment's start-up."""
    candidates = _python_candidates(prefix)
    for python in candidates:
        if os.path.isfile(python) and (os.name == "nt" or os.access(python, os.X_OK)):
            return None
    python = next((p for p in candidates if os.path.lexists(p)), candidates[0])
    if not os.path.lexists(python):
        return f"{python} is missing"
    if os.path.islink(python) and not os.path.exists(python):
        # the usual cause: the base Python the venv was made from was upgraded or removed
        return f"{python} is a dangling link (to {_link_target(str(python))})"
    if not os.path.isfile(python):
        return f"{python} is not a regular file"
    return f"{python} is not executable"


def _lock_stale(record: EnvRecord) -> list[str]:
    lock = record.lock_path
    changed = _lock_changed(lock, record.lock_sha256)
    if changed:
        return [f"the lock {lock} changed since the environment was built"]
    if changed is None and lock is not None and record.lock_sha256 is not None:
        if not os.path.exists(lock):
            return [f"the lock {lock} is gone"]
        try:  # read once more only to say why: this is the rare path
            files.read_bytes(lock, 1)
        except OSError as exc:
            return [f"the lock {lock} cannot be read: {files.describe(exc)}"]
        return [f"the lock {lock} cannot be read"]
    return []


def _spec_stale(
    record: EnvRecord, specs: dict[tuple[str, str], tuple[bool | None, str | None]]
) -> list[str]:
    spec, recorded = record.spec_path, record.spec_hash
    if spec is None or recorded is None:
        return []  # an image's record names no spec: nothing to compare with
    key = (spec, recorded)
    if key not in specs:
        try:
            specs[key] = _spec_changed(spec, recorded)
        except (OSError, ValueError) as exc:  # pathlib's checks raise on a name too long
            specs[key] = None, str(exc)
    changed, problem = specs[key]
    if changed:
        return [f"the spec {spec} changed since the environment was built"]
    if problem is not None:
        return [f"the spec {spec} cannot be read now: {problem}"]
    return []


def _environment(prefix: Path) -> Environment:
    """The environment as its files show it: version from pyvenv.cfg or conda-meta, and the
    distributions in its site-packages."""
    from torchenv.probe.distributions import scan_site_dirs  # noqa: PLC0415
    from torchenv.probe.environment import detect_kind  # noqa: PLC0415
    from torchenv.probe.interpreter import interpreter_from_files  # noqa: PLC0415

    interpreter = interpreter_from_files(prefix, None, "not started: list reads files only")
    # lib64 is often a link to lib: one scan per real directory, or every package counts twice
    real: dict[str, str] = {}
    for site in interpreter.sys_path:
        real.setdefault(os.path.realpath(site), site)
    dists = scan_site_dirs(real.values())
    return Environment(
        prefix=str(prefix),
        kind=detect_kind(prefix, interpreter),
        selected_by="the registry",
        interpreter=interpreter,
        site_dirs=tuple(real.values()),
        distributions=tuple(dists),
    )


def _row(
    prefix: str,
    found: dict[str, list[str]],
    generation: int | None,
    facts: dict[str, str],
    record: EnvRecord | None,
    env: Environment | None,
) -> EnvironmentRow:
    health = tuple(word for word in HEALTH_ORDER if word in found) or ("ok",)
    detail = tuple(line for word in HEALTH_ORDER for line in found.get(word, ()))
    dists = env.distributions if env is not None else ()
    installed = next((d.version for d in dists if d.name == "torch" and d.version), None)
    plan: dict[str, Any] = record.plan if record is not None else {}
    locked = record.packages.get("torch") if record is not None else None
    torch = installed or locked or _text(plan.get("torch"))
    variant = record.plan_variant if record is not None else None
    if variant is None and torch and "+" in torch:
        variant = torch.partition("+")[2]  # the local tag of the wheel: cu126, cpu, rocm6.4
    python = env.interpreter.version if env is not None else None
    return EnvironmentRow(
        prefix=prefix,
        health=health,
        torch=torch,
        variant=variant,
        python=python or _text(plan.get("python")),
        backend=(record.backend if record is not None else None) or facts.get("backend"),
        generation=generation,
        spec=(record.spec_path if record is not None else None) or facts.get("spec"),
        detail=detail,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
