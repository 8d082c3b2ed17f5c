"""A mirror-only lock, for real against pypi.org: ``[index] pytorch = false``, an H100 with
driver 580, torch 2.13 -> pylock.toml with ``torch==2.13.0`` (no local label), the CUDA 13
nvidia-* wheels hashed, ``[tool.torchenv] variant`` PyPI's cu130. uv resolves from metadata
only (PEP 658 files or range requests), so no multi-GB wheel is downloaded: its cache is
checked to stay small."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomllib

from integration.conftest import run_torchenv, uv_bin

pytestmark = [pytest.mark.integration, pytest.mark.network]

SPEC = """name = "mirror-only"
python = "3.11"
torch = "2.13"
libraries = []

[targets]
gpus = ["H100"]
driver = "580.65.06"

[index]
pypi = "https://pypi.org/simple"
pytorch = false
"""


def cache_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_pypi_only_lock_for_an_h100(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if uv_bin() is None:
        pytest.skip("uv is not installed")
    (tmp_path / "torchenv.toml").write_text(SPEC)
    cache = tmp_path / "uv-cache"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(UV_CACHE_DIR=str(cache), TORCHENV_CACHE_DIR=str(tmp_path / "cache"))
    done = run_torchenv("lock", cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    lock = tomllib.loads((tmp_path / "pylock.toml").read_text())
    packages = {p["name"]: p for p in lock["packages"]}
    assert packages["torch"]["version"] == "2.13.0"  # PyPI's build: no local label
    nvidia = {name: p for name, p in packages.items() if name.startswith("nvidia-")}
    assert packages["nvidia-cuda-runtime"]["version"].startswith("13.0.")
    assert len(nvidia) >= 10
    for package in nvidia.values():
        assert all(w["hashes"]["sha256"] for w in package["wheels"])
        assert all(
            w["url"].startswith("https://files.pythonhosted.org/") for w in package["wheels"]
        )
    table = lock["tool"]["torchenv"]
    assert (table["variant"], table["cuda"], table["channel"]) == ("cu130", "13.0", "pypi")
    assert "pytorch" not in table["indexes"]
    assert "CUDA 13.0 from PyPI's nvidia-* wheels" in done.stdout
    # the CI gate on the lock just written, then after an edit of the spec
    fresh = run_torchenv("lock", "--check", cwd=tmp_path, env=env, timeout=120)
    assert fresh.returncode == 0 and "is fresh" in fresh.stdout, fresh.stdout + fresh.stderr
    spec = tmp_path / "torchenv.toml"
    spec.write_text(spec.read_text().replace('driver = "580.65.06"', 'driver = "550.54.15"'))
    stale = run_torchenv("lock", "--check", cwd=tmp_path, env=env, timeout=120)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "targets.driver: 580.65.06 -> 550.54.15" in stale.stdout
    assert "knowledge:" in stale.stdout  # CUDA 13 needs R580: the locked build no longer fits
    used = cache_bytes(cache)
    with capsys.disabled():
        print(f"\nPyPI-only lock: {len(packages)} packages, uv cache {used / 1e6:.1f} MB")
    assert used < 100e6  # metadata only: the torch and nvidia wheels are GBs
