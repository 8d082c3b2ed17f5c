"""Real components: a venv with the local torch CPU wheel, real subprocesses, fake executables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import require

ROOT = Path(__file__).parents[2]
TORCH_VERSION = "2.13.0"


def find_links() -> str | None:
    """Where the local torch CPU wheel lies: $TORCHENV_TEST_WHEELS, else pip's find-links."""
    candidates = [os.environ.get("TORCHENV_TEST_WHEELS"), "/opt/wheels"]
    for candidate in candidates:
        if candidate and any(Path(candidate).glob(f"torch-{TORCH_VERSION}+cpu-*.whl")):
            return candidate
    return None


def uv_bin() -> str | None:
    try:
        import uv
    except ImportError:
        return shutil.which("uv")
    return uv.find_uv_bin()


@pytest.fixture(scope="session")
def torch_venv() -> Path:
    """A venv with torch 2.13.0+cpu from the local wheel, kept in .venvs/ between runs."""
    links, uv = find_links(), uv_bin()
    require(links is not None, f"no torch {TORCH_VERSION}+cpu wheel (set TORCHENV_TEST_WHEELS)")
    require(uv is not None, "uv is not installed")
    assert links is not None and uv is not None
    python = shutil.which("python3.11")
    require(python is not None, "the local CPU wheel is for CPython 3.11; no python3.11 on PATH")
    venv = ROOT / ".venvs" / f"torch-{TORCH_VERSION}-cpu"
    marker = venv / ".complete"
    if not marker.exists():
        shutil.rmtree(venv, ignore_errors=True)
        env = {**os.environ, "UV_HTTP_RETRIES": "0"}
        subprocess.run([uv, "venv", "-q", "-p", str(python), str(venv)], check=True, env=env)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin/python"),
                "--find-links",
                links,
                "--compile-bytecode",
                f"torch=={TORCH_VERSION}",
            ],
            check=True,
            env=env,
        )
        marker.write_text("ok\n")
    return venv


@pytest.fixture
def tool_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tools"
    path.mkdir()
    return path


def fake_executable(directory: Path, name: str, script: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def torchenv_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchenv", *args]


@pytest.fixture
def clean_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment for a torchenv subprocess: own cache dir, no active env, NVML off."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_CACHE_DIR"] = str(tmp_path / "cache")
    yield env
