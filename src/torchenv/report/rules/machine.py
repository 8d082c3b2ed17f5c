"""Rules on the machine around the environment: visible devices, containers, driver user space,
toolkits and compilers (failure catalog families A, B, F, G, H)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import Severity
from torchenv.report.rules.base import Facts, Hit, rule
from torchenv.report.rules.forward_compat import is_compat_path

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
GIB = 1 << 30
_APT_CC, _CONDA_CC = (
    "sudo apt-get install -y build-essential",
    "conda install -c conda-forge gxx_linux-64",
)


@rule(
    "cuda-visible-devices-hides-all",
    WARNING,
    N_("CUDA_VISIBLE_DEVICES leaves a CUDA build no GPU"),
    catalog="A4",
)
def visible_devices_hide_all(f: Facts) -> Iterator[Hit]:
    vis, torch = f.machine.visible_devices, f.environment.torch
    if vis.problem is None or not f.machine.has_nvidia_hardware or not (torch and torch.cuda):
        return
    # "" and -1 are also the usual way to force the CPU on purpose: a warning, not an error.
    value = repr(vis.cuda_visible_devices)
    yield Hit(
        Msg(
            "CUDA_VISIBLE_DEVICES={value} hides every GPU: {problem}; torch will run on the CPU "
            "(fine if that is what you meant)",
            value=value,
            problem=vis.problem,
        ),
        (Msg("CUDA_VISIBLE_DEVICES={value} (parsed as torch parses it)", value=value),),
        (
            Msg(
                "unset CUDA_VISIBLE_DEVICES, or set it to GPU indices or UUIDs from `nvidia-smi "
                "-L` before Python starts (changing it after CUDA initialised has no effect)"
            ),
        ),
    )


@rule(
    "cuda-visible-devices-unknown-device",
    ERROR,
    N_("CUDA_VISIBLE_DEVICES names a GPU that does not exist"),
    catalog="A4",
)
def visible_devices_unknown(f: Facts) -> Iterator[Hit]:
    vis, gpus = f.machine.visible_devices, f.machine.gpus
    if not vis.unmatched or not gpus:
        return
    shown = ", ".join(str(i) for i in vis.visible_indices) or Msg("none")
    yield Hit(
        Msg(
            "CUDA_VISIBLE_DEVICES names {devices}, which is not a GPU here; CUDA stops there, so "
            "the visible GPUs are: {visible}",
            devices=", ".join(vis.unmatched),
            visible=shown,
        ),
        (
            f"CUDA_VISIBLE_DEVICES={vis.cuda_visible_devices!r}",
            Msg("GPUs: {gpus}", gpus=", ".join(f"{g.index} ({g.uuid or 'no uuid'})" for g in gpus)),
        ),
        (
            Msg(
                "list existing indices or UUIDs (`nvidia-smi -L`), e.g. {command}",
                command="export CUDA_VISIBLE_DEVICES=0",
            ),
        ),
        severity=WARNING if vis.visible_indices else ERROR,
    )


@rule(
    "cuda-device-order-not-pci",
    WARNING,
    N_(
        "Mixed GPU models without CUDA_DEVICE_ORDER=PCI_BUS_ID: CUDA and nvidia-smi number GPUs "
        "differently"
    ),
    catalog="A4",
)
def device_order(f: Facts) -> Iterator[Hit]:
    gpus = f.machine.gpus
    names = {g.name for g in gpus}
    if len(names) < 2 or f.machine.visible_devices.cuda_device_order == "PCI_BUS_ID":
        return
    yield Hit(
        Msg(
            "CUDA numbers these different GPU models fastest-first while nvidia-smi numbers them "
            "by PCI bus: index N in CUDA_VISIBLE_DEVICES or cuda:N may pick another GPU"
        ),
        (Msg("GPUs: {gpus}", gpus=", ".join(f"{g.index}: {g.name}" for g in gpus)),),
        ("export CUDA_DEVICE_ORDER=PCI_BUS_ID",),
    )


@rule(
    "container-without-gpu-access",
    ERROR,
    N_("A container without NVIDIA devices runs a CUDA build"),
    catalog="A5",
)
def container_without_gpu(f: Facts) -> Iterator[Hit]:
    m, torch = f.machine, f.environment.torch
    if not m.host.container or m.device_nodes or torch is None or not torch.cuda:
        return
    if m.gpus or m.host.wsl:  # WSL2 passes GPUs through /dev/dxg, which NVML then reports
        return
    evidence: list[str] = [
        Msg("inside a {container} container", container=m.host.container),
        Msg("no /dev/nvidia* device nodes"),
    ]
    nvd = m.visible_devices.nvidia_visible_devices
    if nvd is not None:
        evidence.append(f"NVIDIA_VISIBLE_DEVICES={nvd!r}")
    yield Hit(
        Msg(
            "This {container} container has no GPU access, so torch {version} (CUDA build) runs "
            "on the CPU only",
            container=m.host.container,
            version=torch.version,
        ),
        tuple(evidence),
        (
            Msg(
                "start the container with GPUs: `docker run --gpus all ...` (compose: a device "
                "reservation with capabilities [gpu]; Kubernetes: resources.limits nvidia.com/gpu)"
            ),
            Msg(
                "on the host: install nvidia-container-toolkit and run "
                "`sudo nvidia-ctk runtime configure --runtime=docker`"
            ),
        ),
        severity=INFO if not m.has_nvidia_hardware and nvd in (None, "void", "none") else None,
    )


@rule(
    "container-shm-too-small",
    ERROR,
    N_("/dev/shm in a container is too small for DataLoader workers and NCCL"),
    catalog="F1/H2",
)
def container_shm(f: Facts) -> Iterator[Hit]:
    host = f.machine.host
    if not host.container or host.shm_bytes is None:
        return
    if host.shm_writable is False:
        yield Hit(
            Msg("/dev/shm is not writable: DataLoader workers and NCCL cannot share memory"),
            (Msg("/dev/shm is not writable by this user"),),
            (Msg("{command}, or mount a tmpfs there", command="chmod 1777 /dev/shm"),),
            severity=ERROR,
        )
        return
    if host.shm_bytes >= GIB:
        return
    several = len(f.machine.gpus) >= 2
    size = host.shm_bytes // (1 << 20)
    problem = Msg("/dev/shm is {size} MiB: DataLoader workers die with 'Bus error'", size=size)
    yield Hit(
        Msg("{problem} and NCCL between GPUs fails", problem=problem) if several else problem,
        (
            Msg(
                "/dev/shm size: {bytes} bytes in a {container} container",
                bytes=host.shm_bytes,
                container=host.container,
            ),
        ),
        (
            Msg(
                "docker run --ipc=host (or --shm-size=16g); compose: shm_size: 16g; Kubernetes: "
                "an emptyDir with medium: Memory mounted at /dev/shm"
            ),
        ),
        severity=ERROR if several else WARNING,
    )


@rule(
    "gpu-tools-unresponsive",
    WARNING,
    N_("nvidia-smi or NVML did not answer in time (a wedged driver)"),
)
def gpu_tools_unresponsive(f: Facts) -> Iterator[Hit]:
    for note in f.machine.driver.notes:
        if "timed out" in note.message:
            yield Hit(
                Msg("{problem}: the driver may be hung", problem=note.source + " " + note.message),
                (f"{note.source}: {note.message}",),
                (Msg("run `nvidia-smi` by hand; a GPU stuck this way usually needs a reboot"),),
            )


def _so_version(path: str, stem: str) -> str | None:
    match = re.match(rf"^{re.escape(stem)}\.so\.(\d+\.\d+(?:\.\d+)?)$", os.path.basename(path))
    return match.group(1) if match else None


@rule(
    "driver-library-mismatch",
    ERROR,
    N_("The driver's user-space libraries do not match the loaded kernel module"),
    catalog="G2/G6",
)
def driver_library_mismatch(f: Facts) -> Iterator[Hit]:
    m = f.machine
    for note in m.driver.notes:
        if "version mismatch" in note.message:
            yield Hit(
                Msg("NVML reports a driver/library version mismatch"),
                (f"{note.source}: {note.message}",),
                (
                    Msg(
                        "reboot (or reload the nvidia kernel modules); hold the driver packages "
                        "so unattended upgrades cannot replace them under a running module"
                    ),
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
            if is_compat_path(path):
                continue  # cuda-compat: forward_compat.py judges it against the module
            if version and version != module:
                title = Msg(
                    "{library} {version} does not match the loaded kernel module {module}",
                    library=stem,
                    version=version,
                    module=module,
                )
                yield Hit(
                    Msg("{mismatch} (CUDA error 803)", mismatch=title)
                    if stem == "libcuda"
                    else title,
                    (Msg("kernel module: {module}", module=module), f"{stem}: {path}"),
                    (
                        Msg(
                            "reboot after a driver upgrade; if the library is a cuda-compat copy, "
                            "remove its directory from LD_LIBRARY_PATH / ld.so.conf.d"
                        ),
                    ),
                )


@rule(
    "cuda-toolkit-without-driver",
    INFO,
    N_("A CUDA toolkit is installed but no NVIDIA driver: it can compile, nothing can run"),
)
def toolkit_without_driver(f: Facts) -> Iterator[Hit]:
    m = f.machine
    if not m.toolkits or m.driver.version or m.driver.kernel_module:
        return
    kits = ", ".join(f"{t.version or '?'} ({t.nvcc or t.root})" for t in m.toolkits)
    yield Hit(
        Msg(
            "CUDA toolkit {kits} is installed but there is no NVIDIA driver: nvcc can build code, "
            "but nothing can run on a GPU here (reports that read the CUDA version from nvcc get "
            "this machine wrong)",
            kits=kits,
        ),
        (
            Msg("toolkits: {kits}", kits=kits),
            Msg("driver: none ({notes})", notes="; ".join(n.message for n in m.driver.notes)),
        ),
    )


@rule(
    "nvcc-major-differs-from-build",
    WARNING,
    N_("nvcc's CUDA major differs from the build's (matters only to build extensions)"),
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
                Msg(
                    "nvcc {nvcc} ({found_by}) is CUDA {major}, torch {version} is built with CUDA "
                    "{cuda}: building CUDA extensions will fail; running torch is not affected",
                    nvcc=kit.version,
                    found_by=kit.found_by,
                    major=kit.version.split(".")[0],
                    version=torch.version,
                    cuda=torch.cuda,
                ),
                (
                    f"nvcc: {kit.nvcc or kit.root} -> {kit.version}",
                    f"torch.version.cuda: {torch.cuda}",
                ),
                (
                    Msg(
                        "for extension builds, point CUDA_HOME at a CUDA {major}.x toolkit",
                        major=major,
                    ),
                ),
            )


@rule(
    "ld-library-path-shadows-wheel-cuda",
    WARNING,
    N_("LD_LIBRARY_PATH holds CUDA libraries that can shadow the wheel's own"),
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
        Msg(
            "LD_LIBRARY_PATH puts other copies of the CUDA libraries torch's wheels installed "
            "ahead of them (NVIDIA libraries' RUNPATH ranks below LD_LIBRARY_PATH)"
        ),
        tuple(listing),
        (
            Msg(
                "run without them: `env -u LD_LIBRARY_PATH python ...`, or drop the CUDA toolkit "
                "directories from LD_LIBRARY_PATH in your shell profile"
            ),
        ),
    )


@rule(
    "no-c-compiler",
    WARNING,
    N_("No C/C++ compiler: torch.compile (Inductor, Triton) cannot build kernels"),
    catalog="H3",
)
def no_compiler(f: Facts) -> Iterator[Hit]:
    if f.environment.torch is None:
        return
    c = f.machine.compilers
    missing = [n for n, v in (("C", c.cc), ("C++", c.cxx)) if v is None]
    if missing:
        language = missing[0] if len(missing) == 1 else Msg("C or C++")
        yield Hit(
            Msg("no {language} compiler found: torch.compile will fail", language=language),
            (Msg("looked for $CC/$CXX, cc, gcc, clang, c++, g++, clang++ on PATH"),),
            (Msg("{command} (or {conda}), or set CC and CXX", command=_APT_CC, conda=_CONDA_CC),),
        )


@rule(
    "python-headers-missing",
    WARNING,
    N_("Python.h is missing: torch.compile's generated code cannot be compiled"),
    catalog="H4",
)
def python_headers(f: Facts) -> Iterator[Hit]:
    interp = f.environment.interpreter
    if f.environment.torch is None or interp.has_python_h is not False:
        return
    version = ".".join((interp.version or "3").split(".")[:2])
    command = f"sudo apt-get install -y python{version}-dev"
    yield Hit(
        Msg(
            "Python.h is missing for Python {version}: Triton and Inductor compile C code "
            "against it",
            version=interp.version,
        ),
        (Msg("no Python.h in {directory}", directory=interp.include_dir),),
        (Msg("{command} (uv and conda Pythons ship the headers)", command=command),),
    )
