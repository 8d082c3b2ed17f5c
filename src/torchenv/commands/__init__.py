"""One module per verb: orchestration only, returning typed results."""

from __future__ import annotations

from torchenv.probe.context import ProbeContext


def host_context() -> ProbeContext:
    """The probe context of the real host: its files, environment, NVML and user cache."""
    return ProbeContext.for_host()
