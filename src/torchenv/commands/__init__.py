"""One module per verb: orchestration only, returning typed results."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext


def host_context() -> ProbeContext:
    """The probe context of the real host: its files, environment, NVML and user cache."""
    from torchenv.probe.context import ProbeContext  # noqa: PLC0415  (plan --gpu needs no probe)

    return ProbeContext.for_host()


def knowledge_warnings() -> list[tuple[str, str]]:
    """(path, why) of each updated knowledge file (``db update``'s) this process found but could
    not use, once each; none when the command never loaded the knowledge base."""
    store = sys.modules.get("torchenv.knowledge.store")  # not imported here: start-up stays light
    if store is None:
        return []
    taken: list[tuple[str, str]] = store.take_unusable_user_data()
    return taken
