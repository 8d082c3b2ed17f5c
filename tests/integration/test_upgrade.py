"""Generations end to end with real uv and pip and torch 2.13.0+cpu from the local wheel folder:
create -> change a pin -> upgrade -> verify -> rollback -> verify -> doctor agrees, then the
same upgrade killed at each stage, and two upgrades of one environment at once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builders import require
from integration.conftest import TORCH_VERSION, find_links, run_torchenv, uv_bin, write_cpu_spec

pytestmark = pytest.mark.integration
OLD, NEW = "2.2.6", "2.3.1"  # numpy, both with wheels for Python 3.11


def _project(root: Path, name: str) -> tuple[Path, dict[str, str]]:
    require(find_links() is not None, f"no torch {TORCH_VERSION}+cpu wheel")
    require(uv_bin() is not None, "uv is not installed")
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(root / "data")
    env["UV_HTTP_RETRIES"] = "1"
    spec = write_cpu_spec(root, env, name)
    _pin(spec, OLD)
    return root, env


def _pin(spec: Path, numpy: str) -> None:
    text = re.sub(r"packages = \[[^\]]*\]\n", "", spec.read_text())
    text = text.replace("libraries = []\n", f'libraries = []\npackages = ["numpy=={numpy}"]\n')
    spec.write_text(text)


def _ok(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def _verify(root: Path, env: dict[str, str], prefix: Path) -> dict[str, str]:
    done = run_torchenv("verify", "--prefix", str(prefix), "--quick", "--json", cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {c["id"]: c["status"] for c in json.loads(done.stdout)["checks"]}


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_upgrade_verify_rollback_verify(tmp_path: Path, backend: str) -> None:
    root, env = _project(tmp_path / "p", f"up-{backend}")
    spec, prefix = root / "torchenv.toml", root / "env"
    _ok(run_torchenv("lock", cwd=root, env=env))
    _ok(run_torchenv("create", "--backend", backend, "--prefix", str(prefix), cwd=root, env=env))
    first_lock = (root / "pylock.toml").read_bytes()
    first_spec = spec.read_bytes()

    _pin(spec, NEW)
    dry = _ok(
        run_torchenv("upgrade", "--prefix", str(prefix), "--dry-run", "--json", cwd=root, env=env)
    )
    assert dry["state"] == "dry-run" and not prefix.is_symlink()
    assert (root / "pylock.toml").read_bytes() == first_lock  # a dry run writes nothing
    changed = {c["name"]: (c["a"], c["b"]) for c in dry["change"]["changed"]}
    assert changed == {"numpy": (OLD, NEW)}
    no = run_torchenv("upgrade", "--prefix", str(prefix), cwd=root, env=env)
    assert no.returncode == 2 and "--yes" in no.stderr  # not a terminal: never assumed

    up = _ok(run_torchenv("upgrade", "--prefix", str(prefix), "--yes", "--json", cwd=root, env=env))
    assert (up["state"], up["live"], up["previous"], up["verify"]) == ("upgraded", 2, 1, "passed")
    assert prefix.is_symlink() and os.readlink(prefix) == "env.torchenv-generations/2"
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["lock"]["packages"]["numpy"] == NEW and record["generation"] == 2
    assert record["lock"]["path"] == str(root / "pylock.toml")  # the project's, not scratch
    assert (
        f"numpy=={NEW}" in (root / "pylock.toml").read_text()
        or NEW in (root / "pylock.toml").read_text()
    )
    assert _verify(root, env, prefix)["versions-match-lock"] == "pass"
    if backend == "pip":  # scripts name the prefix, which leads to whichever generation is live
        script = (prefix / "bin" / "pip").read_text()
        assert f"{prefix}/bin/python" in script and "torchenv-" not in script
    history = _ok(run_torchenv("history", "--prefix", str(prefix), "--json", cwd=root, env=env))
    rows = {g["number"]: g for g in history["generations"]}
    assert set(rows) == {1, 2} and rows[2]["live"] and not rows[1]["live"]
    assert rows[2]["verify"] == "passed" and rows[2]["torch"] == f"{TORCH_VERSION}+cpu"
    again = _ok(
        run_torchenv("upgrade", "--prefix", str(prefix), "--yes", "--json", cwd=root, env=env)
    )
    assert again["state"] == "up-to-date"

    back = _ok(
        run_torchenv("rollback", "--prefix", str(prefix), "--yes", "--json", cwd=root, env=env)
    )
    assert (back["live"], back["previous"]) == (1, 2)
    assert os.readlink(prefix) == "env.torchenv-generations/1"
    assert (root / "pylock.toml").read_bytes() == first_lock
    assert spec.read_bytes() == first_spec  # the spec as it was, from the record
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["lock"]["packages"]["numpy"] == OLD
    assert _verify(root, env, prefix)["versions-match-lock"] == "pass"
    doctor = run_torchenv("doctor", "--prefix", str(prefix), "--json", cwd=root, env=env)
    assert "Traceback" not in doctor.stderr
    found = {f.get("rule") or f.get("id") for f in json.loads(doctor.stdout)["findings"]}
    disagreements = {"env-spec-changed", "env-lock-changed", "env-drifted-from-lock"}
    assert not found & disagreements | {"env-record-unreadable"} & found, found
    forward = _ok(
        run_torchenv("rollback", "--prefix", str(prefix), "--to", "2", "--yes", cwd=root, env=env)
    )
    assert forward == {} and os.readlink(prefix) == "env.torchenv-generations/2"
    assert NEW in (root / "pylock.toml").read_text()


def _start_upgrade(root: Path, env: dict[str, str], prefix: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "torchenv", "upgrade", "--prefix", str(prefix), "--yes", "-v"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("stage", ["lock", "install", "verify", "switch"])
def test_a_killed_upgrade_leaves_the_old_generation_live(tmp_path: Path, stage: str) -> None:
    root, env = _project(tmp_path / "p", f"kill-{stage}")
    spec, prefix = root / "torchenv.toml", root / "env"
    _ok(run_torchenv("lock", cwd=root, env=env))
    _ok(run_torchenv("create", "--prefix", str(prefix), "--no-verify", cwd=root, env=env))
    lock_before = (root / "pylock.toml").read_bytes()
    _pin(spec, NEW)
    # the moment to kill at: a line that the stage prints (verbose), or for the switch, the
    # generation directory having appeared (build, verify and move are done)
    marks = {
        "lock": "resolving torch",
        "install": "installing",
        "verify": "checking the new environment",
    }
    proc = _start_upgrade(root, env, prefix)
    assert proc.stdout is not None
    deadline = time.monotonic() + 600
    if stage == "switch":
        generation = root / "env.torchenv-generations" / "2"
        while not generation.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        for line in proc.stdout:
            if marks[stage] in line or time.monotonic() > deadline:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    # whatever the moment, the prefix leads to a whole environment that works
    assert _verify(root, env, prefix)["import-torch"] == "pass"
    record = json.loads((prefix / "torchenv-env.json").read_text())
    history = _ok(run_torchenv("history", "--prefix", str(prefix), "--json", cwd=root, env=env))
    live = [g for g in history["generations"] if g["live"]]
    assert len(live) == 1
    if stage != "switch":  # the old one, untouched, and the project's lock with it
        assert record["lock"]["packages"]["numpy"] == OLD and not prefix.is_symlink()
        assert (root / "pylock.toml").read_bytes() == lock_before
    # history tells the truth: the live row is what the prefix holds
    assert live[0]["lock_sha256"] == record["lock"]["sha256"]
    up = _ok(run_torchenv("upgrade", "--prefix", str(prefix), "--yes", "--json", cwd=root, env=env))
    assert up["state"] in ("upgraded", "up-to-date")
    assert (
        json.loads((prefix / "torchenv-env.json").read_text())["lock"]["packages"]["numpy"] == NEW
    )
    assert not list(root.glob(".env.torchenv-*"))
    assert not list((root / "env.torchenv-generations").glob(".*torchenv-build-*"))


def test_two_upgrades_of_one_environment_one_fails_clearly(tmp_path: Path) -> None:
    root, env = _project(tmp_path / "p", "twice")
    spec, prefix = root / "torchenv.toml", root / "env"
    _ok(run_torchenv("lock", cwd=root, env=env))
    _ok(run_torchenv("create", "--prefix", str(prefix), "--no-verify", cwd=root, env=env))
    _pin(spec, NEW)
    first = _start_upgrade(root, env, prefix)
    assert first.stdout is not None
    for line in first.stdout:
        if "resolving torch" in line:
            break
    second = run_torchenv("upgrade", "--prefix", str(prefix), "--yes", cwd=root, env=env)
    rest = first.stdout.read()
    assert first.wait(timeout=600) == 0, rest
    assert second.returncode == 2, second.stderr
    assert "right now" in second.stderr and "Traceback" not in second.stderr
    assert os.readlink(prefix) == "env.torchenv-generations/2"
