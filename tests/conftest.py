from __future__ import annotations

import functools
import http.client
import os
import tempfile
import urllib.error
import urllib.request
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
    # torchenv speaks the language of the locale (torchenv/i18n.py), and the tests read its
    # English: the tests and every torchenv they start run in the C locale, with UTF-8, whatever
    # the machine's (before the CLI is imported: its help is translated then). The tests of the
    # translations choose a language themselves (tests/unit/test_i18n*.py).
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        os.environ.pop(variable, None)
    os.environ["LANG"] = "C.UTF-8"


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
    from torchenv import i18n

    assert i18n.language() is None, "a test left torchenv speaking another language than English"


PYPI_PROBE = "https://pypi.org/simple/"


@functools.cache
def pypi_unreachable() -> str | None:
    """Why pypi.org cannot be reached from here, None when it can: one HEAD request a session
    (the root page is 40 MB), through the proxies urllib takes from the environment, as
    ``db update`` itself goes."""
    request = urllib.request.Request(
        PYPI_PROBE, method="HEAD", headers={"User-Agent": "torchenv-tests"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310  (a fixed https URL)
            return None
    except urllib.error.HTTPError as exc:
        return f"{PYPI_PROBE} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        return f"cannot reach {PYPI_PROBE}: {getattr(exc, 'reason', None) or exc}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``network`` (pyproject.toml) need pypi.org: skipped, with the reason, where
    it cannot be reached (offline machines, CI without network)."""
    if item.get_closest_marker("network") is not None:
        reason = pypi_unreachable()
        if reason is not None:
            pytest.skip(f"needs pypi.org: {reason}")
