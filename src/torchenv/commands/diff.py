"""``torchenv diff A B``: read each side (an environment prefix, a lock, an inspect document),
then hand both to the pure comparison in ``report.compare``.

What a side is, is told from what it holds rather than from its name alone: a directory is an
environment, a JSON document must be ``torchenv inspect --json`` output, a rattler lock is
named ``*.lock`` (or has torchenv's sidecar beside it), and a TOML document with a
``lock-version`` is a PEP 751 lock. Every file is read through ``untrusted.files`` first: a FIFO
or ``/dev/zero`` given as a side is refused before anything waits on it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends.lockfile import LOCK_LIMIT, Lock, parse_lock
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.codec import DecodeError, from_data
from torchenv.models.diff import (
    CONDA_LOCK,
    MACHINE,
    PREFIX,
    PYLOCK,
    DiffInput,
    DiffReport,
    TorchSummary,
)
from torchenv.models.environment import Environment, TorchBuild, canonical_name
from torchenv.models.machine import Machine
from torchenv.models.schemas import INSPECT_SCHEMA
from torchenv.report.compare import diff_inputs
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json, load_toml, printable

if TYPE_CHECKING:
    from torchenv.backends.lockrecord import LockRecord
    from torchenv.probe.context import ProbeContext

# an inspect document is ~100 kB; a hostile one is not parsed whole (the cap of plan --for)
MACHINE_LIMIT = 16 << 20
ACCEPTED = Msg(
    "diff compares environment directories (a venv or conda prefix), locks (pylock.toml, or "
    "conda.lock with its conda.lock.torchenv.json) and `torchenv inspect --json` documents."
)
_VARIANT = re.compile(r"cpu|cu\d{2,3}|rocm\d+(\.\d+){0,2}|xpu")
_PYTHON = re.compile(r"\d+\.\d+(\.\d+)?")


@dataclass(frozen=True)
class _Side:
    """A side as read, with what aligning a lock to the other side needs."""

    input: DiffInput
    lock: Lock | None = None  # a pylock: its markers can be evaluated for the other side
    python: str | None = None  # the Python of an environment ("3.11.7")
    arch: str | None = None  # the Linux machine of an inspect document ("x86_64")


def run_diff(ctx: ProbeContext, a: str, b: str) -> DiffReport:
    left, right = read_side(ctx, a), read_side(ctx, b)
    return diff_inputs(_aligned(left, right), _aligned(right, left))


def read_side(ctx: ProbeContext, text: str) -> _Side:
    if not text:  # Path("") is ".": an empty argument must not become the working directory
        raise UsageError("diff-input-missing", Msg("An empty path was given."), ACCEPTED)
    path = Path(text)
    if path.is_dir():
        return _prefix(ctx, path)
    try:
        data = files.read_bytes(path, LOCK_LIMIT)
    except FileNotFoundError:
        raise UsageError(
            "diff-input-missing", Msg("{path} does not exist.", path=path), ACCEPTED
        ) from None
    except OSError as exc:
        raise UsageError(
            "diff-input-unreadable",
            Msg("Cannot read {path}: {error}.", path=path, error=files.describe(exc)),
            ACCEPTED,
        ) from None
    except ValueError as exc:  # a NUL in the path: os.open refuses it with ValueError
        raise UsageError(
            "diff-input-unreadable",
            Msg("Cannot read {path}: {error}.", path=repr(text), error=str(exc)),
            ACCEPTED,
        ) from None
    if data.lstrip()[:1] in (b"{", b"["):
        return _machine(path, data)
    from torchenv.backends.conda import meta_path  # noqa: PLC0415  (no rattler needed here)

    if path.name.endswith(".lock") or os.path.lexists(meta_path(path)):
        return _conda_lock(path, data)
    if path.suffix == ".toml" or _has_lock_version(data):
        return _pylock(path, data)
    raise UsageError(
        "diff-input-unknown",
        Msg("{path} is not an environment directory, a lock or an inspect document.", path=path),
        ACCEPTED,
    )


def _has_lock_version(data: bytes) -> bool:
    try:
        return "lock-version" in load_toml(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False


# --------------------------------------------------------------------------- environments
def _prefix(ctx: ProbeContext, path: Path) -> _Side:
    from torchenv.probe.environment import probe_environment  # noqa: PLC0415

    env = probe_environment(ctx, None, str(path))
    if env.kind == "unknown" and not env.site_dirs and not env.distributions:
        raise UsageError(
            "diff-not-an-environment",
            Msg(
                "{prefix} is a directory, but not a Python environment (no python, "
                "pyvenv.cfg, conda-meta/ or site-packages in it).",
                prefix=path,
            ),
            ACCEPTED,
        )
    version = env.interpreter.version
    detail = env.kind + (f", Python {version}" if version else "")
    if not env.interpreter.runs:
        detail += ", read from its files"
    return _Side(
        DiffInput(
            PREFIX,
            str(path),
            detail,
            python=_distributions(env),
            conda=_conda_records(env),
            torch=torch_of_build(env.torch),
        ),
        python=version if version and _PYTHON.fullmatch(version) else None,
    )


def _distributions(env: Environment) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dist in env.distributions:
        out.setdefault(dist.name, dist.version)  # the first on sys.path is the one imported
    return out


def _conda_records(env: Environment) -> dict[str, str | None] | None:
    if env.conda is None or not env.conda.records:
        return None
    return {r.name: r.version for r in env.conda.records}


def torch_of_build(build: TorchBuild | None) -> TorchSummary | None:
    """The torch build as a diff shows it; its variant from the local label ("+cu130"), else
    from what it was built with (PyPI's default wheel carries no label)."""
    if build is None:
        return None
    variant = build.local if build.local and _VARIANT.fullmatch(build.local) else None
    if variant is None:
        if build.cuda:
            variant = "cu" + build.cuda.replace(".", "")
        elif build.hip:
            variant = "rocm" + ".".join(build.hip.split(".")[:2])
        elif not build.has_cuda_library:
            variant = "cpu"
    return TorchSummary(build.version, variant, build.cuda)


# --------------------------------------------------------------------------- inspect documents
def _machine(path: Path, data: bytes) -> _Side:
    expected = Msg(
        "A JSON file must be the output of `torchenv inspect --json` ({schema}).",
        schema=INSPECT_SCHEMA,
    )
    if len(data) > MACHINE_LIMIT:
        raise UsageError(
            "diff-input-unreadable",
            Msg(
                "Cannot read {path}: it is larger than {size} MiB.",
                path=path,
                size=MACHINE_LIMIT >> 20,
            ),
            expected,
        )
    try:
        doc = load_json(data)
    except ValueError as exc:
        raise UsageError(
            "diff-input-not-json",
            Msg("{path} is not JSON ({error}).", path=path, error=str(exc)),
            expected,
        ) from None
    if not isinstance(doc, dict) or doc.get("schema") != INSPECT_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        shown = printable(repr(found))[:80]
        hint = expected
        if found == "torchenv.conda-lock/1":
            hint = Msg(
                "That is the sidecar of a conda lock: give the lock beside it. {accepted}",
                accepted=ACCEPTED,
            )
        raise UsageError(
            "diff-input-schema",
            Msg("{path} is not an inspect document (schema: {schema}).", path=path, schema=shown),
            hint,
        )
    try:
        machine = from_data(Machine, doc.get("machine"))
        raw = doc.get("environment")
        env = None if raw is None else from_data(Environment, raw, "$.environment")
    except DecodeError as exc:
        raise UsageError(
            "diff-input-invalid",
            Msg("{path} is malformed: {error}", path=path, error=printable(str(exc))[:300]),
            expected,
        ) from None
    host = machine.host
    detail = f"{host.os}-{host.arch}" + (
        f", driver {machine.driver.version}" if machine.driver.version else ", no driver"
    )
    python = None
    if env is not None and env.interpreter.version:
        detail += f", Python {env.interpreter.version}"
        if _PYTHON.fullmatch(env.interpreter.version):
            python = env.interpreter.version
    return _Side(
        DiffInput(
            MACHINE,
            str(path),
            detail,
            # a document whose package list was emptied (shared without it) lists nothing to
            # compare, which is not the same as an environment with nothing installed
            python=_distributions(env) if env is not None and env.distributions else None,
            conda=_conda_records(env) if env is not None else None,
            torch=torch_of_build(env.torch) if env is not None else None,
            machine=machine,
        ),
        python=python,
        arch=host.arch if host.os == "linux" else None,
    )


# --------------------------------------------------------------------------- locks
def _variant_cuda(variant: str | None) -> str | None:
    """ "cu130" -> "13.0", "cu118" -> "11.8"."""
    if variant is None or not re.fullmatch(r"cu\d{2,3}", variant):
        return None
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def _record_torch(record: LockRecord, version: str | None) -> TorchSummary:
    return TorchSummary(version or record.torch, record.variant, record.cuda)


def _pylock(path: Path, data: bytes) -> _Side:
    lock = parse_lock(data, str(path))
    torch = next((p for p in lock.packages if canonical_name(p.name) == "torch"), None)
    summary = None
    if lock.record is not None:
        summary = _record_torch(lock.record, torch.version if torch else None)
    elif torch is not None:
        local = torch.version.partition("+")[2] or None
        variant = local if local and _VARIANT.fullmatch(local) else None
        summary = TorchSummary(torch.version, variant, _variant_cuda(variant))
    notes = []
    if lock.sealed is False:
        notes.append(
            f"{path} was changed since `torchenv lock` wrote it (its lock-hash does not match)."
        )
    detail = None
    if lock.record is not None:
        detail = f"Python {lock.record.python}, {', '.join(lock.record.platforms)}"
    return _Side(
        DiffInput(
            PYLOCK,
            str(path),
            detail,
            python=_lock_versions(lock),
            torch=summary,
            notes=tuple(notes),
        ),
        lock=lock,
    )


def _lock_versions(lock: Lock) -> dict[str, str | None]:
    """name -> version; a universal lock may hold a package twice under exclusive markers
    (numpy 1.26.4 for Python 3.9, 2.1.0 from 3.10): then every version, as "1.26.4 | 2.1.0"."""
    seen: dict[str, list[str]] = {}
    for package in lock.packages:
        versions = seen.setdefault(canonical_name(package.name), [])
        if package.version not in versions:
            versions.append(package.version)
    return {name: " | ".join(versions) for name, versions in seen.items()}


def _aligned(side: _Side, other: _Side) -> DiffInput:
    """A pylock against an environment: the packages its markers give that environment's
    Python (and, for an inspect document, its machine), as an installer would choose."""
    if side.lock is None or other.python is None:
        return side.input
    versions = side.lock.versions_for(other.python, other.arch)
    chosen = {canonical_name(n): v for n, v in versions.items()}
    dropped = len(_lock_versions(side.lock)) - len(chosen)
    notes = side.input.notes
    if dropped:
        notes += (
            f"{side.input.path}: {dropped} package(s) whose markers leave them out on Python "
            f"{other.python} are not compared.",
        )
    return replace(side.input, python=dict(chosen), notes=notes)


def _conda_lock(path: Path, data: bytes) -> _Side:
    from torchenv.backends.conda import content_hash, meta_path, parse_meta  # noqa: PLC0415
    from torchenv.backends.conda_rattler import host_subdir, read_lock  # noqa: PLC0415

    solved = read_lock(path)  # without py-rattler: an error that says how to get it
    if not solved:
        raise UsageError(
            "diff-input-invalid", Msg("{path} locks no platform.", path=path), ACCEPTED
        )
    subdirs = [s.subdir for s in solved]
    here = host_subdir()
    chosen = next((s for s in solved if s.subdir == here), min(solved, key=lambda s: s.subdir))
    conda: dict[str, str | None] = {name: version for name, version, _ in chosen.packages()}
    builds = {name: build for name, _, build in chosen.packages()}
    notes = []
    if len(subdirs) > 1:
        notes.append(f"{path}: platform {chosen.subdir} compared, of {', '.join(subdirs)}.")
    record = None
    sidecar = meta_path(path)
    if os.path.lexists(sidecar):
        try:
            meta = files.read_bytes(sidecar, LOCK_LIMIT)
        except OSError as exc:
            raise UsageError(
                "diff-input-unreadable",
                Msg("Cannot read {path}: {error}.", path=sidecar, error=files.describe(exc)),
                ACCEPTED,
            ) from None

        sha, record, sealed = parse_meta(meta, str(sidecar))
        if sha != content_hash(data):
            notes.append(f"{sidecar} describes another version of {path.name}: not used.")
            record = None
        elif sealed is False:
            notes.append(f"{sidecar} was changed since `torchenv lock` wrote it.")
    torch = None
    pytorch = conda.get("pytorch")
    if record is not None:
        torch = _record_torch(record, pytorch)
    elif pytorch is not None:
        # conda-forge build strings say the build: "cuda130_generic_py311_..." or "cpu_..."
        match = re.match(r"(cuda|cpu)(\d*)", builds.get("pytorch", ""))
        variant = None
        if match and match.group(1) == "cpu":
            variant = "cpu"
        elif match and match.group(2):
            variant = f"cu{match.group(2)}"
        torch = TorchSummary(pytorch, variant, _variant_cuda(variant))
    return _Side(
        DiffInput(
            CONDA_LOCK,
            str(path),
            f"platform {chosen.subdir}",
            conda=conda,
            torch=torch,
            notes=tuple(notes),
        )
    )
