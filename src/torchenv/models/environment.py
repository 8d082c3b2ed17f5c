"""Facts about one Python environment, read from its files (never by importing torch here)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from torchenv.models.machine import ProbeNote


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: runs of -_. become one dash, lowercase."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Interpreter:
    """What the environment's interpreter says about itself (stdlib script run inside it)."""

    executable: str | None
    version: str | None = None  # "3.11.7"
    implementation: str | None = None  # "cpython"
    gil_disabled: bool = False
    platform: str | None = None  # sysconfig.get_platform(), "linux-x86_64"
    prefix: str | None = None
    base_prefix: str | None = None
    include_dir: str | None = None
    has_python_h: bool | None = None
    user_site: str | None = None
    user_site_enabled: bool | None = None
    sys_path: tuple[str, ...] = ()
    runs: bool = False  # the interpreter could be started
    source: str = "interpreter"  # "interpreter" or "files" (read from outside)
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class Distribution:
    """An installed Python distribution (one ``*.dist-info`` or ``*.egg-info``)."""

    name: str  # canonical (PEP 503) name
    version: str | None
    location: str  # the site directory holding the metadata
    metadata_dir: str
    installer: str | None = None  # INSTALLER: "pip", "uv", "conda", "uv-pixi"
    requested: bool | None = None  # REQUESTED present (None: no evidence either way)
    direct_url: str | None = None  # PEP 610 url
    editable: bool = False
    requires: tuple[str, ...] = ()  # Requires-Dist, raw
    requires_python: str | None = None
    error: str | None = None  # why the metadata could not be read completely


@dataclass(frozen=True)
class CondaRecord:
    name: str
    version: str
    build: str
    channel: str | None = None
    file: str = ""  # the conda-meta JSON it came from


@dataclass(frozen=True)
class ChannelFile:
    path: str
    channels: tuple[str, ...] = ()
    pytorch_pins: tuple[str, ...] = ()  # dependency lines naming pytorch / pytorch-cuda


@dataclass(frozen=True)
class Conda:
    records: tuple[CondaRecord, ...] = ()
    # channels named in environment.yml / .condarc files seen beside the environment
    channel_files: tuple[ChannelFile, ...] = ()
    notes: tuple[ProbeNote, ...] = ()  # conda-meta files that could not be read, and why


@dataclass(frozen=True)
class TorchBuild:
    """The installed torch build, read from files: version.py, libtorch_python.so, dist-info."""

    version: str  # "2.13.0+cpu" as torch/version.py says
    location: str  # the torch package directory
    base_version: str | None = None  # "2.13.0"
    local: str | None = None  # "cpu", "cu130"
    cuda: str | None = None  # torch.version.cuda, "13.0"; None for CPU/ROCm builds
    hip: str | None = None
    xpu: str | None = None
    git_version: str | None = None
    arch_list: tuple[str, ...] = ()  # torch.cuda.get_arch_list() equivalent
    arch_list_source: str | None = None  # the library the list was read from
    numpy_abi: str | None = None  # "numpy2" or "numpy1": headers torch was built against
    has_cuda_library: bool = False  # torch/lib/libtorch_cuda.so present
    installer: str | None = None
    copies: tuple[str, ...] = ()  # every torch package dir on sys.path (more than one is bad)
    # versions of the CUDA libraries installed beside it (nvidia-* distributions)
    cudnn: str | None = None
    nccl: str | None = None
    cuda_runtime: str | None = None
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class DomainLibrary:
    """torchvision or torchaudio: version, build tag and the torch it was built for."""

    name: str
    version: str
    local: str | None = None  # "cu130", "cpu" (from its version.py)
    requires_torch: str | None = None  # specifier from Requires-Dist, e.g. "==2.13.0"
    location: str | None = None
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class KernelSpec:
    """A Jupyter kernelspec that could run code for this environment."""

    name: str
    path: str  # kernel.json
    argv0: str | None = None
    display_name: str | None = None
    scope: str = "user"  # "env" (inside this prefix) or "user"/"system"
    in_environment: bool | None = None  # argv0 lives in this prefix (None: relative argv0)
    interpreter_exists: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class FileConflict:
    """One path listed in the RECORD of more than one distribution (last writer won)."""

    path: str
    owners: tuple[str, ...]


@dataclass(frozen=True)
class Environment:
    prefix: str
    kind: str  # "venv", "conda", "pixi", "system", "unknown"
    selected_by: str  # why this environment: "--prefix", "VIRTUAL_ENV", "python3 on PATH", ...
    interpreter: Interpreter
    site_dirs: tuple[str, ...] = ()
    distributions: tuple[Distribution, ...] = ()
    conda: Conda | None = None
    torch: TorchBuild | None = None
    torchvision: DomainLibrary | None = None
    torchaudio: DomainLibrary | None = None
    kernels: tuple[KernelSpec, ...] = ()
    file_conflicts: tuple[FileConflict, ...] = ()
    # compiled modules built against NumPy 1 (only looked for when NumPy 2 is installed)
    numpy1_modules: tuple[str, ...] = ()
    # sonames the nvidia-* wheels installed (site-packages/nvidia/*/lib), e.g. libcublasLt.so.13
    wheel_cuda_sonames: tuple[str, ...] = ()
    notes: tuple[ProbeNote, ...] = ()

    def distribution(self, name: str) -> Distribution | None:
        """The first distribution of that canonical name on sys.path (the one Python imports)."""
        for dist in self.distributions:
            if dist.name == name:
                return dist
        return None
