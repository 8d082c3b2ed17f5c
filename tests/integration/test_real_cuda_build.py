"""A real CUDA build of torch, read from its files, on a machine without an NVIDIA driver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from integration.conftest import torchenv_cmd

pytestmark = pytest.mark.integration


def doctor(venv: Path, env: dict[str, str], *extra: str) -> dict[str, object]:
    result = subprocess.run(
        torchenv_cmd("doctor", "--json", "--prefix", str(venv), *extra),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_cuda_build_read_from_files(cuda_venv: Path, clean_env: dict[str, str]) -> None:
    result = subprocess.run(
        torchenv_cmd("inspect", "--json", "--prefix", str(cuda_venv)),
        capture_output=True,
        text=True,
        env=clean_env,
        timeout=120,
        check=True,
    )
    torch = json.loads(result.stdout)["environment"]["torch"]
    assert torch["version"] == "2.14.1+cu130" and torch["cuda"] == "13.0"
    # what torch.cuda.get_arch_list() returns for the PyPI cu130 wheel (compat-matrix S3)
    assert torch["arch_list"] == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    assert (torch["cudnn"], torch["nccl"], torch["cuda_runtime"]) == (
        "9.24.0.43",
        "2.30.7",
        "13.0.96",
    )


def test_a_consistent_cuda_environment_has_no_package_findings(
    cuda_venv: Path, clean_env: dict[str, str]
) -> None:
    doc = doctor(cuda_venv, clean_env)
    ids = {f["id"] for f in doc["findings"]}  # type: ignore[union-attr, index]
    assert not ids & {
        "cuda-libs-do-not-match-torch",
        "torchvision-torch-mismatch",
        "nvidia-mixed-cuda-majors",
        "file-owned-by-two-distributions",
        "metadata-unreadable",
    }
    assert doc["outlook"]["cuda_expected"] is False  # type: ignore[index]
    assert "no NVIDIA driver" in doc["outlook"]["reason"]  # type: ignore[index]


def test_deep_check_sees_no_driver(cuda_venv: Path, clean_env: dict[str, str]) -> None:
    runtime = doctor(cuda_venv, clean_env, "--deep")["runtime"]
    assert runtime["cuda_available"] is False  # type: ignore[index]
    assert "NVIDIA driver" in (runtime["cuda_error"] or "")  # type: ignore[index]
