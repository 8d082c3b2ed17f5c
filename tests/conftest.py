from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Property tests explore new inputs on every local run; CI runs a fixed set of them
# (derandomize), so that what lands is judged on the same examples each time. A failure a local
# run finds is fixed and kept as a case of its own.
settings.register_profile("ci", derandomize=True)
if os.environ.get("TORCHENV_REQUIRE_INTEGRATION"):
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    # the knowledge store prefers `db update`'s copies in the user data directory; tests must
    # see the packaged data unless they point TORCHENV_DATA_DIR somewhere themselves
    os.environ["TORCHENV_DATA_DIR"] = tempfile.mkdtemp(prefix="torchenv-test-data-")


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
