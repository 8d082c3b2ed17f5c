"""The in-environment scripts run on every CPython torchenv supports as a target (3.8+), and the
interpreter script still reports older ones instead of crashing."""

from __future__ import annotations

import glob
import json
import subprocess
from pathlib import Path

import pytest

from torchenv.probe.interpreter import SCRIPT, extract_payload

pytestmark = pytest.mark.integration

PYENV = sorted(glob.glob(str(Path.home() / ".pyenv/versions/*/bin/python")))


@pytest.mark.parametrize("python", PYENV or ["missing"], ids=lambda p: p.split("/")[-3])
def test_interp_info_runs_everywhere(python: str) -> None:
    if python == "missing":
        pytest.skip("no pyenv interpreters on this machine")
    result = subprocess.run(
        [python, str(SCRIPT), "COOKIE"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    info = extract_payload(result.stdout, "COOKIE")
    assert info["version"].count(".") == 2 and info["sys_path"]
    assert str(SCRIPT.parent) not in info["sys_path"]
    json.dumps(info)


@pytest.mark.parametrize("python", PYENV or ["missing"], ids=lambda p: p.split("/")[-3])
def test_deep_check_compiles_on_every_python_torch_supports(python: str) -> None:
    if python == "missing":
        pytest.skip("no pyenv interpreters on this machine")
    if python.split("/")[-3].startswith(("2.", "3.6")):
        pytest.skip("torch 1.13, the oldest release torchenv knows, needs Python 3.7")
    script = SCRIPT.parent / "deep_check.py"
    code = f"compile(open({str(script)!r}).read(), 'deep_check.py', 'exec')"
    subprocess.run([python, "-c", code], check=True, timeout=60)
