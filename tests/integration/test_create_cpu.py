"""End to end with real uv, pip and torch 2.13.0+cpu from the local wheel folder:
init -> lock -> create (uv and pip backends) -> verify, and a create killed midway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builders import require
from integration.conftest import TORCH_VERSION, find_links, run_torchenv, uv_bin, write_cpu_spec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A directory with torchenv.toml (made by `torchenv init`) and its pylock.toml."""
    links = find_links()
    require(links is not None, f"no torch {TORCH_VERSION}+cpu wheel (set TORCHENV_TEST_WHEELS)")
    require(uv_bin() is not None, "uv is not installed")
    root = tmp_path_factory.mktemp("project")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(root / "data")
    env["UV_HTTP_RETRIES"] = "1"
    write_cpu_spec(root, env, "cpu-test")
    done = run_torchenv("lock", "--json", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "torchenv.lock/1"
    assert report["packages"]["torch"] == f"{TORCH_VERSION}+cpu"
    lock = (root / "pylock.toml").read_text()
    assert 'lock-version = "1.0"' in lock and "[tool.torchenv]" in lock
    return root, env


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_create_then_verify(project: tuple[Path, dict[str, str]], backend: str) -> None:
    root, env = project
    prefix = root / f"env-{backend}"
    done = run_torchenv(
        "create", "--backend", backend, "--prefix", str(prefix), "--json", cwd=root, env=env
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["torch"] == f"{TORCH_VERSION}+cpu" and report["backend"] == backend
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["lock"]["packages"]["torch"] == f"{TORCH_VERSION}+cpu"
    # the build directory was renamed into place: scripts must name the final prefix
    assert not list(root.glob(f".{prefix.name}.torchenv-build-*"))
    pip_script = prefix / "bin" / "pip"
    if backend == "pip":
        assert pip_script.read_text().startswith(f"#!{prefix}/bin/python")
    registry = json.loads((root / "data" / "environments.json").read_text())
    assert str(prefix) in registry
    done = run_torchenv("verify", "--prefix", str(prefix), "--quick", "--json", cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = {c["id"]: c["status"] for c in json.loads(done.stdout)["checks"]}
    assert checks["import-torch"] == "pass" and checks["versions-match-lock"] == "pass"
    again = run_torchenv("create", "--backend", backend, "--prefix", str(prefix), cwd=root, env=env)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_killed_create_leaves_nothing_and_the_next_one_works(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    prefix = root / "env-killed"
    cold = {**env, "UV_CACHE_DIR": str(root / "cold-uv-cache")}  # a slow install to kill
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchenv", "create", "--prefix", str(prefix)],
        cwd=root,
        env=cold,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            builds = list(root.glob(".env-killed.torchenv-build-*/lib/python3.11/site-packages"))
            if builds and any(builds[0].iterdir()):
                break  # the venv exists and the installer has begun writing into it
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        else:
            pytest.fail("the install never started")
    finally:
        # torchenv alone, as the OOM killer would: the uv it runs (in a session of its own)
        # must die with it, or it would go on writing into the build directory
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not prefix.exists()
    registry = root / "data" / "environments.json"
    assert not registry.exists() or str(prefix) not in json.loads(registry.read_text())
    done = run_torchenv("create", "--prefix", str(prefix), cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert "left by an interrupted create" in done.stderr
    assert (prefix / "torchenv-env.json").exists()
    assert not list(root.glob(".env-killed.torchenv-*"))
    assert str(prefix) in json.loads(registry.read_text())
