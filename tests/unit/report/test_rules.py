"""Every doctor rule fires on its case and stays silent on healthy environments.

Environments are real fake trees on disk, read by the probes (the interpreter's answer comes from
a FakeRunner); machines are models. Each case is registered in CASES, and a test checks that
every rule of the registry has one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from builders import (
    ARCH_CU126,
    FakeEnv,
    FakeRunner,
    add_cu130_libs,
    add_dist,
    add_torch,
    add_torchvision,
    conda_record,
    fixture_text,
    h100,
    machine,
    make_venv,
    probe_context,
    write_kernel,
)
from torchenv.commands.provenance import read_provenance
from torchenv.knowledge import load_knowledge
from torchenv.models import (
    Compilers,
    Driver,
    Environment,
    Finding,
    Gpu,
    JupyterServer,
    LoaderLibraries,
    Machine,
    ProbeNote,
    RuntimeCheck,
    Severity,
    Toolkit,
)
from torchenv.probe.environment import probe_environment
from torchenv.report.rules import REGISTRY, Facts, evaluate
from torchenv.spec import load_spec, spec_hash

DRIVER = "580.159.03"


def probe(
    tmp_path: Path, env: FakeEnv, env_vars: dict[str, str] | None = None, **info: object
) -> Environment:
    runner = FakeRunner()
    runner.on_interpreter(env, **info)
    ctx, _ = probe_context(tmp_path, runner, env=env_vars)
    return probe_environment(ctx, None, str(env.prefix))


def diagnose(m: Machine, e: Environment, runtime: RuntimeCheck | None = None) -> list[Finding]:
    return evaluate(Facts(m, e, load_knowledge(), runtime, read_provenance(e)))


def gpu_env(tmp_path: Path) -> FakeEnv:
    """A healthy torch 2.14.1+cu130 environment as pip installs it from PyPI."""
    env = make_venv(tmp_path)
    add_torch(env.site)
    add_cu130_libs(env.site)
    add_torchvision(env.site)
    add_dist(env.site, "numpy", "2.4.1")
    return env


def cpu_env(tmp_path: Path) -> FakeEnv:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, installer="uv")
    return env


H100X2 = (h100(0), h100(1))


# --------------------------------------------------------------------------- healthy
def test_healthy_gpu_environment_has_no_findings(tmp_path: Path) -> None:
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)))
    assert findings == []


def test_healthy_cpu_environment_on_cpu_machine_has_no_findings(tmp_path: Path) -> None:
    findings = diagnose(machine(), probe(tmp_path, cpu_env(tmp_path)))
    assert findings == []


def test_healthy_gpu_environment_passes_the_deep_rules(tmp_path: Path) -> None:
    runtime = RuntimeCheck(
        ran=True,
        torch_version="2.14.1+cu130",
        cuda_version="13.0",
        cuda_available=True,
        device_count=2,
        op_ok=True,
    )
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)), runtime)
    assert findings == []


# --------------------------------------------------------------------------- cases
Case = Callable[[Path], list[Finding]]
CASES: dict[str, Case] = {}


def case(rule_id: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[rule_id] = fn
        return fn

    return register


def built_env(tmp_path: Path, edit: str = "") -> list[Finding]:
    """A CPU environment as `torchenv create` leaves it (record, spec, lock), then ``edit``."""
    env = make_venv(tmp_path)
    # the +cpu wheels of the PyTorch index keep the label in their dist-info version
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, requires=[], dist_version="2.13.0+cpu")
    add_dist(env.site, "filelock", "4.2.12")
    spec = tmp_path / "torchenv.toml"
    spec.write_text('name = "t"\npython = "3.11"\ntorch = "==2.13.0"\ncuda = "cpu"\n')
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\n')
    record = {
        "schema": "torchenv.env/1",
        "spec": {"path": str(spec), "hash": spec_hash(load_spec(spec, tmp_path))},
        "lock": {
            "path": str(lock),
            "sha256": hashlib.sha256(lock.read_bytes()).hexdigest(),
            "packages": {"torch": "2.13.0+cpu", "filelock": "4.2.12"},
        },
    }
    (env.prefix / "torchenv-env.json").write_text(json.dumps(record))
    if edit == "spec":
        spec.write_text(spec.read_text().replace("==2.13.0", "==2.14.1"))
    elif edit == "lock":
        lock.write_text(lock.read_text() + "# edited\n")
    elif edit == "drift":
        add_dist(env.site, "filelock", "4.3.0")
        add_dist(env.site, "six", "1.17.0")
    elif edit == "record":
        (env.prefix / "torchenv-env.json").write_text("{not json")
    return diagnose(machine(), probe(tmp_path, env))


@case("env-record-unreadable")
def _(tmp_path: Path) -> list[Finding]:
    return built_env(tmp_path, "record")


@case("env-spec-changed")
def _(tmp_path: Path) -> list[Finding]:
    findings = built_env(tmp_path, "spec")
    assert "torchenv lock " in fix_of(findings, "env-spec-changed")
    return findings


@case("env-lock-changed")
def _(tmp_path: Path) -> list[Finding]:
    return built_env(tmp_path, "lock")


@case("env-drifted-from-lock")
def _(tmp_path: Path) -> list[Finding]:
    findings = built_env(tmp_path, "drift")
    found = next(f for f in findings if f.id == "env-drifted-from-lock")
    assert "filelock is 4.3.0, the lock has 4.2.12" in found.evidence
    assert "six 1.17.0 was added" in found.evidence
    assert "uv pip sync" in fix_of(findings, "env-drifted-from-lock")
    return findings


def test_an_environment_as_create_left_it_has_no_provenance_finding(tmp_path: Path) -> None:
    ids = {f.id for f in built_env(tmp_path)}
    assert not ids & {
        "env-record-unreadable",
        "env-spec-changed",
        "env-lock-changed",
        "env-drifted-from-lock",
    }


@case("interpreter-does-not-run")
def _(tmp_path: Path) -> list[Finding]:
    env = gpu_env(tmp_path)
    ctx, _ = probe_context(tmp_path, FakeRunner())  # the interpreter "does not run"
    e = probe_environment(ctx, None, str(env.prefix))
    assert e.torch is not None and e.torch.version == "2.14.1+cu130"  # read from files anyway
    return diagnose(machine(H100X2, DRIVER), e)


@case("torch-not-installed")
def _(tmp_path: Path) -> list[Finding]:
    return diagnose(machine(), probe(tmp_path, make_venv(tmp_path)))


@case("metadata-unreadable")
def _(tmp_path: Path) -> list[Finding]:
    env = cpu_env(tmp_path)
    add_dist(env.site, "broken", "1.0", metadata="\x00\x01 garbage without headers\n\x7f")
    return diagnose(machine(), probe(tmp_path, env))


@case("jupyter-kernel-foreign-interpreter")
def _(tmp_path: Path) -> list[Finding]:
    env = cpu_env(tmp_path)
    write_kernel(env.prefix / "share/jupyter/kernels", "python3", "/usr/bin/python3")
    return diagnose(machine(), probe(tmp_path, env))


@case("jupyter-kernel-missing-interpreter")
def _(tmp_path: Path) -> list[Finding]:
    env = cpu_env(tmp_path)
    write_kernel(tmp_path / "home/.local/share/jupyter/kernels", "old", "/gone/bin/python")
    return diagnose(machine(), probe(tmp_path, env))


def jupyter(**fields: object) -> JupyterServer:
    """A running token-less server as probe/jupyter_servers.py reports one."""
    base = {
        "runtime_file": "/home/u/.local/share/jupyter/runtime/jpserver-4242.json",
        "hostname": "localhost",
        "port": 8888,
        "has_token": False,
        "has_password": False,
        "secure": False,
        "pid": 4242,
        "running": True,
        "listening": ("0.0.0.0",),  # noqa: S104 - a reading
        "answers_without_auth": True,
    }
    return JupyterServer(**{**base, **fields})  # type: ignore[arg-type]


@case("jupyter-server-without-auth")
def _(tmp_path: Path) -> list[Finding]:
    # `jupyter lab --ip='*' --ServerApp.token=''`: the file says localhost, the socket 0.0.0.0
    m = machine(jupyter_servers=(jupyter(),))
    return diagnose(m, probe(tmp_path, cpu_env(tmp_path)))


@case("torchvision-torch-mismatch")
def _(tmp_path: Path) -> list[Finding]:
    env = make_venv(tmp_path)
    add_torch(env.site)
    add_cu130_libs(env.site)
    add_torchvision(env.site, "0.28.0+cu130", "==2.13.0")  # built for torch 2.13.0
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("torchaudio-torch-mismatch")
def _(tmp_path: Path) -> list[Finding]:
    env = gpu_env(tmp_path)
    add_dist(
        env.site,
        "torchaudio",
        "2.9.1",
        requires=["torch (==2.9.1)"],
        files={
            "torchaudio/__init__.py": "",
            "torchaudio/version.py": "__version__ = '2.9.1+cu128'\n",
        },
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("nvidia-mixed-cuda-majors")
def _(tmp_path: Path) -> list[Finding]:
    env = gpu_env(tmp_path)
    add_dist(env.site, "nvidia-cublas-cu12", "12.8.4.1")
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("file-owned-by-two-distributions")
def _(tmp_path: Path) -> list[Finding]:
    env = gpu_env(tmp_path)
    add_dist(
        env.site,
        "nvidia-nccl-cu12",
        "2.27.3",
        files={"nvidia/nccl/lib/libnccl.so.2": b"nccl 2.27.3 cu12"},
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("torch-installed-twice")
def _(tmp_path: Path) -> list[Finding]:
    env = gpu_env(tmp_path)
    user_site = tmp_path / "home/.local/lib/python3.11/site-packages"
    add_torch(user_site, "2.7.1+cu126", cuda="12.6", arch=ARCH_CU126, requires=[])
    e = probe(tmp_path, env, sys_path=["/usr/lib/python3.11", str(user_site), str(env.site)])
    return diagnose(machine(H100X2, DRIVER), e)


@case("cuda-libs-do-not-match-torch")
def _(tmp_path: Path) -> list[Finding]:
    env = make_venv(tmp_path)
    add_torch(env.site)
    add_cu130_libs(env.site, {"nvidia-nccl-cu13": "2.29.7", "nvidia-cuda-runtime": None})
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))
    evidence = " ".join(
        next(f for f in findings if f.id == "cuda-libs-do-not-match-torch").evidence
    )
    assert "nvidia-nccl-cu13==2.30.7" in evidence and "2.29.7 is installed" in evidence
    assert (
        "nvidia-cuda-runtime" in evidence and "not installed" in evidence
    )  # via cuda-toolkit[cudart]
    return findings


@case("numpy2-with-numpy1-build")
def _(tmp_path: Path) -> list[Finding]:
    env = make_venv(tmp_path)
    add_torch(
        env.site,
        "2.1.2+cu121",
        cuda="12.1",
        numpy="numpy1",
        requires=[],
        version_py=fixture_text("versionpy", "torch-2.1.2+cu121.py"),
    )
    add_dist(env.site, "numpy", "2.0.0")
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("torch-requires-other-python")
def _(tmp_path: Path) -> list[Finding]:
    env = make_venv(tmp_path, python_version="3.10.13")
    add_torch(env.site, "2.15.0+cu132", cuda="13.2", requires=[], requires_python=">=3.11")
    return diagnose(machine(H100X2, "595.71.05"), probe(tmp_path, env))


def conda_env(tmp_path: Path) -> FakeEnv:
    env = make_venv(tmp_path)
    (env.prefix / "pyvenv.cfg").unlink()
    conda_record(env.prefix, "python", "3.11.7", "h955ad1f_0", "conda-forge")
    return env


@case("pip-torch-over-conda-pytorch")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    conda_record(env.prefix, "pytorch", "2.5.1", "py3.11_cuda12.4_cudnn9.1.0_0", "pytorch")
    add_torch(env.site)
    add_cu130_libs(env.site)
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("conda-pip-duplicate-package")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    conda_record(env.prefix, "numpy", "1.26.4", "py311h64a7726_0", "conda-forge")
    add_dist(env.site, "numpy", "2.4.1", installer="pip")
    return diagnose(machine(), probe(tmp_path, env))


@case("pytorch-channel-missing-version")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "environment.yml").write_text(
        "name: ml\nchannels:\n  - pytorch\n  - nvidia\ndependencies:\n  - python=3.11\n"
        "  - pytorch==2.6\n  - pytorch-cuda=12.1\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        return diagnose(machine(), probe(tmp_path, env))


@case("pytorch-channel-deprecated")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    conda_record(env.prefix, "pytorch", "2.5.1", "py3.11_cuda12.4_cudnn9.1.0_0", "pytorch")
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("conda-cpu-variant")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    conda_record(env.prefix, "pytorch", "2.13.0", "cpu_mkl_py311_hd1b2c3f_102", "conda-forge")
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("conda-mkl-itt-symbol")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    conda_record(env.prefix, "pytorch", "2.2.0", "py3.11_cuda12.1_cudnn8.9.2_0", "pytorch")
    conda_record(env.prefix, "mkl", "2024.1.0", "h06a4308_691", "defaults")
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("conda-meta-unreadable")
def _(tmp_path: Path) -> list[Finding]:
    env = conda_env(tmp_path)
    (env.prefix / "conda-meta/libfoo-1.0-h0.json").write_text('{"name": "libfoo", "vers')
    return diagnose(machine(), probe(tmp_path, env))


@case("cpu-build-on-gpu-host")
def _(tmp_path: Path) -> list[Finding]:
    env = cpu_env(tmp_path)
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))
    fix = " ".join(next(f for f in findings if f.id == "cpu-build-on-gpu-host").fix)
    # driver 580 runs CUDA 13.0 at full support; 13.2 only through minor-version compatibility
    assert "uv pip install" in fix and "torch==2.13.0+cu130" in fix
    assert "https://download.pytorch.org/whl/cu130" in fix
    return findings


@case("no-nvidia-driver")
def _(tmp_path: Path) -> list[Finding]:
    return diagnose(machine((), None, pci=["0000:19:00.0"]), probe(tmp_path, gpu_env(tmp_path)))


@case("open-kernel-module-on-old-gpu")
def _(tmp_path: Path) -> list[Finding]:
    # a GTX 1080 (10de:1b80) beside an RTX 4090 (10de:2684): the open module drives only the 4090
    driver = Driver("580.95.05", "13.0", "580.95.05", "open", "nvml")
    m = machine(
        (h100(0, "NVIDIA GeForce RTX 4090", "8.9"),),
        pci=["0000:01:00.0", "0000:02:00.0"],
        pci_nvidia_device_ids=("2684", "1b80"),
    )
    return diagnose(replace(m, driver=driver), probe(tmp_path, gpu_env(tmp_path)))


@case("cuda-build-without-gpu")
def _(tmp_path: Path) -> list[Finding]:
    return diagnose(machine(), probe(tmp_path, gpu_env(tmp_path)))


@case("driver-too-old-for-build")
def _(tmp_path: Path) -> list[Finding]:
    findings = diagnose(machine(H100X2, "570.124.06"), probe(tmp_path, gpu_env(tmp_path)))
    fix = " ".join(next(f for f in findings if f.id == "driver-too-old-for-build").fix)
    assert "whl/cu126" in fix and "torch==2.14.1+cu126" in fix  # the variant driver 570 runs
    return findings


@case("driver-below-build-release")
def _(tmp_path: Path) -> list[Finding]:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.15.0+cu132", cuda="13.2", requires=[])
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("gpu-arch-not-in-build")
def _(tmp_path: Path) -> list[Finding]:
    pascal = Gpu(0, "NVIDIA GeForce GTX 1080", "GPU-1", "6.1", 8192, "00000000:01:00.0")
    findings = diagnose(machine([pascal], DRIVER), probe(tmp_path, gpu_env(tmp_path)))
    fix = " ".join(next(f for f in findings if f.id == "gpu-arch-not-in-build").fix)
    assert "whl/cu126" in fix  # the only 2.14 variant with sm_60
    return findings


@case("gpu-arch-ptx-only")
def _(tmp_path: Path) -> list[Finding]:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.14.1+cu130", arch="sm_80 sm_86 compute_86")
    add_cu130_libs(env.site)
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))


@case("cuda-visible-devices-hides-all")
def _(tmp_path: Path) -> list[Finding]:
    m = machine(H100X2, DRIVER, env={"CUDA_VISIBLE_DEVICES": "0,0"})
    return diagnose(m, probe(tmp_path, gpu_env(tmp_path)))


@case("cuda-visible-devices-unknown-device")
def _(tmp_path: Path) -> list[Finding]:
    m = machine(H100X2, DRIVER, env={"CUDA_VISIBLE_DEVICES": "1,7,0"})
    findings = diagnose(m, probe(tmp_path, gpu_env(tmp_path)))
    hit = next(f for f in findings if f.id == "cuda-visible-devices-unknown-device")
    assert hit.severity is Severity.WARNING and "visible GPUs are: 1" in hit.title
    return findings


@case("cuda-device-order-not-pci")
def _(tmp_path: Path) -> list[Finding]:
    gpus = [
        Gpu(0, "NVIDIA TITAN V", "GPU-a", "7.0"),
        Gpu(1, "NVIDIA RTX 5880 Ada Generation", "GPU-b", "8.9"),
    ]
    return diagnose(machine(gpus, DRIVER), probe(tmp_path, gpu_env(tmp_path)))


@case("container-without-gpu-access")
def _(tmp_path: Path) -> list[Finding]:
    m = machine((), None, container="docker", pci=["0000:19:00.0"], nodes=[])
    findings = diagnose(m, probe(tmp_path, gpu_env(tmp_path)))
    assert (
        next(f for f in findings if f.id == "container-without-gpu-access").severity
        is Severity.ERROR
    )
    return findings


@case("container-shm-too-small")
def _(tmp_path: Path) -> list[Finding]:
    m = machine(H100X2, DRIVER, container="docker", shm_bytes=64 << 20)
    findings = diagnose(m, probe(tmp_path, gpu_env(tmp_path)))
    hit = next(f for f in findings if f.id == "container-shm-too-small")
    assert hit.severity is Severity.ERROR and "64 MiB" in hit.title  # two GPUs: NCCL too
    return findings


@case("gpu-tools-unresponsive")
def _(tmp_path: Path) -> list[Finding]:
    m = machine(H100X2, DRIVER)
    m = replace(
        m, driver=replace(m.driver, notes=(ProbeNote("nvidia-smi", "timed out after 10s"),))
    )
    return diagnose(m, probe(tmp_path, gpu_env(tmp_path)))


@case("driver-library-mismatch")
def _(tmp_path: Path) -> list[Finding]:
    libs = LoaderLibraries(libnvidia_ml=("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.570.124.06",))
    return diagnose(machine(H100X2, DRIVER, libraries=libs), probe(tmp_path, gpu_env(tmp_path)))


@case("cuda-compat-older-than-driver")
def _(tmp_path: Path) -> list[Finding]:
    # an image made for hosts on R535, run on a host upgraded to R580 (catalog G2)
    libs = LoaderLibraries(
        libcuda=("/usr/local/cuda-12.8/compat/libcuda.so.570.124.06",),
        libcuda_from="/usr/local/cuda/compat",
        ld_library_path=("/usr/local/cuda/compat",),
    )
    return diagnose(machine(H100X2, DRIVER, libraries=libs), probe(tmp_path, gpu_env(tmp_path)))


@case("cuda-compat-unsupported-gpu")
def _(tmp_path: Path) -> list[Finding]:
    # CUDA 13.0 forwarded onto R550 on a GeForce card (catalog G3)
    libs = LoaderLibraries(libcuda=("/usr/local/cuda-13.0/compat/libcuda.so.580.65.06",))
    gpus = (h100(0, "NVIDIA GeForce RTX 4090", "8.9"),)
    return diagnose(machine(gpus, "550.144.03", libraries=libs), probe(tmp_path, gpu_env(tmp_path)))


@case("cuda-toolkit-without-driver")
def _(tmp_path: Path) -> list[Finding]:
    kits = (Toolkit(None, "nvcc on PATH", "/usr/local/bin/nvcc", "13.0.88"),)
    return diagnose(machine(toolkits=kits), probe(tmp_path, cpu_env(tmp_path)))


@case("nvcc-major-differs-from-build")
def _(tmp_path: Path) -> list[Finding]:
    kits = (
        Toolkit("/usr/local/cuda-12.4", "CUDA_HOME", "/usr/local/cuda-12.4/bin/nvcc", "12.4.131"),
    )
    return diagnose(machine(H100X2, DRIVER, toolkits=kits), probe(tmp_path, gpu_env(tmp_path)))


@case("ld-library-path-shadows-wheel-cuda")
def _(tmp_path: Path) -> list[Finding]:
    libs = LoaderLibraries(
        ld_library_path=("/usr/local/cuda-13.2/lib64",),
        shadowing={"libcublasLt.so.13": ("/usr/local/cuda-13.2/lib64/libcublasLt.so.13",)},
    )
    return diagnose(machine(H100X2, DRIVER, libraries=libs), probe(tmp_path, gpu_env(tmp_path)))


@case("no-c-compiler")
def _(tmp_path: Path) -> list[Finding]:
    return diagnose(machine(compilers=Compilers()), probe(tmp_path, cpu_env(tmp_path)))


@case("python-headers-missing")
def _(tmp_path: Path) -> list[Finding]:
    return diagnose(machine(), probe(tmp_path, cpu_env(tmp_path), has_python_h=False))


@case("runtime-check-failed")
def _(tmp_path: Path) -> list[Finding]:
    runtime = RuntimeCheck(
        ran=True, error="Traceback...\nImportError: libcudnn.so.9: cannot open shared object file"
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)), runtime)


@case("cuda-unavailable-at-runtime")
def _(tmp_path: Path) -> list[Finding]:
    runtime = RuntimeCheck(
        ran=True,
        torch_version="2.14.1+cu130",
        cuda_available=False,
        cuda_error="RuntimeError: Found no NVIDIA driver on your system.",
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)), runtime)


@case("cuda-op-failed")
def _(tmp_path: Path) -> list[Finding]:
    runtime = RuntimeCheck(
        ran=True,
        torch_version="2.14.1+cu130",
        cuda_available=True,
        device_count=2,
        op_ok=False,
        op_error="RuntimeError: CUDA error: no kernel image is available",
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)), runtime)


@case("runtime-sees-fewer-gpus")
def _(tmp_path: Path) -> list[Finding]:
    runtime = RuntimeCheck(
        ran=True, torch_version="2.14.1+cu130", cuda_available=True, device_count=1, op_ok=True
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)), runtime)


@case("runtime-torch-differs-from-files")
def _(tmp_path: Path) -> list[Finding]:
    runtime = RuntimeCheck(
        ran=True, torch_version="2.7.1+cu126", cuda_available=True, device_count=2, op_ok=True
    )
    return diagnose(machine(H100X2, DRIVER), probe(tmp_path, gpu_env(tmp_path)), runtime)


# --------------------------------------------------------------------------- tests over the cases
@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_its_case(rule_id: str, tmp_path: Path) -> None:
    findings = CASES[rule_id](tmp_path)
    hits = [f for f in findings if f.id == rule_id]
    assert hits, f"{rule_id} did not fire; got {[f.id for f in findings]}"
    for hit in hits:
        assert hit.title and hit.evidence, "a finding names what it saw"
        info = next(r.info for r in REGISTRY if r.info.id == rule_id)
        assert hit.severity.rank <= info.severity.rank, "the registry lists the worst severity"


def test_every_rule_has_a_case() -> None:
    assert {r.info.id for r in REGISTRY} == set(CASES)


def test_at_least_twenty_static_rules_with_stable_slugs() -> None:
    static = [r for r in REGISTRY if r.info.needs != "deep"]
    assert len(static) >= 20
    for r in REGISTRY:
        assert r.info.id == r.info.id.lower() and " " not in r.info.id


def test_errors_carry_a_fix(tmp_path: Path) -> None:
    for rule_id, fn in CASES.items():
        for finding in fn(tmp_path / rule_id):
            if finding.severity is Severity.ERROR:
                assert finding.fix, f"{finding.id} gives no fix"


def test_fix_commands_follow_the_environment_installer(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, installer="pip")
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))
    fix = next(f for f in findings if f.id == "cpu-build-on-gpu-host").fix
    # another version string (+cu130 vs +cpu): a plain install replaces it, keeping other deps
    assert fix == (
        f"{env.python} -m pip install torch==2.13.0+cu130 "
        "--index-url https://download.pytorch.org/whl/cu130",
    )


def test_numpy1_extension_next_to_numpy2(tmp_path: Path) -> None:
    from builders import libtorch_python_bytes

    env = cpu_env(tmp_path)
    add_dist(env.site, "numpy", "2.1.3")
    add_dist(
        env.site,
        "old-ext",
        "0.3",
        requires=["numpy>=1.20"],
        files={
            "old_ext/_impl.cpython-311-x86_64-linux-gnu.so": libtorch_python_bytes(None, "numpy1")
        },
    )
    add_dist(
        env.site,
        "new-ext",
        "1.0",
        requires=["numpy"],
        files={
            "new_ext/_impl.cpython-311-x86_64-linux-gnu.so": libtorch_python_bytes(None, "numpy2")
        },
    )
    findings = diagnose(machine(), probe(tmp_path, env))
    hit = next(f for f in findings if f.id == "numpy2-with-numpy1-build")
    assert hit.title.startswith("old-ext was built against NumPy 1")
    assert "new-ext" not in " ".join(hit.evidence)


def fix_of(findings: list[Finding], rule_id: str) -> str:
    return " | ".join(next(f for f in findings if f.id == rule_id).fix)


def test_conda_environments_get_conda_commands(tmp_path: Path) -> None:
    env = conda_env(tmp_path)
    add_torch(env.site, "2.5.1", cuda="12.4", arch=ARCH_CU126, installer="conda", requires=[])
    add_torchvision(env.site, "0.19.1", "==2.4.1", installer="conda")
    conda_record(env.prefix, "pytorch", "2.5.1", "cuda124_py311_h0_300", "conda-forge")
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))
    fix = fix_of(findings, "torchvision-torch-mismatch")
    assert fix == f"conda install -p {env.prefix} -c conda-forge torchvision==0.20.1"


def test_pixi_wins_over_the_torch_installer(tmp_path: Path) -> None:
    env = FakeEnv(tmp_path / "proj/.pixi/envs/default")
    env.site.mkdir(parents=True)
    (env.prefix / "bin").mkdir()
    conda_record(env.prefix, "pytorch", "2.13.0", "cpu_generic_py311_h0_2", "conda-forge")
    add_torch(env.site, "2.13.0", cuda=None, arch=None, installer="conda", requires=[])
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))
    assert fix_of(findings, "conda-cpu-variant").startswith("pixi add 'pytorch=*=cuda*'")
    assert fix_of(findings, "cpu-build-on-gpu-host") == "pixi add pytorch-gpu"


def test_conda_cpu_variant_commands_name_the_prefix(tmp_path: Path) -> None:
    env = conda_env(tmp_path)
    conda_record(env.prefix, "pytorch", "2.13.0", "cpu_mkl_py311_h0_102", "conda-forge")
    conda_record(env.prefix, "cpuonly", "2.0", "0", "pytorch")
    fix = fix_of(diagnose(machine(H100X2, DRIVER), probe(tmp_path, env)), "conda-cpu-variant")
    assert f"conda remove -p {env.prefix} cpuonly" in fix
    assert f"conda install -p {env.prefix} -c conda-forge 'pytorch=*=cuda*'" in fix


def test_missing_cuda_libraries_are_installed_by_their_pins(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site)
    add_cu130_libs(env.site, {"nvidia-nccl-cu13": "2.29.7", "nvidia-cuda-runtime": None})
    fix = fix_of(
        diagnose(machine(H100X2, DRIVER), probe(tmp_path, env)), "cuda-libs-do-not-match-torch"
    )
    assert "nvidia-nccl-cu13==2.30.7" in fix and "nvidia-cuda-runtime==13.0.96.*" in fix
    assert "--force-reinstall" not in fix and "torch==" not in fix


def test_mixed_majors_keeps_what_other_packages_need(tmp_path: Path) -> None:
    env = gpu_env(tmp_path)
    add_dist(env.site, "nvidia-cublas-cu12", "12.8.4.1")
    add_dist(env.site, "nvidia-cudnn-cu12", "9.10.2.21")
    add_dist(env.site, "jax-cuda12-plugin", "0.7.0", requires=["nvidia-cudnn-cu12>=9.8"])
    fix = fix_of(
        diagnose(machine(H100X2, DRIVER), probe(tmp_path, env)), "nvidia-mixed-cuda-majors"
    )
    assert "uninstall -y nvidia-cublas-cu12" in fix and "uninstall -y nvidia-cudnn" not in fix
    assert "keep nvidia-cudnn-cu12: jax-cuda12-plugin" in fix
    assert "--force-reinstall --no-deps" in fix and "nvidia-nccl-cu13==2.30.7" in fix


def test_file_conflict_keeps_the_owner_torch_pins(tmp_path: Path) -> None:
    env = gpu_env(tmp_path)
    add_dist(
        env.site,
        "nvidia-nccl-cu12",
        "2.27.3",
        files={"nvidia/nccl/lib/libnccl.so.2": b"nccl 2.27.3 cu12"},
    )
    fix = fix_of(
        diagnose(machine(H100X2, DRIVER), probe(tmp_path, env)), "file-owned-by-two-distributions"
    )
    assert fix.startswith(f"{env.python} -m pip uninstall -y nvidia-nccl-cu12 |")


def test_torch_twice_names_the_copy_to_remove(tmp_path: Path) -> None:
    findings = CASES["torch-installed-twice"](tmp_path)
    fix = fix_of(findings, "torch-installed-twice")
    assert fix.startswith("remove the copy outside the environment: rm -r ")
    assert "/home/.local/lib/python3.11/site-packages/torch " in fix
    assert "/env/" not in fix.split("|")[0]


def test_broken_metadata_is_reinstalled_alone(tmp_path: Path) -> None:
    findings = CASES["metadata-unreadable"](tmp_path)
    fix = fix_of(findings, "metadata-unreadable")
    assert "--force-reinstall --no-deps broken==1.0" in fix


def test_shadowing_needs_the_same_soname_outside_the_environment(tmp_path: Path) -> None:
    env = gpu_env(tmp_path)
    e = probe(tmp_path, env)
    own = str(env.site / "nvidia/cu13/lib/libcublasLt.so.13")
    other_major = LoaderLibraries(
        shadowing={"libcublasLt.so.12": ("/usr/local/cuda-12.8/lib64/libcublasLt.so.12",)}
    )
    inside = LoaderLibraries(shadowing={"libcublasLt.so.13": (own,)})
    for libs in (other_major, inside):
        ids = {f.id for f in diagnose(machine(H100X2, DRIVER, libraries=libs), e)}
        assert "ld-library-path-shadows-wheel-cuda" not in ids


def test_hiding_gpus_on_purpose_on_a_cpu_machine_is_not_a_finding(tmp_path: Path) -> None:
    e = probe(tmp_path, cpu_env(tmp_path))
    for value in ("", "-1"):
        assert diagnose(machine(env={"CUDA_VISIBLE_DEVICES": value}), e) == []


def test_mig_selection_still_expects_cuda(tmp_path: Path) -> None:
    from torchenv.report.outlook import outlook

    m = machine(H100X2, DRIVER, env={"CUDA_VISIBLE_DEVICES": "MIG-ce861fb0-a248-58ce"})
    facts = Facts(m, probe(tmp_path, gpu_env(tmp_path)), load_knowledge())
    assert outlook(facts, tuple(evaluate(facts))).cuda_expected is True


def test_wsl_container_sees_gpus_through_dxg(tmp_path: Path) -> None:
    e = probe(tmp_path, gpu_env(tmp_path))
    assert diagnose(machine(H100X2, DRIVER, container="docker", nodes=["/dev/dxg"]), e) == []
    # NVML sees the GPUs although no /dev/nvidia* node exists: no finding either
    assert diagnose(machine(H100X2, DRIVER, container="docker", nodes=[]), e) == []


def test_forward_compat_libcuda_is_not_a_mismatch(tmp_path: Path) -> None:
    libs = LoaderLibraries(libcuda=("/usr/local/cuda-13.2/compat/libcuda.so.595.71.05",))
    m = machine(H100X2, "580.159.03", libraries=libs)
    assert diagnose(m, probe(tmp_path, gpu_env(tmp_path))) == []


def test_compat_library_older_than_the_module_names_where_it_comes_from(tmp_path: Path) -> None:
    e = probe(tmp_path, gpu_env(tmp_path))
    # LD_LIBRARY_PATH names the symlink of nvidia/cuda images (/usr/local/cuda ->
    # cuda-12.8): the entry as written is what the user has to remove
    on_path = LoaderLibraries(
        libcuda=("/usr/local/cuda-12.8/compat/libcuda.so.570.124.06",),
        libcuda_from="/usr/local/cuda/compat/",
        ld_library_path=("/usr/local/cuda/compat/",),
    )
    hit = next(
        f
        for f in diagnose(machine(H100X2, DRIVER, libraries=on_path), e)
        if f.id == "cuda-compat-older-than-driver"
    )
    assert hit.severity is Severity.ERROR and "803" in hit.title
    assert "/usr/local/cuda/compat/ is on LD_LIBRARY_PATH" in hit.evidence
    assert any("remove /usr/local/cuda/compat/ from LD_LIBRARY_PATH" in fix for fix in hit.fix)
    cached = LoaderLibraries(libcuda=on_path.libcuda, libcuda_from="/etc/ld.so.cache")
    hit = next(
        f
        for f in diagnose(machine(H100X2, DRIVER, libraries=cached), e)
        if f.id == "cuda-compat-older-than-driver"
    )
    assert any("ldconfig" in fix for fix in hit.fix)
    # not the plain library/module mismatch as well: one finding for one cause
    assert not [
        f
        for f in diagnose(machine(H100X2, DRIVER, libraries=cached), e)
        if f.id == "driver-library-mismatch"
    ]


def test_compat_library_of_the_module_s_own_version_is_quiet(tmp_path: Path) -> None:
    libs = LoaderLibraries(libcuda=(f"/usr/local/cuda-13.0/compat/libcuda.so.{DRIVER}",))
    gpus = (h100(0, "NVIDIA GeForce RTX 4090", "8.9"),)
    assert diagnose(machine(gpus, DRIVER, libraries=libs), probe(tmp_path, gpu_env(tmp_path))) == []


def test_conda_forge_cuda_compat_counts_as_forward_compatibility(tmp_path: Path) -> None:
    libs = LoaderLibraries(libcuda=("/opt/env/cuda-compat/libcuda.so.570.124.06",))
    findings = diagnose(machine(H100X2, DRIVER, libraries=libs), probe(tmp_path, gpu_env(tmp_path)))
    assert [f.id for f in findings] == ["cuda-compat-older-than-driver"]


def test_forward_compat_on_workstation_cards_is_a_warning(tmp_path: Path) -> None:
    libs = LoaderLibraries(libcuda=("/usr/local/cuda-13.0/compat/libcuda.so.580.65.06",))
    e = probe(tmp_path, gpu_env(tmp_path))
    gpus = (h100(0, "NVIDIA RTX A6000", "8.6"),)
    hit = next(
        f
        for f in diagnose(machine(gpus, "550.144.03", libraries=libs), e)
        if f.id == "cuda-compat-unsupported-gpu"
    )
    assert hit.severity is Severity.WARNING and "NGC Server Ready" in hit.title
    # the warning is the one stance: the driver is taken as forwarded, no "too old" error
    assert [f.id for f in diagnose(machine(gpus, "550.144.03", libraries=libs), e)] == [
        "cuda-compat-unsupported-gpu"
    ]
    # a workstation card without RTX or Quadro in its name, from gpus.json's segments
    t1000 = (h100(0, "NVIDIA T1000 8GB", "7.5"),)
    found = diagnose(machine(t1000, "550.144.03", libraries=libs), e)
    assert [(f.id, f.severity) for f in found] == [
        ("cuda-compat-unsupported-gpu", Severity.WARNING)
    ]
    # data-center GPUs are what forward compatibility is for: CUDA 13.0 runs on R550 there,
    # so neither a compat finding nor "driver too old" for the cu130 build
    assert diagnose(machine(H100X2, "550.144.03", libraries=libs), e) == []
    without = diagnose(machine(H100X2, "550.144.03"), e)
    assert "driver-too-old-for-build" in [f.id for f in without]


def test_forward_compat_on_consumer_or_unknown_gpus_keeps_the_kernel_driver(
    tmp_path: Path,
) -> None:
    libs = LoaderLibraries(libcuda=("/usr/local/cuda-13.0/compat/libcuda.so.580.65.06",))
    e = probe(tmp_path, gpu_env(tmp_path))
    geforce = (h100(0, "NVIDIA GeForce RTX 4090", "8.9"),)
    found = {f.id: f for f in diagnose(machine(geforce, "550.144.03", libraries=libs), e)}
    assert found["cuda-compat-unsupported-gpu"].severity is Severity.ERROR
    assert "driver-too-old-for-build" in found  # 804: the cu130 build does not run
    # a name torchenv does not know: no 804 claim, and no forwarding taken on trust
    unknown = (h100(0, "NVIDIA Mystery Accelerator", "9.0"),)
    ids = [f.id for f in diagnose(machine(unknown, "550.144.03", libraries=libs), e)]
    assert "cuda-compat-unsupported-gpu" not in ids and "driver-too-old-for-build" in ids


def test_a_forwarded_driver_is_named_as_such(tmp_path: Path) -> None:
    # CUDA 12.8's compat library forwards R535 on an H100, but the build is cu130
    libs = LoaderLibraries(libcuda=("/usr/local/cuda-12.8/compat/libcuda.so.570.124.06",))
    findings = diagnose(
        machine(H100X2, "535.247.01", libraries=libs), probe(tmp_path, gpu_env(tmp_path))
    )
    hit = next(f for f in findings if f.id == "driver-too-old-for-build")
    assert "driver 570.124.06 is too old" in hit.title
    assert (
        "cuda-compat libcuda 570.124.06 (forward compatibility over kernel module 535.247.01)"
        in hit.evidence
    )
    assert "535.247.01" not in " ".join(hit.fix)  # the advice reasons from the same driver


def test_compat_libraries_that_carry_no_driver_version_are_left_alone(tmp_path: Path) -> None:
    e = probe(tmp_path, gpu_env(tmp_path))
    # Jetson's compat library is libcuda.so.1.1 and its driver works another way
    jetson_libs = LoaderLibraries(libcuda=("/usr/local/cuda-12.6/compat/libcuda.so.1.1",))
    orin = (h100(0, "Orin", "8.7"),)
    m = machine(orin, "540.4.0", libraries=jetson_libs)
    assert not [f for f in diagnose(m, e) if f.id.startswith("cuda-compat")]
    jetson = replace(m, host=replace(m.host, jetson=True))
    versioned = LoaderLibraries(libcuda=("/usr/local/cuda-12.6/compat/libcuda.so.540.2.0",))
    assert not [
        f
        for f in diagnose(replace(jetson, libraries=versioned), e)
        if f.id.startswith("cuda-compat")
    ]
    # a kernel module version that cannot be compared gives no compat claim either way
    libs = LoaderLibraries(libcuda=("/usr/local/cuda-13.0/compat/libcuda.so.580.65.06",))
    weird = machine(H100X2, "weird", libraries=libs)
    assert not [f for f in diagnose(weird, e) if f.id.startswith("cuda-compat")]


def test_jupyter_servers_are_judged_by_what_they_answer(tmp_path: Path) -> None:
    e = probe(tmp_path, cpu_env(tmp_path))

    def found(server: JupyterServer) -> list[Finding]:
        return diagnose(machine(jupyter_servers=(server,)), e)

    exposed = found(jupyter())
    assert [(f.id, f.severity) for f in exposed] == [
        ("jupyter-server-without-auth", Severity.ERROR)
    ]
    assert "0.0.0.0:8888" in exposed[0].title and "anyone who can reach" in exposed[0].title
    assert any("/api/status without credentials: 200" in x for x in exposed[0].evidence)
    # loopback only: a warning for a shared machine; IPv4-mapped loopback counts as loopback
    for where in (("127.0.0.1",), ("::1", "::ffff:127.0.0.1")):
        local = found(jupyter(listening=where))
        assert [(f.id, f.severity) for f in local] == [
            ("jupyter-server-without-auth", Severity.WARNING)
        ]
    # no socket of its own seen (a leftover file, another node): the file alone is no claim
    assert found(jupyter(listening=(), hostname="192.168.1.5")) == []
    # an IPv6 address is written as a URL would: [::]:8888
    assert "[::]:8888" in found(jupyter(listening=("::",)))[0].title
    # the classic notebook has its own stop command
    classic = found(jupyter(runtime_file="/r/nbserver-77.json"))[0]
    assert "jupyter notebook stop 8888" in classic.fix[0]
    # a password leaves the token empty; the server asks for it: nothing to report
    assert found(jupyter(answers_without_auth=False)) == []
    assert found(jupyter(answers_without_auth=None)) == []  # could not ask: no claim
    assert found(jupyter(running=False)) == []  # a file left by a server that is gone


def test_a_gpu_without_driver_gets_the_driver_flavour_it_can_use(tmp_path: Path) -> None:
    e = probe(tmp_path, gpu_env(tmp_path))

    def fixes(device: str) -> str:
        m = machine((), None, pci=["0000:01:00.0"], pci_nvidia_device_ids=(device,))
        hit = next(f for f in diagnose(m, e) if f.id == "no-nvidia-driver")
        return " | ".join(hit.fix)

    assert "nvidia-driver-580-open" in fixes("2330")  # H100: Turing or newer
    assert "nvidia-driver-580-open" in fixes("")  # id unreadable: as before
    pascal = fixes("1b80")  # GTX 1080
    assert "`sudo apt install nvidia-driver-580`" in pascal
    assert "not an -open driver" in pascal and "0000:01:00.0" in pascal
    # the installed torch is a cu130 build: no code for Pascal, whatever the driver
    assert "then install a CUDA 12 build of torch" in pascal
    kepler = fixes("1004")  # GTX 780: no current driver at all
    assert "older than Maxwell" in kepler and "R470" in kepler
    assert "nvidia-driver-580" not in kepler
    # a Kepler card beside a Pascal one: the install for the Pascal card, and the Kepler note
    m = machine(
        (), None, pci=["0000:01:00.0", "0000:02:00.0"], pci_nvidia_device_ids=("1b80", "1004")
    )
    mixed = " | ".join(next(f for f in diagnose(m, e) if f.id == "no-nvidia-driver").fix)
    assert "`sudo apt install nvidia-driver-580`" in mixed
    assert "the GPU at 0000:02:00.0 is older than Maxwell" in mixed
    assert "the GPU at 0000:01:00.0 is older (R580" in mixed


def test_a_new_and_an_old_gpu_without_driver(tmp_path: Path) -> None:
    e = probe(tmp_path, gpu_env(tmp_path))
    pci = ["0000:01:00.0", "0000:02:00.0"]
    # an RTX 2080 beside a GTX 1080: the proprietary driver of R580 drives both; without a
    # driver the ids alone cannot tell a Blackwell card, so no claim that none would
    m = machine((), None, pci=pci, pci_nvidia_device_ids=("1e82", "1b80"))
    hit = next(f for f in diagnose(m, e) if f.id == "no-nvidia-driver")
    fixes = " | ".join(hit.fix)
    assert "`sudo apt install nvidia-driver-580`" in fixes and "0000:02:00.0" in fixes
    assert "no single driver flavour" not in fixes


def test_open_module_on_turing_and_newer_is_quiet(tmp_path: Path) -> None:
    driver = Driver("580.95.05", "13.0", "580.95.05", "open", "nvml")
    e = probe(tmp_path, gpu_env(tmp_path))
    m = machine(H100X2, pci_nvidia_device_ids=("2330", "2330"))
    assert diagnose(replace(m, driver=driver), e) == []
    flavour = replace(driver, kernel_module_flavor="proprietary")
    old = replace(machine(H100X2, pci_nvidia_device_ids=("2330", "1db4")), driver=flavour)
    assert "open-kernel-module-on-old-gpu" not in [f.id for f in diagnose(old, e)]


def test_the_open_module_fix_follows_the_branch_and_the_gpus(tmp_path: Path) -> None:
    e = probe(tmp_path, gpu_env(tmp_path))

    def fixes(module: str, gpus: tuple[Gpu, ...], ids: tuple[str, ...]) -> str:
        pci = [f"0000:0{i + 1}:00.0" for i in range(len(ids))]
        m = machine(gpus, pci=pci, pci_nvidia_device_ids=ids)
        m = replace(m, driver=Driver(module, "13.0", module, "open", "nvml"))
        hit = next(f for f in diagnose(m, e) if f.id == "open-kernel-module-on-old-gpu")
        return " | ".join(hit.fix)

    ada = (h100(0, "NVIDIA GeForce RTX 4090", "8.9"),)
    assert "nvidia-driver-570` (it replaces nvidia-driver-570-open)" in fixes(
        "570.172.08", ada, ("2684", "1b80")
    )
    # R590 dropped Maxwell to Volta: back to the 580 branch, not "the same branch"
    newer = fixes("590.44.01", ada, ("2684", "1b80"))
    assert "branch 580, the last for Maxwell, Pascal and Volta" in newer
    # a Blackwell card needs the open module: no flavour drives both
    blackwell = (h100(0, "NVIDIA GeForce RTX 5090", "12.0"),)
    both = fixes("580.95.05", blackwell, ("2b85", "1b80"))
    assert "GPU0 NVIDIA GeForce RTX 5090 need the open module" in both
    # a Kepler card: no current driver flavour at all
    assert "older than Maxwell" in fixes("580.95.05", ada, ("2684", "1004"))


def test_ptx_only_with_a_driver_below_the_build_is_an_error(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.15.0+cu132", cuda="13.2", arch="sm_80 sm_86 compute_86", requires=[])
    findings = diagnose(machine(H100X2, DRIVER), probe(tmp_path, env))  # 580 < 595.45.04
    hit = next(f for f in findings if f.id == "gpu-arch-ptx-only")
    assert hit.severity is Severity.ERROR and "too old to compile this PTX" in hit.title


def test_a_release_with_only_its_pypi_variant_known(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.15.0+cpu", cuda=None, arch=None, requires=[])
    findings = diagnose(machine(H100X2, "595.71.05"), probe(tmp_path, env))
    assert "torch==2.15.0+cu132" in fix_of(findings, "cpu-build-on-gpu-host")


@case("jetson-needs-jetpack-build")
def _(tmp_path: Path) -> list[Finding]:
    from torchenv.models import Host

    env = make_venv(tmp_path)
    add_torch(env.site, "2.14.1+cu130", requires=[])
    host = Host(os="linux", arch="aarch64", jetson=True, shm_bytes=8 << 30)
    orin = Gpu(0, "Orin", None, "8.7")
    return diagnose(machine([orin], "540.4.0", host=host), probe(tmp_path, env))


def test_a_thor_build_with_sm_110_is_not_sent_to_jetpack(tmp_path: Path) -> None:
    """The aarch64 cu130 wheels carry sm_110: Jetson Thor's recommended build (catalog C3)."""
    from torchenv.models import Host

    env = make_venv(tmp_path)
    arch = "sm_80 sm_90 sm_100 sm_110 sm_120 compute_120"
    add_torch(env.site, "2.14.1+cu130", arch=arch, requires=[])
    host = Host(os="linux", arch="aarch64", jetson=True, shm_bytes=8 << 30)
    thor = Gpu(0, "Thor", None, "11.0")
    ids = [f.id for f in diagnose(machine([thor], "580.65.06", host=host), probe(tmp_path, env))]
    assert "jetson-needs-jetpack-build" not in ids and "gpu-arch-not-in-build" not in ids
    orin = Gpu(0, "Orin", None, "8.7")
    ids = [f.id for f in diagnose(machine([orin], "580.65.06", host=host), probe(tmp_path, env))]
    assert "jetson-needs-jetpack-build" in ids
    # no GPU list (JetPack 5 has neither NVML nor nvidia-smi): the board still gets the warning
    found = diagnose(machine([], "540.4.0", host=host), probe(tmp_path, env))
    jetson = next(f for f in found if f.id == "jetson-needs-jetpack-build")
    assert "Orin (8.7) and Xavier (7.2)" in jetson.title


def test_generic_environment_names_do_not_claim_kernels(tmp_path: Path) -> None:
    env = make_venv(tmp_path, "venv")
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None)
    write_kernel(tmp_path / "home/.local/share/jupyter/kernels", "myvenvproj", "/usr/bin/python3")
    write_kernel(tmp_path / "home/.local/share/jupyter/kernels", "venv", "/usr/bin/python3")
    assert diagnose(machine(), probe(tmp_path, env)) == []
    named = make_venv(tmp_path, "vision")
    add_torch(named.site, "2.13.0+cpu", cuda=None, arch=None)
    write_kernel(
        tmp_path / "home/.local/share/jupyter/kernels", "k", "/usr/bin/python3", "Python (vision)"
    )
    ids = [f.id for f in diagnose(machine(), probe(tmp_path, named))]
    assert ids == ["jupyter-kernel-foreign-interpreter"]
