"""One module per verb: orchestration only, returning typed results."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext


def host_context() -> ProbeContext:
    """The probe context of the real host: its files, environment, NVML and user cache."""
    from torchenv.probe.context import ProbeContext  # noqa: PLC0415  (plan --gpu needs no probe)

    return ProbeContext.for_host()
