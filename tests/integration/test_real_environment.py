"""torchenv on a real venv with torch 2.13.0+cpu, on this machine (a CUDA toolkit may be
installed, no NVIDIA driver): it must report a CPU build and never claim CUDA works."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from integration.conftest import fake_executable, torchenv_cmd

pytestmark = pytest.mark.integration


def run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def has_driver() -> bool:
    return Path("/proc/driver/nvidia/version").exists()


def test_inspect_json_on_a_real_cpu_build(torch_venv: Path, clean_env: dict[str, str]) -> None:
    result = run(torchenv_cmd("inspect", "--json", "--prefix", str(torch_venv)), clean_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    torch = doc["environment"]["torch"]
    assert torch["version"] == "2.13.0+cpu" and torch["cuda"] is None and torch["local"] == "cpu"
    assert torch["arch_list"] == [] and torch["has_cuda_library"] is False
    assert torch["numpy_abi"] == "numpy2"  # torch >= 2.3 is built against NumPy 2
    assert doc["environment"]["kind"] == "venv"
    assert doc["environment"]["interpreter"]["runs"] is True
    if not has_driver():
        assert doc["machine"]["driver"]["version"] is None
        assert doc["machine"]["driver"]["notes"], "says why there is no driver"
    if shutil.which("nvcc"):
        assert doc["machine"]["toolkits"][0]["version"]


def test_doctor_reports_cpu_build_and_toolkit_without_driver(
    torch_venv: Path, clean_env: dict[str, str]
) -> None:
    result = run(torchenv_cmd("doctor", "--json", "--prefix", str(torch_venv)), clean_env)
    doc = json.loads(result.stdout)
    assert doc["outlook"]["build"] == "cpu"
    assert doc["outlook"]["cuda_expected"] is False
    ids = {f["id"] for f in doc["findings"]}
    if shutil.which("nvcc") and not has_driver():
        assert "cuda-toolkit-without-driver" in ids
    assert result.returncode == (1 if doc["summary"]["failed"] else 0)
    text = run(torchenv_cmd("doctor", "--prefix", str(torch_venv)), clean_env)
    assert "CUDA: not expected to work" in text.stdout


def test_doctor_deep_imports_torch(torch_venv: Path, clean_env: dict[str, str]) -> None:
    result = run(
        torchenv_cmd("doctor", "--deep", "--json", "--prefix", str(torch_venv)), clean_env, 300
    )
    doc = json.loads(result.stdout)
    runtime = doc["runtime"]
    assert runtime["ran"] is True and runtime["error"] is None, runtime
    assert runtime["torch_version"] == "2.13.0+cpu" and runtime["cuda_available"] is False
    assert doc["outlook"]["verified"] is False
    assert not {f["id"] for f in doc["findings"]} & {
        "runtime-check-failed",
        "runtime-torch-differs-from-files",
    }


def test_active_virtual_env_is_the_default_target(
    torch_venv: Path, clean_env: dict[str, str]
) -> None:
    env = {**clean_env, "VIRTUAL_ENV": str(torch_venv)}
    doc = json.loads(run(torchenv_cmd("doctor", "--json"), env).stdout)
    assert doc["target"]["selected_by"] == "$VIRTUAL_ENV" and doc["target"]["prefix"] == str(
        torch_venv
    )


def test_python_option_and_second_run_from_cache(
    torch_venv: Path, clean_env: dict[str, str]
) -> None:
    args = torchenv_cmd("inspect", "--json", "--python", str(torch_venv / "bin/python"))
    first, second = run(args, clean_env), run(args, clean_env)
    assert json.loads(first.stdout)["environment"] == json.loads(second.stdout)["environment"]


def test_environment_whose_python_is_gone(
    torch_venv: Path, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    broken = tmp_path / "broken"
    site = broken / "lib/python3.11/site-packages"
    site.mkdir(parents=True)
    (broken / "bin").mkdir()
    (broken / "bin/python").symlink_to("/nonexistent/python3.11")
    (broken / "pyvenv.cfg").write_text("home = /nonexistent\nversion = 3.11.7\n")
    src = torch_venv / "lib/python3.11/site-packages"
    for name in ("torch-2.13.0+cpu.dist-info",):
        shutil.copytree(src / name, site / name)
    (site / "torch").mkdir()
    shutil.copy(src / "torch/version.py", site / "torch/version.py")
    (site / "torch/__init__.py").write_text("")
    result = run(torchenv_cmd("doctor", "--json", "--prefix", str(broken)), clean_env)
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    ids = [f["id"] for f in doc["findings"]]
    assert "interpreter-does-not-run" in ids and result.returncode == 1
    assert doc["outlook"]["torch"] == "2.13.0+cpu"  # still read from the files


def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path, clean_env: dict[str, str]) -> None:
    result = run(torchenv_cmd("doctor", "--prefix", str(tmp_path / "missing")), clean_env)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    meta = tmp_path / "env/conda-meta"
    meta.mkdir(parents=True)
    (meta / "pytorch-2.5.1-py3.11_0.json").write_text("{corrupt")
    (tmp_path / "env/bin").mkdir()
    result = run(torchenv_cmd("doctor", "--json", "--prefix", str(tmp_path / "env")), clean_env)
    assert "Traceback" not in result.stderr
    ids = {f["id"] for f in json.loads(result.stdout)["findings"]}
    assert {"conda-meta-unreadable", "interpreter-does-not-run"} <= ids


def test_fake_nvidia_smi_replays_a_capture(
    tool_dir: Path, clean_env: dict[str, str], torch_venv: Path
) -> None:
    capture = Path(__file__).parents[1] / "fixtures/nvidia/query-h100x2.csv"
    fake_executable(tool_dir, "nvidia-smi", f'cat "{capture}"\n')
    env = {**clean_env, "PATH": f"{tool_dir}:{clean_env['PATH']}", "TORCHENV_NVML": "0"}
    doc = json.loads(run(torchenv_cmd("doctor", "--json", "--prefix", str(torch_venv)), env).stdout)
    assert doc["outlook"]["driver"] == "580.159.03"
    assert doc["findings"][0]["id"] == "cpu-build-on-gpu-host"
    assert any("whl/cu130" in step for step in doc["findings"][0]["fix"])


def test_hanging_nvidia_smi_does_not_hang_torchenv(
    tool_dir: Path, clean_env: dict[str, str], torch_venv: Path
) -> None:
    fake_executable(tool_dir, "nvidia-smi", "sleep 600\n")
    env = {
        **clean_env,
        "PATH": f"{tool_dir}:{clean_env['PATH']}",
        "TORCHENV_NVML": "0",
        "TORCHENV_TOOL_TIMEOUT": "1",
    }
    result = run(torchenv_cmd("doctor", "--json", "--prefix", str(torch_venv)), env, timeout=60)
    doc = json.loads(result.stdout)
    hung = [f for f in doc["findings"] if f["id"] == "gpu-tools-unresponsive"]
    assert hung and "timed out after 1s" in hung[0]["title"]
