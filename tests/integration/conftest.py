"""Real components: a venv with the local torch CPU wheel, real subprocesses, fake executables."""

from __future__ import annotations

import functools
import os
import re
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


def run_torchenv(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """The torchenv of this checkout as a user runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "torchenv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_cpu_spec(root: Path, env: dict[str, str], name: str, extra: str = "") -> Path:
    """torchenv.toml for torch TORCH_VERSION+cpu, made by `torchenv init`, reading torch from
    the local wheel folder; ``extra`` is appended (more tables)."""
    # the PyTorch index is not reachable here: an empty local index stands in for it, so the
    # CPU wheel comes from the local wheel folder and its dependencies from PyPI
    (root / "no-pytorch-index").mkdir()
    done = run_torchenv(
        "init",
        "--torch",
        TORCH_VERSION,
        "--python",
        "3.11",
        "--cuda",
        "cpu",
        "--name",
        name,
        "--out",
        "torchenv.toml",
        cwd=root,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    spec = root / "torchenv.toml"
    text = spec.read_text()
    assert "[index]" not in text
    # the local wheel folder has torch only: no torchvision+cpu to pair with it
    text = re.sub(r"libraries = \[[^\]]*\]\n", "libraries = []\n", text)
    spec.write_text(
        text + f'\n[index]\npytorch = "file://{root / "no-pytorch-index"}"\n'
        f'find-links = ["{find_links()}"]\n{extra}'
    )
    return spec


def uv_bin() -> str | None:
    try:
        import uv
    except ImportError:
        return shutil.which("uv")
    return uv.find_uv_bin()


@functools.cache
def pip_local_indexes() -> tuple[str, ...]:
    """The local (file://) package indexes pip is configured with on this machine, as uv
    options: uv does not read pip's configuration. torch's dependencies lie there, so the test
    venvs do not depend on pypi.org answering (a CI run failed building one)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.extra-index-url"],
        capture_output=True,
        text=True,
        check=False,
    )
    options: list[str] = []
    for url in done.stdout.split() if done.returncode == 0 else []:
        if url.startswith("file://") and Path(url.removeprefix("file://")).is_dir():
            options += ["--extra-index-url", url]
    return tuple(options)


def build_venv(name: str, python: str, install: list[str]) -> Path:
    """.venvs/NAME with `uv pip install INSTALL`, kept between runs once it is complete."""
    uv = uv_bin()
    assert uv is not None
    venv = ROOT / ".venvs" / name
    marker = venv / ".complete"
    if not marker.exists():
        shutil.rmtree(venv, ignore_errors=True)
        target = str(venv / "bin/python")
        steps = [
            [uv, "venv", "-q", "-p", python, str(venv)],
            [uv, "pip", "install", "-q", "--python", target, *pip_local_indexes(), *install],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            # the reason in the report: CI shows a fixture's exception, not its output
            assert done.returncode == 0, f"{' '.join(step)}: exit {done.returncode}\n{done.stderr}"
        marker.write_text("ok\n")
    return venv


@pytest.fixture(scope="session")
def torch_venv() -> Path:
    """A venv with torch 2.13.0+cpu from the local wheel, kept in .venvs/ between runs."""
    links, uv = find_links(), uv_bin()
    require(links is not None, f"no torch {TORCH_VERSION}+cpu wheel (set TORCHENV_TEST_WHEELS)")
    require(uv is not None, "uv is not installed")
    assert links is not None and uv is not None
    python = shutil.which("python3.11")
    require(python is not None, "the local CPU wheel is for CPython 3.11; no python3.11 on PATH")
    assert python is not None
    return build_venv(
        f"torch-{TORCH_VERSION}-cpu",
        python,
        ["--find-links", links, "--compile-bytecode", f"torch=={TORCH_VERSION}"],
    )


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


CUDA_INDEX = "/opt/pypi-more/simple"  # holds torch 2.14.1+cu130 and its nvidia-* wheels here


@pytest.fixture(scope="session")
def cuda_venv() -> Path:
    """A real CUDA build (torch 2.14.1+cu130, torchvision 0.29.1) on a machine without a driver.
    ~5 GB and ~20 s, so only with TORCHENV_TEST_CUDA_VENV=1 (CI sets it)."""
    if not os.environ.get("TORCHENV_TEST_CUDA_VENV"):
        pytest.skip("opt-in: set TORCHENV_TEST_CUDA_VENV=1")
    index = os.environ.get("TORCHENV_TEST_CUDA_INDEX", CUDA_INDEX)
    require(Path(index).is_dir(), f"no local index with the CUDA wheels at {index}")
    uv, python = uv_bin(), shutil.which("python3.11")
    require(uv is not None and python is not None, "uv and python3.11 are needed")
    assert uv is not None and python is not None
    return build_venv(
        "torch-2.14.1-cu130",
        python,
        [
            "--index-url",
            f"file://{index}",
            "--extra-index-url",
            "https://pypi.org/simple",
            "--index-strategy",
            "unsafe-first-match",
            "torch==2.14.1",
            "torchvision==0.29.1",
        ],
    )
