"""`torchenv verify` running the real check script in the real torch 2.13.0+cpu venv (and, opt-in,
the torch 2.14.1+cu130 venv with torchvision, on a machine without a driver)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import torchenv_cmd
from torchenv.verify.script import SCRIPT, parse_output

pytestmark = pytest.mark.integration

GPU_CHECKS = (
    "gpu-arch-in-build",
    "matmul",
    "conv-cudnn",
    "bf16-autocast",
    "memory-alloc",
    "perf-matmul-bf16",
    "perf-memory-bandwidth",
    "nccl-all-reduce",
)
PYENV = sorted(glob.glob(str(Path.home() / ".pyenv/versions/*/bin/python")))


def gpu_here() -> bool:
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def verify(venv: Path, env: dict[str, str], *extra: str) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        torchenv_cmd("verify", "--json", "--prefix", str(venv), *extra),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)
    # the times, for the record of what a run on this machine looks like (pytest -s shows them)
    for c in doc["checks"]:
        print(f"{c['status']:4} {c['id']:24} {c['seconds']:7.2f}s  {c['detail'][:90]}")
    return result.returncode, doc, result.stderr


@pytest.fixture
def cpu_host() -> None:
    if gpu_here():
        pytest.skip("an NVIDIA GPU is visible: a CPU build fails cuda-available here, by design")


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in doc["checks"]}


def test_quick(torch_venv: Path, clean_env: dict[str, str], cpu_host: None, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    code, doc, err = verify(torch_venv, clean_env, "--quick", "--junit", str(junit))
    checks = by_id(doc)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}  # noqa: S314
    assert set(cases) == {c["id"] for c in doc["checks"]}  # one case per check, no GPU here
    assert cases["cuda-available"].find("skipped") is not None
    assert code == 0 and doc["schema"] == "torchenv.verify/1" and doc["summary"]["quick"]
    assert checks["import-torch"]["status"] == "pass"
    assert "torch 2.13.0+cpu (CPU build)" in checks["import-torch"]["detail"]
    assert checks["cpu-ops"]["status"] == "pass"
    assert checks["torch-compile"] == {**checks["torch-compile"], "status": "skip"}
    assert checks["torch-compile"]["detail"] == "--quick"
    assert checks["cuda-available"]["status"] == "skip"
    assert checks["versions-match-lock"]["status"] == "skip"  # uv built it, not torchenv create
    for check_id in GPU_CHECKS:
        assert (
            checks[check_id]["status"] == "skip" and checks[check_id]["detail"] == "no NVIDIA GPU"
        )
    assert doc["summary"]["failed"] == 0 and doc["perf"] == {"entries": []}
    assert "torchenv: running" not in err  # --json: no progress lines, the document only


def test_full(torch_venv: Path, clean_env: dict[str, str], cpu_host: None, tmp_path: Path) -> None:
    # a cold inductor compile takes ~12-25 s; the cache is kept out of the user's /tmp
    env = {**clean_env, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    code, doc, _ = verify(torch_venv, env)
    checks = by_id(doc)
    assert code == 0 and not doc["summary"]["quick"]
    compiled = checks["torch-compile"]
    if compiled["status"] == "skip":
        assert compiled["detail"].startswith("no C++ compiler"), compiled
    else:
        assert compiled["status"] == "pass", compiled
        assert compiled["detail"].startswith("inductor (C++) on CPU")
        assert any((tmp_path / "inductor").iterdir())  # the user's cache dir was respected
    assert checks["cpu-ops"]["status"] == "pass" and checks["import-torch"]["seconds"] > 0
    assert all(checks[c]["status"] == "skip" for c in GPU_CHECKS)


def test_without_a_compiler_torch_compile_is_skipped(
    torch_venv: Path, clean_env: dict[str, str], cpu_host: None, tmp_path: Path
) -> None:
    env = {**clean_env, "CXX": "no-such-compiler-anywhere"}
    code, doc, _ = verify(torch_venv, env)
    compiled = by_id(doc)["torch-compile"]
    assert code == 0 and compiled["status"] == "skip"
    assert "no C++ compiler (no-such-compiler-anywhere not on PATH)" in compiled["detail"]


def test_cuda_build_without_a_driver(
    cuda_venv: Path, clean_env: dict[str, str], cpu_host: None
) -> None:
    code, doc, _ = verify(cuda_venv, clean_env, "--quick")
    checks = by_id(doc)
    assert code == 0 and doc["cuda"] == "13.0"
    assert checks["cuda-available"]["status"] == "skip"
    assert "CUDA 13.0 build, but no NVIDIA GPU" in checks["cuda-available"]["detail"]
    domain = checks["domain-libraries-agree"]
    assert domain["status"] == "pass" and "torchvision 0.29.1" in domain["detail"]
    assert "ops.nms runs on CPU" in domain["detail"]


def test_script_without_torch_reports_the_import_failure(tmp_path: Path) -> None:
    """The script itself, in an interpreter that has no torch (this one)."""
    result = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), "COOKIE", json.dumps({"tmp": str(tmp_path)})],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    data = json.loads(result.stdout.split("\nCOOKIE\n")[1])
    out = parse_output(data, 0.0)
    assert [c.id for c in out.checks] == ["import-torch"]
    assert out.checks[0].status.value == "fail" and "torch" in out.checks[0].detail
    assert "torchenv-verify: running import-torch" in result.stderr


@pytest.mark.parametrize("python", PYENV or ["missing"], ids=lambda p: p.split("/")[-3])
def test_script_runs_on_every_python_torch_supports(python: str, tmp_path: Path) -> None:
    if python == "missing":
        pytest.skip("no pyenv interpreters on this machine")
    if python.split("/")[-3].startswith(("2.", "3.6", "3.7")):
        pytest.skip("the verify script targets Python 3.8+")
    result = subprocess.run(
        [python, "-S", str(SCRIPT), "COOKIE", json.dumps({"tmp": str(tmp_path)})],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    data = json.loads(result.stdout.split("\nCOOKIE\n")[1])
    assert data["checks"][0]["id"] == "import-torch" and data["facts"]["python"].startswith("3.")
    # the modules a GPU run imports parse in that Python too
    for module in sorted(SCRIPT.parent.glob("verify_*.py")):
        source = f"compile(open({str(module)!r}).read(), {module.name!r}, 'exec')"
        subprocess.run([python, "-S", "-c", source], check=True, timeout=60)


# a stand-in for a GPU on this machine's CPU build: torch.cuda says one H100 is there and what
# its allocator holds; moving a tensor to it still fails, as it would with a broken driver
FAKE_GPU = """
import torch
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_capability = lambda index=0: (9, 0)
torch.cuda.get_device_name = lambda index=0: "NVIDIA H100 80GB HBM3"
torch.cuda.empty_cache = lambda: None
torch.cuda.memory_stats = lambda index=0: {
    "reserved_bytes.all.current": 3 << 30, "inactive_split_bytes.all.current": 1 << 30,
    "allocated_bytes.all.peak": 5 << 30, "num_alloc_retries": 2,
}
"""


def test_the_gpu_checks_run_from_their_own_module_and_read_the_allocator(
    torch_venv: Path, tmp_path: Path
) -> None:
    """The real script in the real torch venv, its GPU half (verify_gpu.py, imported from beside
    it even with PYTHONSAFEPATH set) driven by a stand-in torch.cuda."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(FAKE_GPU)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path / "site"), "PYTHONSAFEPATH": "1"}
    options = json.dumps({"tmp": str(tmp_path), "quick": True})
    result = subprocess.run(
        [str(torch_venv / "bin/python"), str(SCRIPT), "COOKIE", options],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    out = parse_output(json.loads(result.stdout.split("\nCOOKIE\n")[1]), 0.0)
    matmul = next(c for c in out.checks if c.id == "matmul")
    assert matmul.gpu == 0 and matmul.status.value == "fail"  # a CPU build cannot move to it
    (state,) = out.allocator
    assert state.reserved_bytes == 3 << 30 and state.fragmentation == round(1 / 3, 4)
    assert state.peak_allocated_bytes == 5 << 30 and state.alloc_retries == 2
