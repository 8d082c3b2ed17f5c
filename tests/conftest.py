from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _guard_process_state() -> Iterator[None]:
    """Tests must not leak changes to os.environ or the working directory."""

    def snapshot() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    environ = snapshot()
    cwd = os.getcwd()
    yield
    assert snapshot() == environ, "a test changed os.environ"
    assert os.getcwd() == cwd, "a test changed the working directory"


def require(condition: bool, reason: str) -> None:
    """Skip when a real component is absent locally; fail instead when CI demands it."""
    if condition:
        return
    if os.environ.get("TORCHENV_REQUIRE_INTEGRATION"):
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)
