"""Generations of a conda environment, offline: a local channel with two builds of the Python
package (3.11.9 and 3.11.10) and a CPU pytorch; create pins one Python, the spec then pins the
other, upgrade builds generation 2 with py-rattler beside the live one, rollback switches back.

The channel's python is a placeholder that does not run (no real conda-forge package can be had
here: test-environment.md), so the builds are made with --no-verify and checked by their
records, conda-meta and the prefix written into their files; the uv and pip tests
(test_upgrade.py) run verify in each generation."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from builders import require
from integration.conftest import run_torchenv
from integration.test_create_conda import CPU_BUILD, PLACEHOLDER, TORCH, _package

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import rattler.index
        import rattler_build  # noqa: F401
    except ImportError:
        require(False, "py-rattler and py-rattler-build are not installed (extra `test`)")
    root = tmp_path_factory.mktemp("conda-up")
    out, staging = root / "channel", root / "staging"
    for subdir in ("linux-64", "noarch"):
        (out / subdir).mkdir(parents=True)
    for version in ("3.11.9", "3.11.10"):
        script = f"#!/bin/sh\n# python {version} in {PLACEHOLDER}\nexit 3\n"
        files = {"bin/python3.11": script, "bin/python": script}
        _package(out, staging, "python", version, "h0_0_cpython", files, "bin/python3.11")
    dist = f"lib/python3.11/site-packages/torch-{TORCH}.dist-info/METADATA"
    metadata = {dist: f"Metadata-Version: 2.1\nName: torch\nVersion: {TORCH}\n"}
    _package(out, staging, "pytorch", TORCH, CPU_BUILD, metadata, depends=["python >=3.11,<3.12"])
    asyncio.run(rattler.index.index_fs(out))
    return out


def _spec(project: Path, channel: Path, python: str) -> None:
    relative = os.path.relpath(channel, project)
    (project / "torchenv.toml").write_text(
        f'name = "conda-up"\npython = "3.11"\ntorch = "=={TORCH}"\ncuda = "cpu"\n'
        f'libraries = []\npackages = ["python=={python}"]\ninstaller = "conda"\n\n'
        '[targets]\nplatform = "linux_x86_64"\n\n'
        f'[index]\nchannels = ["{relative}"]\n'
    )


def _json(done: object) -> dict[str, object]:
    assert getattr(done, "returncode", 1) == 0, getattr(done, "stderr", "")
    return json.loads(getattr(done, "stdout", "{}"))


def test_conda_upgrade_of_the_python_package_then_rollback(channel: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(
        TORCHENV_DATA_DIR=str(tmp_path / "data"),
        RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache"),
    )
    _spec(project, channel, "3.11.9")
    _json(run_torchenv("lock", "--json", cwd=project, env=env))
    prefix = tmp_path / "env"
    create = ("create", "--no-verify", "--prefix", str(prefix), "--json")
    assert _json(run_torchenv(*create, cwd=project, env=env))["backend"] == "conda"
    lock_before = (project / "conda.lock").read_bytes()

    _spec(project, channel, "3.11.10")
    upgrade = ("upgrade", "--prefix", str(prefix), "--yes", "--no-verify", "--json")
    up = _json(run_torchenv(*upgrade, cwd=project, env=env))
    assert (up["state"], up["live"], up["previous"]) == ("upgraded", 2, 1)
    change = up["change"]
    assert change["packages"] == "conda"  # compared as conda packages: python is one
    assert {c["name"]: (c["a"], c["b"]) for c in change["changed"]} == {
        "python": ("3.11.9", "3.11.10")
    }
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["lock"]["conda"]["python"] == "3.11.10 h0_0_cpython"
    assert record["generation"] == 2 and record["backend"] == "conda"
    assert (prefix / "conda-meta" / "python-3.11.10-h0_0_cpython.json").is_file()
    # rattler wrote the prefix (the link) into the package, not the generation's directory
    assert f"# python 3.11.10 in {prefix}\n" in (prefix / "bin" / "python3.11").read_text()
    assert (project / "conda.lock").read_bytes() != lock_before
    meta = json.loads((project / "conda.lock.torchenv.json").read_text())
    assert meta["lock-sha256"] == record["lock"]["sha256"]

    back = _json(
        run_torchenv("rollback", "--prefix", str(prefix), "--yes", "--json", cwd=project, env=env)
    )
    assert (back["live"], back["previous"]) == (1, 2)
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["lock"]["conda"]["python"] == "3.11.9 h0_0_cpython"
    assert (project / "conda.lock").read_bytes() == lock_before  # and its sidecar with it
    assert "3.11.9" in (project / "torchenv.toml").read_text()
    history = _json(
        run_torchenv("history", "--prefix", str(prefix), "--json", cwd=project, env=env)
    )
    assert [(g["number"], g["live"]) for g in history["generations"]] == [(1, True), (2, False)]
