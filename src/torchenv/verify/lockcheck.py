"""``versions-match-lock``: the environment's record of how torchenv built it, against what is
installed and what ``import torch`` really loads.

``torchenv create`` writes ``torchenv-env.json`` into the prefix (commands/create.py): the lock's
``packages`` (name -> version) and the plan it was made from (``plan.cuda`` is set for a CUDA
build). An environment torchenv did not build has no record: the check is skipped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torchenv.models.build import ENV_RECORD_FILE
from torchenv.models.environment import canonical_name
from torchenv.models.envrecord import EnvRecord as TypedRecord
from torchenv.models.envrecord import parse_env_record
from torchenv.models.verify import CheckStatus, VerifyCheck
from torchenv.untrusted.text import load_json

__all__ = [
    "ENV_RECORD_FILE",
    "EnvRecord",
    "check_versions",
    "parse_record",
    "record_from_data",
    "record_view",
    "same_version",
]
SHOWN = 5  # differences listed in the detail


@dataclass(frozen=True)
class EnvRecord:
    path: str
    packages: dict[str, str] = field(default_factory=dict)  # canonical name -> version
    plan_cuda: str | None = None  # the CUDA version the plan chose; None for a CPU plan
    plan_variant: str | None = None  # "cu130", "cpu"
    error: str | None = None  # why the file could not be used


def same_version(a: str, b: str) -> bool:
    """Equal as PEP 440 release + local label, without packaging ("2.13" == "2.13.0",
    "2.13.0+CPU" == "2.13.0+cpu"); other spellings must match exactly."""

    def key(text: str) -> tuple[tuple[int, ...], str] | str:
        text = text.strip().lower().removeprefix("v")
        match = re.fullmatch(r"(\d+(?:\.\d+)*)((?:[a-z]+\d*|\.post\d+|\.dev\d+)*)(\+.*)?", text)
        if match is None:
            return text
        release = [int(p) for p in match.group(1).split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return tuple(release), (match.group(2) or "") + (match.group(3) or "")

    return key(a) == key(b)


def parse_record(path: str, text: str | None) -> EnvRecord | None:
    """The record in ``text`` (None: there is no file)."""
    if text is None:
        return None
    try:
        data = load_json(text)
    except ValueError as exc:
        return EnvRecord(path, error=f"is not JSON: {exc}")
    return record_from_data(path, data)


def record_from_data(path: str, data: Any) -> EnvRecord:
    """The record of the JSON ``data`` read from ``path``."""
    try:
        return record_view(path, parse_env_record(data))
    except ValueError as exc:
        return EnvRecord(path, error=str(exc))


def record_view(path: str, record: TypedRecord) -> EnvRecord:
    """What the version check needs of a checked record."""
    packages = {canonical_name(k): v for k, v in record.packages.items()}
    return EnvRecord(path, packages, record.plan_cuda, record.plan_variant)


def check_versions(
    record: EnvRecord | None,
    installed: Mapping[str, str | None],
    runtime: Mapping[str, object],
    prefix: str,
) -> VerifyCheck:
    """``installed``: canonical name -> version of the distributions found in the environment;
    ``runtime``: the script's facts (``torch``: the version ``import torch`` gave, ``file``: the
    torch package it loaded)."""
    start = time.perf_counter()

    def done(status: CheckStatus, detail: str) -> VerifyCheck:
        return VerifyCheck("versions-match-lock", status, detail, time.perf_counter() - start)

    if record is None:
        return done(
            CheckStatus.SKIP,
            f"no torchenv lock record ({ENV_RECORD_FILE}) in {prefix}: "
            "not built by torchenv create",
        )
    if record.error is not None:
        return done(CheckStatus.FAIL, f"{record.path} {record.error}")
    have = {canonical_name(k): v for k, v in installed.items()}
    problems = []
    for name, locked in sorted(record.packages.items()):
        found = have.get(name, "")
        if name not in have:
            problems.append(f"{name} {locked} is missing")
        elif found is None or not same_version(found, locked):
            problems.append(f"{name} is {found or 'of unknown version'}, the lock has {locked}")
    imported = runtime.get("torch")
    locked_torch = record.packages.get("torch")
    if isinstance(imported, str) and locked_torch and not same_version(imported, locked_torch):
        where = runtime.get("file")
        problems.append(
            f"import torch loads {imported}"
            + (f" from {where}" if isinstance(where, str) else "")
            + f", the lock has {locked_torch}"
        )
    if problems:
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        return done(
            CheckStatus.FAIL,
            f"{len(problems)} difference(s) from {record.path}: "
            + "; ".join(problems[:SHOWN])
            + more,
        )
    extra = sorted(set(have) - set(record.packages) - {"pip", "setuptools", "wheel"})
    named = ", ".join(extra[:SHOWN]) + (
        f" and {len(extra) - SHOWN} more" if len(extra) > SHOWN else ""
    )
    note = f"; not in the lock but installed: {named}" if extra else ""
    return done(
        CheckStatus.PASS,
        f"all {len(record.packages)} locked packages installed at their locked versions{note}",
    )
