"""Builders for fake environments and machines on disk, and a recording fake runner.

Fake environments are real directory trees: site-packages with dist-info (METADATA, INSTALLER,
RECORD with sha256 of the files written), conda-meta JSON records, torch/version.py and a stand-in
libtorch_python.so that carries the arch-flags string the way the real library does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchenv.probe.cache import Cache
from torchenv.probe.context import ProbeContext
from torchenv.probe.nvml import NvmlReading
from torchenv.probe.runner import RunResult

FIXTURES = Path(__file__).parent / "fixtures"
PY = "3.11"


def fixture_text(*parts: str) -> str:
    return FIXTURES.joinpath(*parts).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- environments
@dataclass
class FakeEnv:
    prefix: Path
    python_version: str = "3.11.7"

    @property
    def site(self) -> Path:
        return self.prefix / "lib" / f"python{PY}" / "site-packages"

    @property
    def python(self) -> str:
        return str(self.prefix / "bin" / "python")

    def interp_info(self, **overrides: Any) -> dict[str, Any]:
        """What scripts/interp_info.py would print inside this environment."""
        info: dict[str, Any] = {
            "executable": self.python,
            "version": self.python_version,
            "implementation": "cpython",
            "prefix": str(self.prefix),
            "base_prefix": "/usr",
            "platform": "linux-x86_64",
            "include_dir": "/usr/include/python3.11",
            "has_python_h": True,
            "gil_disabled": False,
            "user_site": None,
            "user_site_enabled": False,
            "machine": "x86_64",
            "sys_path": ["/usr/lib/python3.11", str(self.site)],
        }
        info.update(overrides)
        return info


def make_venv(root: Path, name: str = "env", python_version: str = "3.11.7") -> FakeEnv:
    env = FakeEnv(root / name, python_version)
    env.site.mkdir(parents=True)
    (env.prefix / "bin").mkdir()
    (env.prefix / "bin" / "python").write_text("#!/bin/false\n")
    os.chmod(env.prefix / "bin" / "python", 0o755)
    (env.prefix / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {python_version}\n")
    return env


def _record_line(rel: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def add_dist(
    site: Path,
    name: str,
    version: str,
    *,
    installer: str | None = "pip",
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    files: Mapping[str, bytes | str] | None = None,
    metadata: str | None = None,
    requested: bool = True,
) -> Path:
    """A dist-info directory with the given metadata and files (listed in RECORD)."""
    dist_dir = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_dir.mkdir(parents=True)
    if metadata is None:
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        if requires_python:
            lines.append(f"Requires-Python: {requires_python}")
        lines += [f"Requires-Dist: {r}" for r in requires]
        metadata = "\n".join(lines) + "\n\nA description.\n"
    (dist_dir / "METADATA").write_text(metadata)
    if installer is not None:
        (dist_dir / "INSTALLER").write_text(installer + "\n")
    if requested:
        (dist_dir / "REQUESTED").write_text("")
    record = []
    for rel, content in (files or {}).items():
        data = content.encode() if isinstance(content, str) else content
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        record.append(_record_line(rel, data))
    record += [f"{dist_dir.name}/METADATA,,", f"{dist_dir.name}/RECORD,,"]
    (dist_dir / "RECORD").write_text("\n".join(record) + "\n")
    return dist_dir


ARCH_CU130 = "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"  # read from the 2.14.1+cu130 wheel
ARCH_CU126 = "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"
ARCH_CU124 = "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"


def libtorch_python_bytes(arch: str | None, numpy: str | None = "numpy2") -> bytes:
    """A stand-in for libtorch_python.so: binary noise around the strings torchenv looks for."""
    parts = [b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4]
    if arch:
        parts.append(b"\0" + arch.encode() + b"\0")
    if numpy == "numpy2":
        parts.append(b"\0numpy._core._multiarray_umath\0numpy.core._multiarray_umath\0")
    elif numpy == "numpy1":
        parts.append(b"\0numpy.core._multiarray_umath\0")
    parts.append(bytes(range(255, -1, -1)) * 4)
    return b"".join(parts)


def add_torch(
    site: Path,
    version: str = "2.14.1+cu130",
    *,
    cuda: str | None = "13.0",
    arch: str | None = ARCH_CU130,
    numpy: str | None = "numpy2",
    installer: str = "pip",
    requires: Sequence[str] | None = None,
    version_py: str | None = None,
    requires_python: str | None = ">=3.10",
    dist_version: str | None = None,
) -> Path:
    """torch with version.py (the 2.2+ annotated format unless version_py is given)."""
    if version_py is None:
        version_py = (
            "from typing import Optional\n\n"
            f"__version__ = {version!r}\ndebug = False\ncuda: Optional[str] = {cuda!r}\n"
            "git_version = '0123456789abcdef'\nhip: Optional[str] = None\n"
        )
    files: dict[str, bytes | str] = {
        "torch/__init__.py": "",
        "torch/version.py": version_py,
        "torch/lib/libtorch_python.so": libtorch_python_bytes(arch, numpy),
    }
    if cuda:
        files["torch/lib/libtorch_cuda.so"] = b"\x7fELF stand-in"
    if requires is None:
        requires = torch_requires_cu130() if cuda and cuda.startswith("13") else ["filelock"]
    return add_dist(
        site,
        "torch",
        dist_version or version.split("+", maxsplit=1)[0],
        installer=installer,
        requires=requires,
        requires_python=requires_python,
        files=files,
    )


def torch_requires_cu130() -> list[str]:
    """Requires-Dist of the real torch 2.14.1 wheel (fixtures/metadata)."""
    text = fixture_text("metadata", "torch-2.14.1.METADATA")
    return [
        line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Requires-Dist")
    ]


# The CUDA packages torch 2.14.1 pins (directly and through cuda-toolkit[...]==13.0.3).
CU130_LIBS = {
    "nvidia-cudnn-cu13": "9.24.0.43",
    "nvidia-cusparselt-cu13": "0.8.1",
    "nvidia-nccl-cu13": "2.30.7",
    "nvidia-nvshmem-cu13": "3.4.5",
    "nvidia-cublas": "13.1.1.3",
    "nvidia-cuda-runtime": "13.0.96",
    "nvidia-cufft": "12.0.0.61",
    "nvidia-cufile": "1.15.1.6",
    "nvidia-cuda-cupti": "13.0.85",
    "nvidia-curand": "10.4.0.35",
    "nvidia-cusolver": "12.0.4.66",
    "nvidia-cusparse": "12.6.3.3",
    "nvidia-nvjitlink": "13.0.88",
    "nvidia-cuda-nvrtc": "13.0.88",
    "nvidia-nvtx": "13.0.85",
}


def add_cu130_libs(site: Path, overrides: Mapping[str, str | None] | None = None) -> None:
    """cuda-toolkit 13.0.3 (real METADATA) and the nvidia-* packages torch 2.14.1 pins.
    ``overrides`` changes a version, or leaves a package out with None."""
    add_dist(
        site,
        "cuda-toolkit",
        "13.0.3.0",
        metadata=fixture_text("metadata", "cuda-toolkit-13.0.3.0.METADATA"),
    )
    libs = {**CU130_LIBS, **(overrides or {})}
    for name, version in libs.items():
        if version is None:
            continue
        files = {}
        if name.startswith("nvidia-nccl"):
            files["nvidia/nccl/lib/libnccl.so.2"] = f"nccl {version} cu13".encode()
        if name == "nvidia-cublas":  # CUDA 13 toolkit wheels share nvidia/cu13/lib
            files["nvidia/cu13/lib/libcublas.so.13"] = b"cublas"
            files["nvidia/cu13/lib/libcublasLt.so.13"] = b"cublasLt"
        add_dist(site, name, version, files=files, requested=False)


def add_torchvision(
    site: Path,
    version: str = "0.29.1+cu130",
    requires_torch: str = ">=2.14.0",
    installer: str = "pip",
) -> Path:
    base = version.split("+", maxsplit=1)[0]
    return add_dist(
        site,
        "torchvision",
        base,
        installer=installer,
        requires=["numpy", f"torch ({requires_torch})"],
        files={
            "torchvision/__init__.py": "",
            "torchvision/version.py": f"__version__ = {version!r}\ngit_version = 'abc'\n",
        },
    )


def conda_record(prefix: Path, name: str, version: str, build: str, channel: str) -> Path:
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    path = meta / f"{name}-{version}-{build}.json"
    path.write_text(
        json.dumps(
            {
                "name": name,
                "version": version,
                "build": build,
                "channel": f"https://conda.anaconda.org/{channel}/linux-64",
                "files": [f"lib/{name}.so"],
            }
        )
    )
    return path


def write_kernel(directory: Path, name: str, argv0: str, display: str | None = None) -> Path:
    spec = directory / name / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        json.dumps(
            {
                "argv": [argv0, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": display or name,
                "language": "python",
            }
        )
    )
    return spec


# --------------------------------------------------------------------------- machines
def write_ld_cache(path: Path, entries: Iterable[tuple[str, str]]) -> None:
    """A glibc-ld.so.cache1.1 file (the format probe.ldcache parses)."""
    entries = list(entries)
    strings = bytearray()
    offsets = []
    header_size = 48
    entries_size = 24 * len(entries)
    for soname, target in entries:
        key = header_size + entries_size + len(strings)
        strings += soname.encode() + b"\0"
        value = header_size + entries_size + len(strings)
        strings += target.encode() + b"\0"
        offsets.append((key, value))
    header = struct.pack("<20sII4xI12x", b"glibc-ld.so.cache1.1", len(entries), len(strings), 0)
    body = b"".join(struct.pack("<iIIIQ", 0x0303, k, v, 0, 0) for k, v in offsets)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body + bytes(strings))


@dataclass
class FakeHost:
    """A fake filesystem root for the host probes (/proc, /sys, /dev, /etc)."""

    root: Path

    def write(self, absolute: str, text: str | bytes) -> Path:
        path = self.root / absolute.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def nvidia_driver(self, version: str = "580.159.03") -> None:
        self.write("/sys/module/nvidia/version", version + "\n")
        self.write(
            "/proc/driver/nvidia/version",
            f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {version}  Release Build  "
            "(dvs-builder@U16-A24-9-2)  Thu Oct 10 12:15:00 UTC 2024\n",
        )

    def pci_gpu(self, address: str = "0000:19:00.0", device: str = "0x2330") -> None:
        self.write(f"/sys/bus/pci/devices/{address}/vendor", "0x10de\n")
        self.write(f"/sys/bus/pci/devices/{address}/class", "0x030200\n")
        self.write(f"/sys/bus/pci/devices/{address}/device", f"{device}\n")  # 0x2330: H100 SXM

    def device_nodes(self, *names: str) -> None:
        for name in names:
            self.write(f"/dev/{name}", "")


# --------------------------------------------------------------------------- fake runner
Handler = Callable[[list[str]], RunResult]


@dataclass
class FakeRunner:
    """Answers subprocess calls from registered handlers and records every call."""

    handlers: list[tuple[Callable[[list[str]], bool], Handler]] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)

    def on(self, match: Callable[[list[str]], bool], handler: Handler) -> None:
        self.handlers.append((match, handler))

    def on_program(
        self,
        basename: str,
        stdout: str = "",
        returncode: int = 0,
        stderr: str = "",
        error: str | None = None,
    ) -> None:
        def handler(argv: list[str]) -> RunResult:
            return RunResult(
                tuple(argv), None if error else returncode, stdout, stderr, 0.01, error
            )

        self.on(lambda argv: os.path.basename(argv[0]) == basename, handler)

    def on_interpreter(self, env: FakeEnv, **overrides: Any) -> None:
        info = env.interp_info(**overrides)

        def handler(argv: list[str]) -> RunResult:
            cookie = argv[2]
            out = f"noise from a .pth hook\n{cookie}\n{json.dumps(info)}\n{cookie}\n"
            return RunResult(tuple(argv), 0, out, "", 0.02)

        self.on(lambda argv: argv[0] == env.python and argv[1].endswith("interp_info.py"), handler)

    def __call__(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> RunResult:
        args = list(argv)
        self.calls.append(args)
        for match, handler in self.handlers:
            if match(args):
                return handler(args)
        return RunResult(tuple(args), None, error="not found")


def probe_context(
    tmp_path: Path,
    runner: FakeRunner | None = None,
    env: Mapping[str, str] | None = None,
    nvml: NvmlReading | Exception | None = None,
    cache: bool = False,
) -> tuple[ProbeContext, FakeHost]:
    """A context whose host is a fake root under tmp_path, with PATH limited to tmp/bin."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    environ = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home"), **(env or {})}

    def read_nvml() -> NvmlReading:
        if isinstance(nvml, Exception):
            raise nvml
        assert nvml is not None
        return nvml

    if nvml is not None:  # the library NVML loads, where the loader would find it
        (root / "usr/lib").mkdir(parents=True, exist_ok=True)
        (root / "usr/lib/libnvidia-ml.so.1").write_bytes(b"")
    ctx = ProbeContext(
        root=root,
        env=environ,
        runner=runner or FakeRunner(),
        cache=Cache(tmp_path / "cache") if cache else Cache(None),
        nvml=read_nvml if nvml is not None else None,
    )
    return ctx, FakeHost(root)


