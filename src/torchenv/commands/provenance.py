"""Read an environment's ``torchenv-env.json`` and compare it with the spec, the lock and the
installed packages now: was it built by torchenv, and has anything drifted since?"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from torchenv.backends.envrecord import RecordUnusable, read_env_record
from torchenv.backends.lockfile import LOCK_LIMIT, content_hash
from torchenv.errors import TorchenvError
from torchenv.models import Environment
from torchenv.models.build import ENV_RECORD_FILE, Provenance
from torchenv.models.environment import canonical_name
from torchenv.untrusted import files
from torchenv.verify.lockcheck import same_version

# installed by the venv tools themselves, not by the lock
_TOOLING = {"pip", "setuptools", "wheel"}
SHOWN = 8


def read_provenance(env: Environment) -> Provenance | None:
    """None when the environment has no record (it was not made by torchenv create)."""
    path = Path(env.prefix) / ENV_RECORD_FILE
    try:
        record = read_env_record(env.prefix)
    except RecordUnusable as exc:
        return Provenance(str(path), env.prefix, error=str(exc))
    if record is None:
        return None
    changed, problem = _spec_changed(record.spec_path, record.spec_hash)
    return Provenance(
        record=str(path),
        prefix=env.prefix,
        backend=record.backend,
        created=record.created,
        spec=record.spec_path,
        spec_changed=changed,
        spec_problem=problem,
        lock=record.lock_path,
        lock_changed=_lock_changed(record.lock_path, record.lock_sha256),
        drift=_drift(record.packages, env),
    )


def _spec_changed(path: str | None, recorded: str | None) -> tuple[bool | None, str | None]:
    if path is None or recorded is None:
        return None, "the record names no spec"
    from torchenv.spec import load_spec, spec_hash  # noqa: PLC0415

    try:
        spec = load_spec(Path(path), Path(path).parent)
    except TorchenvError as exc:
        return None, exc.message.splitlines()[0]
    return spec_hash(spec) != recorded, None


def _lock_changed(path: str | None, recorded: str | None) -> bool | None:
    if path is None or recorded is None:
        return None
    try:
        return content_hash(files.read_bytes(path, LOCK_LIMIT)) != recorded
    except OSError:
        return None


def _drift(locked: Mapping[str, str], env: Environment) -> tuple[str, ...]:
    have = {canonical_name(d.name): d.version for d in env.distributions}
    want = {canonical_name(k): str(v) for k, v in locked.items() if isinstance(k, str)}
    out = []
    for name, version in sorted(want.items()):
        if name not in have:
            out.append(f"{name} {version} is missing")
        elif not same_version(have[name] or "", version):
            out.append(f"{name} is {have[name] or 'of unknown version'}, the lock has {version}")
    for name, found in sorted(have.items()):
        if name not in want and name not in _TOOLING:
            out.append(f"{name} {found or ''} was added".replace("  ", " "))
    return tuple(out)
