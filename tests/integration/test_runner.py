"""The subprocess gateway with real processes."""

from __future__ import annotations

import sys

import pytest

from torchenv.probe.runner import run

pytestmark = pytest.mark.integration


def test_output_and_exit_code() -> None:
    result = run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], timeout=30)
    assert (result.returncode, result.stdout.strip(), result.ok) == (3, "out", False)
    assert result.describe_failure() == "exit code 3: out"


def test_missing_program() -> None:
    result = run(["/nonexistent/tool"], timeout=5)
    assert result.error == "not found" and result.returncode is None


def test_timeout_kills_the_process_group() -> None:
    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    result = run([sys.executable, "-c", code], timeout=0.5)
    assert result.error == "timed out after 0.5s" and result.returncode is None
    assert result.seconds < 30
