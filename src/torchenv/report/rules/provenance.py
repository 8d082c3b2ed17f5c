"""Environments built by ``torchenv create``: has the spec, the lock or the installed set moved
away from what the environment was built from? (issue 4: "a lock that no longer matches its spec
is reported as stale by create and doctor")."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from torchenv.models import Severity
from torchenv.models.build import Provenance
from torchenv.report.rules.base import Facts, Hit, rule

WARNING = Severity.WARNING
SHOWN = 8


def _rebuild(p: Provenance) -> tuple[str, ...]:
    spec = shlex.quote(p.spec) if p.spec else ""
    prefix = shlex.quote(p.prefix)
    return (
        f"torchenv lock {spec}".rstrip(),
        f"torchenv create {spec} --prefix {prefix} --force".replace("  ", " "),
    )


@rule("env-record-unreadable", WARNING, "The environment's torchenv record cannot be read")
def record_unreadable(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is None:
        return
    yield Hit(
        f"{p.record} {p.error}",
        (f"{p.record}: written by torchenv create",),
        ("torchenv create --prefix " + shlex.quote(p.prefix) + " --force",),
    )


@rule("env-spec-changed", WARNING, "The spec changed since the environment was built from it")
def spec_changed(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is not None or not p.spec_changed:
        return
    yield Hit(
        f"{p.spec} changed since this environment was created from it",
        (f"{p.record}: spec hash recorded at create", f"{p.spec}: its hash now differs"),
        _rebuild(p),
    )


@rule(
    "env-lock-changed", WARNING, "The lock file differs from the one the environment was built from"
)
def lock_changed(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is not None or not p.lock_changed:
        return
    yield Hit(
        f"{p.lock} is not the lock this environment was built from",
        (f"{p.record}: the sha256 of the lock at create", f"{p.lock}: its sha256 now differs"),
        (f"torchenv create --prefix {shlex.quote(p.prefix)} --force",),
    )


@rule("env-drifted-from-lock", WARNING, "Installed packages differ from the environment's lock")
def drifted(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is not None or not p.drift:
        return
    shown = list(p.drift[:SHOWN])
    if len(p.drift) > SHOWN:
        shown.append(f"... and {len(p.drift) - SHOWN} more")
    fix = []
    if p.lock and not p.lock_changed:
        python = f"{p.prefix}/bin/python"
        fix.append(f"uv pip sync {shlex.quote(p.lock)} --python {shlex.quote(python)}")
    fix.append(f"torchenv create --prefix {shlex.quote(p.prefix)} --force")
    yield Hit(
        f"{len(p.drift)} package(s) changed since torchenv created this environment",
        tuple(shown),
        tuple(fix),
    )
