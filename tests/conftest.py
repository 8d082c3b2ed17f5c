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
