"""``torchenv-env.json``, the record an environment carries of how torchenv made it, as one typed
and versioned value: written by create, image and upgrade, read by verify, doctor, the registry,
``--force`` and the lifecycle verbs through ``parse_env_record`` alone.

The file lies in a prefix that may be anyone's, so every field is checked for its type before it
is used; a field of the wrong type makes the whole record unusable (ValueError naming it) rather
than half-read. Fields older records lack are optional: ``generation`` came with upgrade, and a
record without it describes generation 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

ENV_RECORD_SCHEMA = "torchenv.env/1"
ENV_RECORD_FILE = "torchenv-env.json"  # in the environment's prefix

_SHA256 = re.compile(r"[0-9a-f]{64}")
# a path the record names is opened later (doctor compares the lock, rollback the spec): no
# NUL (the OS refuses it with an exception, not an error message), no line break or control
_UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True)
class EnvRecord:
    packages: dict[str, str]  # name -> version the environment should hold
    backend: str | None = None  # "uv", "pip", "conda"
    created: str | None = None  # ISO 8601, UTC; left out of image records (stable layers)
    spec_path: str | None = None
    spec_hash: str | None = None
    lock_path: str | None = None
    lock_sha256: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)  # the lock's [tool.torchenv] table
    lock_extra: dict[str, Any] = field(default_factory=dict)  # backend facts (conda records)
    generation: int | None = None  # the generation this record describes (upgrade.py)
    # the spec file's text when it is a torchenv.toml (small, and all spec): what a rollback to
    # this environment puts back; None for a spec inside pyproject.toml
    spec_text: str | None = None

    @property
    def plan_cuda(self) -> str | None:
        """The CUDA version the plan chose; None for a CPU plan."""
        cuda = self.plan.get("cuda")
        return str(cuda) if cuda and str(cuda).lower() != "cpu" else None

    @property
    def plan_variant(self) -> str | None:
        variant = self.plan.get("variant")
        return variant if isinstance(variant, str) else None

    def to_data(self) -> dict[str, Any]:
        """The JSON object written to the file (key order kept stable for image layers)."""
        data: dict[str, Any] = {"schema": ENV_RECORD_SCHEMA, "backend": self.backend}
        if self.created is not None:
            data["created"] = self.created
        if self.generation is not None:
            data["generation"] = self.generation
        data["spec"] = {"path": self.spec_path, "hash": self.spec_hash}
        if self.spec_text is not None:
            data["spec"]["text"] = self.spec_text
        data["lock"] = {
            "path": self.lock_path,
            "sha256": self.lock_sha256,
            "packages": dict(self.packages),
            **self.lock_extra,
        }
        data["plan"] = dict(self.plan)
        return data


def parse_env_record(data: object) -> EnvRecord:
    """The record of a parsed JSON document; ValueError with a message that continues "the
    record ..." when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("is not a JSON object")
    schema = data.get("schema")
    if schema is not None and schema != ENV_RECORD_SCHEMA:
        raise ValueError(f"has schema {_shown(schema)}, not {ENV_RECORD_SCHEMA}")
    lock = _table(data, "lock")
    packages = lock.get("packages")
    if not isinstance(packages, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in packages.items()
    ):
        raise ValueError('has no "lock": {"packages": {name: version}} table')
    spec = _table(data, "spec")
    sha = _text(lock, "sha256", "lock.")
    if sha is not None and not _SHA256.fullmatch(sha):
        raise ValueError('has a "lock.sha256" that is not a sha256 digest')
    generation = data.get("generation")
    if generation is not None and (
        not isinstance(generation, int) or isinstance(generation, bool) or generation < 1
    ):
        raise ValueError('has a "generation" that is not a positive whole number')
    return EnvRecord(
        packages=dict(packages),
        backend=_text(data, "backend"),
        created=_text(data, "created"),
        spec_path=_path(spec, "path", "spec."),
        spec_hash=_text(spec, "hash", "spec."),
        lock_path=_path(lock, "path", "lock."),
        lock_sha256=sha,
        plan=_table(data, "plan"),
        lock_extra={k: v for k, v in lock.items() if k not in ("path", "sha256", "packages")},
        generation=generation,
        spec_text=_text(spec, "text", "spec."),
    )


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'has a "{key}" that is not a table')
    return value


def _text(data: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f'has a "{where}{key}" that is not text')
    return value


def _path(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _text(data, key, where)
    absolute = value is not None and (
        PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()
    )
    if value is not None and (_UNSAFE_PATH.search(value) or not absolute):
        raise ValueError(f'has a "{where}{key}" that is not an absolute path')
    return value


def _shown(value: object) -> str:
    return repr(value)[:60]
