"""Facts about the machine: host, NVIDIA driver and GPUs, CUDA toolkits, loader libraries.

Every value that a probe could not read is ``None`` beside a ``ProbeNote`` saying which source was
tried and why it failed, so the diagnosis can tell "no driver" from "nvidia-smi hung".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProbeNote:
    """Why a source could not give a value (e.g. source="nvidia-smi", message="timed out")."""

    source: str
    message: str


@dataclass(frozen=True)
class Host:
    os: str  # platform.system().lower(): "linux", "darwin", "windows"
    arch: str  # platform.machine(): "x86_64", "aarch64"
    os_release: str | None = None  # PRETTY_NAME from /etc/os-release
    kernel: str | None = None
    libc: str | None = None  # "glibc 2.36", "musl 1.2"
    cpu_count: int | None = None  # CPUs this process may run on (affinity), not installed cores
    container: str | None = None  # "docker", "podman", "kubernetes", "containerd", "lxc" or None
    wsl: bool = False
    jetson: bool = False  # /etc/nv_tegra_release present (Tegra iGPU, see failure catalog C3)
    shm_bytes: int | None = None  # total size of /dev/shm
    shm_writable: bool | None = None
    euid: int | None = None
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class Gpu:
    index: int  # the driver's (PCI bus) order, as nvidia-smi numbers them
    name: str
    uuid: str | None = None
    compute_capability: str | None = None  # "9.0"
    memory_total_mib: int | None = None
    pci_bus_id: str | None = None


@dataclass(frozen=True)
class Driver:
    """The NVIDIA driver as seen from user space and from the kernel."""

    version: str | None = None  # "580.65.06", from the first source that answered
    cuda_driver_api: str | None = None  # newest CUDA the driver supports, "13.0"
    kernel_module: str | None = None  # /sys/module/nvidia/version or /proc/driver/nvidia/version
    kernel_module_flavor: str | None = None  # "open" or "proprietary"
    source: str | None = None  # "nvml", "nvidia-smi", "/proc/driver/nvidia/version", ...
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class VisibleDevices:
    """How CUDA_VISIBLE_DEVICES (and friends) map onto the GPUs, parsed as torch parses it."""

    cuda_visible_devices: str | None = None  # raw value; None = unset
    nvidia_visible_devices: str | None = None
    cuda_device_order: str | None = None
    entries: tuple[str, ...] = ()  # the ordinals/UUIDs torch would keep
    visible_indices: tuple[int, ...] = ()  # physical GPU index per visible device
    unmatched: tuple[str, ...] = ()  # entries naming no GPU on this machine
    problem: str | None = None  # why the list hides every GPU ("empty", "-1", "duplicate 0")


@dataclass(frozen=True)
class Toolkit:
    """A CUDA toolkit found on the machine (only needed to build extensions)."""

    root: str | None
    found_by: str  # "CUDA_HOME", "CUDA_PATH", "nvcc on PATH", "/usr/local/cuda"
    nvcc: str | None = None
    version: str | None = None  # "13.0.88" (version.json) or "13.0" (nvcc --version)
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class LoaderLibraries:
    """CUDA-related shared libraries the dynamic loader can find (ld.so.cache + LD_LIBRARY_PATH)."""

    libcuda: tuple[str, ...] = ()
    # where the loader finds libcuda[0]: the LD_LIBRARY_PATH entry as written, or
    # "/etc/ld.so.cache"
    libcuda_from: str | None = None
    libnvidia_ml: tuple[str, ...] = ()
    libcudart: tuple[str, ...] = ()
    ld_library_path: tuple[str, ...] = ()
    # CUDA math/NCCL libraries found in LD_LIBRARY_PATH directories: name -> paths
    shadowing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class Compilers:
    cc: str | None = None
    cxx: str | None = None
    cxx_version: str | None = None
    notes: tuple[ProbeNote, ...] = ()


@dataclass(frozen=True)
class JupyterServer:
    """A Jupyter server of this user, from the file it keeps in Jupyter's runtime directory
    (``jpserver-PID.json``; ``nbserver-PID.json`` for the classic notebook). The token itself is
    never kept: only whether there is one."""

    runtime_file: str
    hostname: str | None = None  # the address it listens on, as the server wrote it
    port: int | None = None
    has_token: bool | None = None
    has_password: bool | None = None
    secure: bool | None = None  # TLS
    pid: int | None = None
    running: bool | None = None  # its process exists (None: no pid in the file)
    # where its own process listens on its port ("0.0.0.0", "::", "127.0.0.1"; the sockets of
    # /proc/net/tcp and tcp6 that /proc/PID/fd holds); empty when it holds none we can see
    listening: tuple[str, ...] = ()
    base_url: str = "/"
    # asked for /api/status without credentials: True (it answered), False (it wants a
    # login), None (not asked: it has a token, or it did not answer)
    answers_without_auth: bool | None = None
    error: str | None = None  # why the file could not be read


@dataclass(frozen=True)
class Machine:
    host: Host
    driver: Driver
    gpus: tuple[Gpu, ...] = ()
    pci_nvidia_devices: tuple[str, ...] = ()  # PCI addresses of NVIDIA display/3D controllers
    # the PCI device id of each, in the same order ("1b80"; "" where unreadable)
    pci_nvidia_device_ids: tuple[str, ...] = ()
    device_nodes: tuple[str, ...] = ()  # /dev/nvidia* present
    visible_devices: VisibleDevices = field(default_factory=VisibleDevices)
    toolkits: tuple[Toolkit, ...] = ()
    libraries: LoaderLibraries = field(default_factory=LoaderLibraries)
    compilers: Compilers = field(default_factory=Compilers)
    jupyter_servers: tuple[JupyterServer, ...] = ()

    @property
    def has_nvidia_hardware(self) -> bool:
        """An NVIDIA GPU is present, even when no driver is loaded to report it."""
        return bool(self.gpus or self.pci_nvidia_devices)
