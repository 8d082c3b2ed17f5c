"""The hostile corpus runs torchenv in this process: a read that never ends (/dev/zero) would
take the machine's memory before it failed. Address space is capped while the corpus runs, so
such a read fails the case with MemoryError instead."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

ADDRESS_SPACE = 8 << 30


@pytest.fixture(autouse=True, scope="session")
def _bounded_memory() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = ADDRESS_SPACE if hard == resource.RLIM_INFINITY else min(hard, ADDRESS_SPACE)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
