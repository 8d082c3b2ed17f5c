"""Environments built by ``torchenv create``: has the spec, the lock or the installed set moved
away from what the environment was built from? (issue 4: "a lock that no longer matches its spec
is reported as stale by create and doctor")."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from torchenv.i18n import N_, Msg
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


@rule("env-record-unreadable", WARNING, N_("The environment's torchenv record cannot be read"))
def record_unreadable(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is None:
        return
    yield Hit(
        f"{p.record} {p.error}",
        (Msg("{record}: written by torchenv create", record=p.record),),
        ("torchenv create --prefix " + shlex.quote(p.prefix) + " --force",),
    )


@rule("env-spec-changed", WARNING, N_("The spec changed since the environment was built from it"))
def spec_changed(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is not None or not p.spec_changed:
        return
    yield Hit(
        Msg("{spec} changed since this environment was created from it", spec=p.spec),
        (
            Msg("{record}: spec hash recorded at create", record=p.record),
            Msg("{spec}: its hash now differs", spec=p.spec),
        ),
        _rebuild(p),
    )


@rule(
    "env-lock-changed",
    WARNING,
    N_("The lock file differs from the one the environment was built from"),
)
def lock_changed(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is not None or not p.lock_changed:
        return
    yield Hit(
        Msg("{lock} is not the lock this environment was built from", lock=p.lock),
        (
            Msg("{record}: the sha256 of the lock at create", record=p.record),
            Msg("{lock}: its sha256 now differs", lock=p.lock),
        ),
        (f"torchenv create --prefix {shlex.quote(p.prefix)} --force",),
    )


@rule("env-drifted-from-lock", WARNING, N_("Installed packages differ from the environment's lock"))
def drifted(f: Facts) -> Iterator[Hit]:
    p = f.provenance
    if p is None or p.error is not None or not p.drift:
        return
    shown = list(p.drift[:SHOWN])
    if len(p.drift) > SHOWN:
        shown.append(Msg("... and {count} more", count=len(p.drift) - SHOWN))
    fix = []
    if p.lock and not p.lock_changed:
        python = f"{p.prefix}/bin/python"
        fix.append(f"uv pip sync {shlex.quote(p.lock)} --python {shlex.quote(python)}")
    fix.append(f"torchenv create --prefix {shlex.quote(p.prefix)} --force")
    yield Hit(
        Msg(
            "{count} package(s) changed since torchenv created this environment",
            count=len(p.drift),
        ),
        tuple(shown),
        tuple(fix),
    )
