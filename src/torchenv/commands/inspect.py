"""``torchenv inspect``: machine and environment facts."""

from __future__ import annotations

from torchenv.models import InspectReport
from torchenv.models.reports import INSPECT_SCHEMA
from torchenv.probe.context import ProbeContext
from torchenv.probe.environment import probe_environment
from torchenv.probe.machine import probe_machine


def run_inspect(
    ctx: ProbeContext, python: str | None = None, prefix: str | None = None
) -> InspectReport:
    # The environment first: a bad --prefix/--python is a usage error before any GPU probing.
    environment = probe_environment(ctx, python, prefix)
    return InspectReport(INSPECT_SCHEMA, probe_machine(ctx), environment)
