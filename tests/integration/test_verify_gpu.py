"""`torchenv verify` on a real NVIDIA GPU, with the PyTorch of the machine's own python3: every GPU
check passes and throughput lands at a plausible share of the GPU's published peak."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from integration.conftest import torchenv_cmd

pytestmark = [pytest.mark.gpu, pytest.mark.integration]

GPU_CHECKS = (
    "cuda-available",
    "gpu-arch-in-build",
    "matmul",
    "conv-cudnn",
    "bf16-autocast",
    "memory-alloc",
    "perf-matmul-bf16",
    "perf-memory-bandwidth",
    "nccl-all-reduce",
)


def test_every_gpu_check_passes(tmp_path: Path) -> None:
    if not (os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi")):
        pytest.skip("no NVIDIA GPU on this machine")
    python = shutil.which("python3")
    if python is None:
        pytest.skip("no python3 on PATH")
    has_torch = subprocess.run([python, "-c", "import torch"], capture_output=True, check=False)
    if has_torch.returncode != 0:
        pytest.skip(f"{python} has no importable torch")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run(
        torchenv_cmd("verify", "--json", "--python", python),
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    for c in doc["checks"]:  # shown with pytest -s: the record of a run on this GPU
        where = "" if c["gpu"] is None else f"[cuda:{c['gpu']}]"
        print(f"{c['status']:4} {c['id']}{where} {c['seconds']:.2f}s {c['detail']}")
    for p in doc["perf"]["entries"]:
        print(
            f"perf {p['check']} cuda:{p['gpu']} {p['gpu_name']}: {p['value']} {p['unit']} "
            f"= {p['percent']}% of {p['peak']} ({p['peak_source']})"
        )
    checks = [c for c in doc["checks"] if c["id"] in GPU_CHECKS]
    assert any(c["gpu"] is not None for c in checks), "no per-GPU check ran"
    failed = [c for c in checks if c["status"] != "pass"]
    assert not failed, failed
    assert {p["check"] for p in doc["perf"]["entries"]} == {
        "perf-matmul-bf16",
        "perf-memory-bandwidth",
    }
    for perf in doc["perf"]["entries"]:
        assert perf["percent"] is not None, f"no published peak for {perf['gpu_name']}"
        assert 1 < perf["percent"] < 150, perf
    compiled = next(c for c in doc["checks"] if c["id"] == "torch-compile")
    assert compiled["status"] in ("pass", "skip"), compiled
