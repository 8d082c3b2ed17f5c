"""Rules on the machine around the environment: visible devices, containers, driver user space,
toolkits and compilers (failure catalog families A, B, F, G, H)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from torchenv.models import Severity
from torchenv.report.rules.base import Facts, Hit, rule

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
GIB = 1 << 30


@rule(
    "cuda-visible-devices-hides-all",
    WARNING,
    "CUDA_VISIBLE_DEVICES leaves a CUDA build no GPU",
    catalog="A4",
)
def visible_devices_hide_all(f: Facts) -> Iterator[Hit]:
    vis, torch = f.machine.visible_devices, f.environment.torch
    if vis.problem is None or not f.machine.has_nvidia_hardware or not (torch and torch.cuda):
        return
    # "" and -1 are also the usual way to force the CPU on purpose: a warning, not an error.
    yield Hit(
        f"CUDA_VISIBLE_DEVICES={vis.cuda_visible_devices!r} hides every GPU: {vis.problem}; "
        "torch will run on the CPU (fine if that is what you meant)",
        (f"CUDA_VISIBLE_DEVICES={vis.cuda_visible_devices!r} (parsed as torch parses it)",),
        (
            "unset CUDA_VISIBLE_DEVICES, or set it to GPU indices or UUIDs from `nvidia-smi -L` "
            "before Python starts (changing it after CUDA initialised has no effect)",
        ),
    )


@rule(
    "cuda-visible-devices-unknown-device",
    ERROR,
    "CUDA_VISIBLE_DEVICES names a GPU that does not exist",
    catalog="A4",
)
def visible_devices_unknown(f: Facts) -> Iterator[Hit]:
    vis, gpus = f.machine.visible_devices, f.machine.gpus
    if not vis.unmatched or not gpus:
        return
    shown = ", ".join(str(i) for i in vis.visible_indices) or "none"
    yield Hit(
        f"CUDA_VISIBLE_DEVICES names {', '.join(vis.unmatched)}, which is not a GPU here; CUDA "
        f"stops there, so the visible GPUs are: {shown}",
        (
            f"CUDA_VISIBLE_DEVICES={vis.cuda_visible_devices!r}",
            "GPUs: " + ", ".join(f"{g.index} ({g.uuid or 'no uuid'})" for g in gpus),
        ),
        ("list existing indices or UUIDs (`nvidia-smi -L`), e.g. export CUDA_VISIBLE_DEVICES=0",),
        severity=WARNING if vis.visible_indices else ERROR,
    )


@rule(
    "cuda-device-order-not-pci",
    WARNING,
    "Mixed GPU models without CUDA_DEVICE_ORDER=PCI_BUS_ID: CUDA and nvidia-smi number GPUs "
    "differently",
    catalog="A4",
)
def device_order(f: Facts) -> Iterator[Hit]:
    gpus = f.machine.gpus
    names = {g.name for g in gpus}
    if len(names) < 2 or f.machine.visible_devices.cuda_device_order == "PCI_BUS_ID":
        return
    yield Hit(
        "CUDA numbers these different GPU models fastest-first while nvidia-smi numbers them "
        "by PCI bus: index N in CUDA_VISIBLE_DEVICES or cuda:N may pick another GPU",
        ("GPUs: " + ", ".join(f"{g.index}: {g.name}" for g in gpus),),
        ("export CUDA_DEVICE_ORDER=PCI_BUS_ID",),
    )


@rule(
    "container-without-gpu-access",
    ERROR,
    "A container without NVIDIA devices runs a CUDA build",
    catalog="A5",
)
def container_without_gpu(f: Facts) -> Iterator[Hit]:
    m, torch = f.machine, f.environment.torch
    if not m.host.container or m.device_nodes or torch is None or not torch.cuda:
        return
    if m.gpus or m.host.wsl:  # WSL2 passes GPUs through /dev/dxg, which NVML then reports
        return
    evidence = [f"inside a {m.host.container} container", "no /dev/nvidia* device nodes"]
    nvd = m.visible_devices.nvidia_visible_devices
    if nvd is not None:
        evidence.append(f"NVIDIA_VISIBLE_DEVICES={nvd!r}")
    yield Hit(
        f"This {m.host.container} container has no GPU access, so torch {torch.version} "
        "(CUDA build) runs on the CPU only",
        tuple(evidence),
        (
            "start the container with GPUs: `docker run --gpus all ...` (compose: a device "
            "reservation with capabilities [gpu]; Kubernetes: resources.limits nvidia.com/gpu)",
            "on the host: install nvidia-container-toolkit and run "
            "`sudo nvidia-ctk runtime configure --runtime=docker`",
        ),
        severity=INFO if not m.has_nvidia_hardware and nvd in (None, "void", "none") else None,
    )


@rule(
    "container-shm-too-small",
    ERROR,
    "/dev/shm in a container is too small for DataLoader workers and NCCL",
    catalog="F1/H2",
)
def container_shm(f: Facts) -> Iterator[Hit]:
    host = f.machine.host
    if not host.container or host.shm_bytes is None:
        return
    if host.shm_writable is False:
        yield Hit(
            "/dev/shm is not writable: DataLoader workers and NCCL cannot share memory",
            ("/dev/shm is not writable by this user",),
            ("chmod 1777 /dev/shm, or mount a tmpfs there",),
            severity=ERROR,
        )
        return
    if host.shm_bytes >= GIB:
        return
    several = len(f.machine.gpus) >= 2
    yield Hit(
        f"/dev/shm is {host.shm_bytes // (1 << 20)} MiB: DataLoader workers die with 'Bus error'"
        + (" and NCCL between GPUs fails" if several else ""),
        (f"/dev/shm size: {host.shm_bytes} bytes in a {host.container} container",),
        (
            "docker run --ipc=host (or --shm-size=16g); compose: shm_size: 16g; Kubernetes: an "
            "emptyDir with medium: Memory mounted at /dev/shm",
        ),
        severity=ERROR if several else WARNING,
    )


@rule(
    "gpu-tools-unresponsive",
    WARNING,
    "nvidia-smi or NVML did not answer in time (a wedged driver)",
)
def gpu_tools_unresponsive(f: Facts) -> Iterator[Hit]:
    for note in f.machine.driver.notes:
        if "timed out" in note.message:
            yield Hit(
                f"{note.source} {note.message}: the driver may be hung",
                (f"{note.source}: {note.message}",),
                ("run `nvidia-smi` by hand; a GPU stuck this way usually needs a reboot",),
            )


def _so_version(path: str, stem: str) -> str | None:
    match = re.match(rf"^{re.escape(stem)}\.so\.(\d+\.\d+(?:\.\d+)?)$", os.path.basename(path))
    return match.group(1) if match else None


@rule(
    "driver-library-mismatch",
    ERROR,
    "The driver's user-space libraries do not match the loaded kernel module",
    catalog="G2/G6",
)
def driver_library_mismatch(f: Facts) -> Iterator[Hit]:
    m = f.machine
    for note in m.driver.notes:
        if "version mismatch" in note.message:
            yield Hit(
                "NVML reports a driver/library version mismatch",
                (f"{note.source}: {note.message}",),
                (
                    "reboot (or reload the nvidia kernel modules); hold the driver packages so "
                    "unattended upgrades cannot replace them under a running module",
                ),
            )
            return
    module = m.driver.kernel_module
    if not module:
        return
    for stem, paths in (
        ("libnvidia-ml", m.libraries.libnvidia_ml),
        ("libcuda", m.libraries.libcuda),
    ):
        for path in paths[:1]:  # the first is what the loader picks
            version = _so_version(path, stem)
            if "compat" in path:
                continue  # cuda-compat (forward compatibility) is newer than the module by design
            if version and version != module:
                yield Hit(
                    f"{stem} {version} does not match the loaded kernel module {module}"
                    + (" (CUDA error 803)" if stem == "libcuda" else ""),
                    (f"kernel module: {module}", f"{stem}: {path}"),
                    (
                        "reboot after a driver upgrade; if the library is a cuda-compat copy, "
                        "remove its directory from LD_LIBRARY_PATH / ld.so.conf.d",
                    ),
                )


@rule(
    "cuda-toolkit-without-driver",
    INFO,
    "A CUDA toolkit is installed but no NVIDIA driver: it can compile, nothing can run",
)
def toolkit_without_driver(f: Facts) -> Iterator[Hit]:
    m = f.machine
    if not m.toolkits or m.driver.version or m.driver.kernel_module:
        return
    kits = ", ".join(f"{t.version or '?'} ({t.nvcc or t.root})" for t in m.toolkits)
    yield Hit(
        f"CUDA toolkit {kits} is installed but there is no NVIDIA driver: nvcc can build code, "
        "but nothing can run on a GPU here (reports that read the CUDA version from nvcc get "
        "this machine wrong)",
        (
            f"toolkits: {kits}",
            "driver: none (" + "; ".join(n.message for n in m.driver.notes) + ")",
        ),
    )


@rule(
    "nvcc-major-differs-from-build",
    WARNING,
    "nvcc's CUDA major differs from the build's (matters only to build extensions)",
    catalog="G5",
)
def nvcc_major(f: Facts) -> Iterator[Hit]:
    torch = f.environment.torch
    if torch is None or not torch.cuda:
        return
    major = torch.cuda.split(".")[0]
    for kit in f.machine.toolkits:
        if kit.version and kit.version.split(".")[0] != major:
            yield Hit(
                f"nvcc {kit.version} ({kit.found_by}) is CUDA {kit.version.split('.')[0]}, torch "
                f"{torch.version} is built with CUDA {torch.cuda}: building CUDA extensions will "
                "fail; running torch is not affected",
                (
                    f"nvcc: {kit.nvcc or kit.root} -> {kit.version}",
                    f"torch.version.cuda: {torch.cuda}",
                ),
                (f"for extension builds, point CUDA_HOME at a CUDA {major}.x toolkit",),
            )


@rule(
    "ld-library-path-shadows-wheel-cuda",
    WARNING,
    "LD_LIBRARY_PATH holds CUDA libraries that can shadow the wheel's own",
    catalog="B2",
)
def ld_library_path_shadows(f: Facts) -> Iterator[Hit]:
    env, torch = f.environment, f.environment.torch
    if torch is None or not torch.cuda:
        return
    inside = env.prefix.rstrip("/") + "/"
    # only a library of the very soname a wheel installed can shadow it (libcublasLt.so.12
    # cannot stand in for libcublasLt.so.13), and the environment's own copies are fine
    shadow = {
        name: [p for p in paths if not p.startswith(inside)]
        for name, paths in f.machine.libraries.shadowing.items()
        if name in env.wheel_cuda_sonames
    }
    listing = [f"{name}: {', '.join(paths)}" for name, paths in sorted(shadow.items()) if paths]
    if not listing:
        return
    yield Hit(
        "LD_LIBRARY_PATH puts other copies of the CUDA libraries torch's wheels installed ahead "
        "of them (NVIDIA libraries' RUNPATH ranks below LD_LIBRARY_PATH)",
        tuple(listing),
        (
            "run without them: `env -u LD_LIBRARY_PATH python ...`, or drop the CUDA toolkit "
            "directories from LD_LIBRARY_PATH in your shell profile",
        ),
    )


@rule(
    "no-c-compiler",
    WARNING,
    "No C/C++ compiler: torch.compile (Inductor, Triton) cannot build kernels",
    catalog="H3",
)
def no_compiler(f: Facts) -> Iterator[Hit]:
    if f.environment.torch is None:
        return
    c = f.machine.compilers
    missing = [n for n, v in (("C", c.cc), ("C++", c.cxx)) if v is None]
    if missing:
        yield Hit(
            f"no {' or '.join(missing)} compiler found: torch.compile will fail",
            ("looked for $CC/$CXX, cc, gcc, clang, c++, g++, clang++ on PATH",),
            (
                "sudo apt-get install -y build-essential (or conda install -c conda-forge "
                "gxx_linux-64), or set CC and CXX",
            ),
        )


@rule(
    "python-headers-missing",
    WARNING,
    "Python.h is missing: torch.compile's generated code cannot be compiled",
    catalog="H4",
)
def python_headers(f: Facts) -> Iterator[Hit]:
    interp = f.environment.interpreter
    if f.environment.torch is None or interp.has_python_h is not False:
        return
    version = ".".join((interp.version or "3").split(".")[:2])
    yield Hit(
        f"Python.h is missing for Python {interp.version}: Triton and Inductor compile C code "
        "against it",
        (f"no Python.h in {interp.include_dir}",),
        (f"sudo apt-get install -y python{version}-dev (uv and conda Pythons ship the headers)",),
    )
