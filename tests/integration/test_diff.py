"""`torchenv diff` on two real venvs (made by `python -m venv`, one with a wheel from the local
index installed by pip), read through their real interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders import require
from integration.conftest import run_torchenv

pytestmark = pytest.mark.integration

INDEX = Path(os.environ.get("TORCHENV_TEST_PYPI_INDEX", "/opt/pypi/simple"))


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path


def test_a_package_installed_in_one_venv(tmp_path: Path, clean_env: dict[str, str]) -> None:
    require((INDEX / "six").is_dir(), f"no local package index with six at {INDEX}")
    a, b = make_venv(tmp_path / "a"), make_venv(tmp_path / "b")
    subprocess.run(
        [
            str(b / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--index-url",
            INDEX.as_uri(),
            "six",
        ],
        check=True,
        timeout=300,
    )
    done = run_torchenv("diff", str(a), str(b), "--json", cwd=tmp_path, env=clean_env)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [p["name"] for p in doc["added"]] == ["six"]
    assert doc["removed"] == [] and doc["changed"] == [] and doc["torch"] is None
    assert doc["a"]["detail"].startswith("venv, Python ")
    assert "read from its files" not in doc["a"]["detail"]  # its interpreter was asked

    text = run_torchenv("diff", str(a), str(b), cwd=tmp_path, env=clean_env)
    assert text.returncode == 1 and "+ six " in text.stdout

    same = run_torchenv("diff", str(b), str(b), cwd=tmp_path, env=clean_env)
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[-1] == "No differences."
