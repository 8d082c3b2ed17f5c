"""torchenv installed in a venv of its own, as the README's first command does, that venv's bin
first on PATH and nothing activated: inspect, doctor and verify look at the next Python on PATH
(here the torch 2.13.0+cpu venv), never at torchenv's own, and say what they passed over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

OWN = Path(sys.prefix)  # the venv this checkout's torchenv is installed in (scripts/test)


def torchenv(env: dict[str, str], *args: str) -> tuple[int, dict[str, object], str]:
    done = subprocess.run(
        [str(OWN / "bin/torchenv"), *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture
def own_first_on_path(clean_env: dict[str, str], torch_venv: Path) -> dict[str, str]:
    return {**clean_env, "PATH": f"{OWN / 'bin'}:{torch_venv / 'bin'}:/usr/bin:/bin"}


@pytest.mark.parametrize("command", [["inspect"], ["doctor"], ["verify", "--quick"]])
def test_the_next_python_on_path_is_the_target(
    own_first_on_path: dict[str, str], torch_venv: Path, command: list[str]
) -> None:
    assert (OWN / "bin/python3").exists()  # the case: torchenv's own python comes first
    code, doc, err = torchenv(own_first_on_path, *command)
    target = doc["target"]
    assert isinstance(target, dict), doc
    assert Path(str(target["prefix"])) == torch_venv, err
    assert target["selected_by"] == (
        f"python3 on PATH, passing over torchenv's own environment {OWN}"
    )
    if command[0] == "verify":
        assert code == 0 and doc["torch"] == "2.13.0+cpu", err


def test_only_its_own_environment_is_a_clear_usage_error(clean_env: dict[str, str]) -> None:
    env = {**clean_env, "PATH": f"{OWN / 'bin'}:/nonexistent"}
    done = subprocess.run(
        [str(OWN / "bin/torchenv"), "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "torchenv's own" in done.stderr and "--prefix DIR" in done.stderr