def fake_tool(tmp_path: Path, name: str) -> str:
    """An executable file on the fake PATH (its output comes from the FakeRunner)."""
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(0o755)
    return str(path)


# --------------------------------------------------------------------------- machine models
def h100(index: int = 0, name: str = "NVIDIA H100 80GB HBM3", cc: str = "9.0") -> Any:
    from torchenv.models import Gpu

    return Gpu(
        index,
        name,
        f"GPU-{index:08d}-79c8-fedd-8899-07539c7f868a",
        cc,
        81559,
        f"00000000:{0x19 + index:02X}:00.0",
    )


def machine(
    gpus: Sequence[Any] = (),
    driver: str | None = None,
    *,
    container: str | None = None,
    shm_bytes: int | None = 16 << 30,
    env: Mapping[str, str] | None = None,
    pci: Sequence[str] | None = None,
    nodes: Sequence[str] | None = None,
    **parts: Any,
) -> Any:
    """A Machine model; PCI devices and /dev nodes follow the GPUs unless given."""
    from torchenv.models import Compilers, Driver, Host, Machine
    from torchenv.probe.visible import map_visible_devices

    host = Host(
        os="linux",
        arch="x86_64",
        libc="glibc 2.36",
        cpu_count=16,
        container=container,
        shm_bytes=shm_bytes,
        shm_writable=True,
    )
    drv = Driver(
        version=driver,
        kernel_module=driver,
        source="nvml" if driver else None,
        cuda_driver_api="13.0" if driver else None,
    )
    return Machine(
        host=parts.pop("host", host),
        driver=parts.pop("driver", drv),
        gpus=tuple(gpus),
        pci_nvidia_devices=tuple(pci if pci is not None else (g.pci_bus_id for g in gpus)),
        device_nodes=tuple(nodes if nodes is not None else (["/dev/nvidiactl"] if gpus else [])),
        visible_devices=map_visible_devices(env or {}, list(gpus)),
        compilers=parts.pop(
            "compilers", Compilers(cc="/usr/bin/cc", cxx="/usr/bin/c++", cxx_version="12.2.0")
        ),
        **parts,
    )


def require(condition: bool, reason: str) -> None:
    """Skip when a real component is absent locally; fail instead when CI sets
    TORCHENV_REQUIRE_INTEGRATION, so a missing tool cannot turn CI green."""
    import pytest

    if condition:
        return
    if os.environ.get("TORCHENV_REQUIRE_INTEGRATION"):
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


def index_channel(out: Path) -> None:
    """rattler's index of the local conda channel ``out``, in a child process: py-rattler 0.28
    at times dies at interpreter exit after an async call (SIGSEGV seen here, after the work
    is done), which must not take the test session with it; judged by what it wrote."""
    import subprocess
    import sys

    index = f"import asyncio, rattler.index; asyncio.run(rattler.index.index_fs({str(out)!r}))"
    for _ in range(3):
        subprocess.run([sys.executable, "-c", index], check=False, capture_output=True, timeout=300)
        if (out / "linux-64" / "repodata.json").is_file():
            return
    raise AssertionError(f"rattler did not index {out}")
