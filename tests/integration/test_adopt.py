"""End to end with real uv and torch 2.13.0+cpu from the local wheel folder: a venv made by hand
(`uv venv` + `uv pip install`), adopted into a spec and a lock, rebuilt by `torchenv create`,
and found the same by `torchenv diff`; the adopted venv is not touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from builders import require
from integration.conftest import TORCH_VERSION, find_links, run_torchenv, uv_bin

pytestmark = pytest.mark.integration


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime (what adopt must leave as it was)."""
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            info = os.lstat(os.path.join(directory, name))
            found[os.path.join(directory, name)] = (info.st_size, info.st_mtime_ns)
    return found


def test_adopt_then_create_gives_back_the_same_environment(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    links, uv, python = find_links(), uv_bin(), shutil.which("python3.11")
    require(links is not None, f"no torch {TORCH_VERSION}+cpu wheel (set TORCHENV_TEST_WHEELS)")
    require(uv is not None, "uv is not installed")
    require(python is not None, "the local CPU wheel is for CPython 3.11; no python3.11 on PATH")
    assert links is not None and uv is not None and python is not None
    env = {**clean_env, "TORCHENV_DATA_DIR": str(tmp_path / "data"), "UV_HTTP_RETRIES": "1"}

    # made by hand: torch from the local wheel folder, its dependencies and six from PyPI
    by_hand = tmp_path / "by-hand"
    subprocess.run([uv, "venv", "-q", "-p", python, str(by_hand)], check=True, env=env)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(by_hand / "bin" / "python"),
            "--find-links",
            links,
            f"torch=={TORCH_VERSION}+cpu",
            "six==1.16.0",
        ],
        check=True,
        env=env,
        timeout=900,
    )
    before = snapshot(by_hand)

    # the PyPI index serves no +cpu build: an empty local index stands in for the PyTorch one
    (tmp_path / "no-pytorch-index").mkdir()
    done = run_torchenv(
        "adopt",
        "--prefix",
        str(by_hand),
        "--out",
        "project",
        "--find-links",
        links,
        "--pytorch-index",
        (tmp_path / "no-pytorch-index").as_uri(),
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    project = tmp_path / "project"
    assert report["schema"] == "torchenv.adopt/1"
    assert report["spec"] == str(project / "torchenv.toml")
    assert report["lock"] == str(project / "pylock.toml")
    assert (report["torch"], report["variant"], report["cuda"], report["python"]) == (
        f"{TORCH_VERSION}+cpu",
        "cpu",
        "cpu",
        "3.11",
    )
    assert report["installer"] == "uv" and report["unpinned"] == []
    # the lock gives back every installed version: nothing to say about a difference
    assert not [n for n in report["notes"] if "the lock has" in n], report["notes"]
    spec = (project / "torchenv.toml").read_text()
    assert f'torch = "=={TORCH_VERSION}"\ncuda = "cpu"\nlibraries = []' in spec
    assert '"six==1.16.0"' in spec
    assert snapshot(by_hand) == before  # adopt changed nothing in the environment

    done = run_torchenv("create", "--prefix", str(tmp_path / "new-env"), cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    done = run_torchenv("diff", str(by_hand), str(tmp_path / "new-env"), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "No differences."

    # adopted again without --force: the project's files stay as they are
    again = run_torchenv(
        "adopt", "--prefix", str(by_hand), "--out", "project", cwd=tmp_path, env=env
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    assert (project / "torchenv.toml").read_text() == spec
