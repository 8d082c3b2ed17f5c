"""The conda backend through an executable (backends/conda_exe.py), end to end: the lock of the
local test channel, an explicit file, ``micromamba create --relocate-prefix`` (a stand-in that
does what micromamba does: none can be installed here), the record, the rename into place."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from integration import test_create_conda as conda_tests
from integration.conftest import run_torchenv
from integration.test_create_conda import CPU_BUILD, TORCH, _project

# the conda tests' fixtures, reused: the local channel (built once per module) and the env
channel = conda_tests.channel
env = conda_tests.env

HERE = Path(__file__).parent


def _micromamba_on_path(tmp_path: Path, environ: dict[str, str]) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "micromamba"
    exe.write_text(f"#!{sys.executable}\n" + (HERE / "fake_micromamba.py").read_text())
    exe.chmod(0o755)
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    return exe


def test_micromamba_backend_builds_the_conda_lock(
    channel: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    project = _project(tmp_path, channel, "conda-mm", "cpu", "[]")
    assert run_torchenv("lock", cwd=project, env=env).returncode == 0
    _micromamba_on_path(tmp_path, env)
    prefix = tmp_path / "env-mm"
    done = run_torchenv(
        "create",
        "--backend",
        "micromamba",
        "--no-verify",
        "--prefix",
        str(prefix),
        "--json",
        cwd=project,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["backend"] == "conda" and report["torch"] == TORCH
    assert [s["name"] for s in report["steps"]] == ["install", "move"]
    assert report["steps"][0]["command"][1:3] == ["create", "--yes"]
    assert (prefix / "conda-meta" / f"pytorch-{TORCH}-{CPU_BUILD}.json").is_file()
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["lock"]["packages"]["torch"] == TORCH
    assert record["lock"]["conda"]["pytorch"] == f"{TORCH} {CPU_BUILD}"
    # the final prefix, not the build directory, is written where the package had its own
    assert f"# fake python in {prefix}\n" in (prefix / "bin" / "python3.11").read_text()
    assert not list(tmp_path.glob(f".{prefix.name}.torchenv-*"))  # nor its explicit file


def test_micromamba_backend_missing_is_said(
    channel: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    project = _project(tmp_path, channel, "conda-none", "cpu", "[]")
    assert run_torchenv("lock", cwd=project, env=env).returncode == 0
    env["PATH"] = "/usr/bin:/bin"
    done = run_torchenv(
        "create", "--backend", "micromamba", "--prefix", str(tmp_path / "e"), cwd=project, env=env
    )
    assert done.returncode == 4, done.stderr
    assert "micromamba" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "e").exists()
