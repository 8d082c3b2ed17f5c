"""Rules on the torch build against the driver and the GPUs (failure catalog families A, C, G)."""

from __future__ import annotations

from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import DriverRequirement, Gpu, Severity, TorchBuild
from torchenv.models.archs import coverage, describe, unified_tegra
from torchenv.models.compat import driver_at_least
from torchenv.report.rules.advice import best_variant, reinstall_torch_commands
from torchenv.report.rules.base import Facts, Hit, rule
from torchenv.report.rules.forward_compat import forwarded_driver

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def _gpu_list(gpus: tuple[Gpu, ...]) -> str:
    return ", ".join(f"GPU{g.index} {g.name} (CC {g.compute_capability or '?'})" for g in gpus)


def _hardware(f: Facts) -> str:
    if f.machine.gpus:
        return _gpu_list(f.machine.gpus)
    return Msg("NVIDIA PCI device(s) {devices}", devices=", ".join(f.machine.pci_nvidia_devices))


def _reinstall(f: Facts) -> tuple[str, ...]:
    torch = f.environment.torch
    if torch is None:
        return ()
    host = f.machine.host
    advice = best_variant(
        f.kb, torch.version, _effective_driver(f), f.machine.gpus, host.os, host.arch
    )
    if advice is None:
        return (
            Msg(
                "no build variant of torch {version} fits this machine; `torchenv plan` finds the "
                "newest release that has one and prints its install commands",
                version=torch.base_version,
            ),
        )
    steps = reinstall_torch_commands(f.environment, f.kb, torch.version, advice)
    if advice.caveat:
        steps.append(Msg("note: {caveat}", caveat=advice.caveat))
    return tuple(steps)


@rule(
    "cpu-build-on-gpu-host",
    ERROR,
    N_("A CPU-only torch build is installed on a machine with an NVIDIA GPU"),
    catalog="A1",
)
def cpu_build_on_gpu_host(f: Facts) -> Iterator[Hit]:
    torch = f.environment.torch
    if torch is None or torch.cuda or torch.hip or torch.xpu or not f.machine.has_nvidia_hardware:
        return
    yield Hit(
        Msg(
            "torch {version} is a CPU-only build, but this machine has an NVIDIA GPU",
            version=torch.version,
        ),
        (
            f"torch/version.py: __version__ = {torch.version!r}, cuda = None ({torch.location})",
            Msg("GPUs: {gpus}", gpus=_hardware(f)),
        ),
        _reinstall(f),
    )


@rule(
    "cuda-build-without-gpu",
    INFO,
    N_("A CUDA build of torch on a machine without NVIDIA GPU or driver (CPU only here)"),
)
def cuda_build_without_gpu(f: Facts) -> Iterator[Hit]:
    torch, m = f.environment.torch, f.machine
    if torch is None or not torch.cuda or m.has_nvidia_hardware or m.driver.version:
        return
    if m.host.container:
        return  # container-without-gpu-access speaks for this case
    yield Hit(
        Msg(
            "torch {version} is built for CUDA {cuda}, but this machine has no NVIDIA GPU: "
            "torch.cuda.is_available() will be False and everything runs on the CPU",
            version=torch.version,
            cuda=torch.cuda,
        ),
        (
            f"torch/version.py: cuda = {torch.cuda!r}",
            Msg("no NVIDIA GPU found (NVML, nvidia-smi, PCI)"),
        ),
    )


def _effective_driver(f: Facts) -> str | None:
    """The driver CUDA runs on: a forwarding cuda-compat libcuda's, else the host's."""
    return forwarded_driver(f) or f.machine.driver.version


def _driver_seen(f: Facts, driver: str) -> str:
    d = f.machine.driver
    if driver != d.version and forwarded_driver(f) == driver:
        return Msg(
            "cuda-compat libcuda {driver} (forward compatibility over kernel module {module})",
            driver=driver,
            module=d.kernel_module or d.version,
        )
    return Msg("driver {driver} (from {source})", driver=driver, source=d.source)


def _build_and_driver(f: Facts) -> tuple[TorchBuild, str, DriverRequirement] | None:
    """The CUDA build, the driver version and what the build's CUDA needs, when all are known.
    With working forward compatibility (cuda-compat on a data-center GPU) the driver CUDA runs
    on is the compat library's, not the kernel module's."""
    torch = f.environment.torch
    driver = _effective_driver(f)
    if torch is None or not torch.cuda or driver is None:
        return None
    req = f.kb.driver_requirement(torch.cuda, f.machine.host.os)
    return (torch, driver, req) if req is not None else None


@rule(
    "driver-too-old-for-build",
    ERROR,
    N_("The driver is older than the minimum for the build's CUDA major version"),
    catalog="A3",
)
def driver_too_old_for_build(f: Facts) -> Iterator[Hit]:
    known = _build_and_driver(f)
    if known is None:
        return
    torch, driver, req = known
    if driver_at_least(driver, req.hard_floor):
        return
    yield Hit(
        Msg(
            "driver {driver} is too old for torch {version} (CUDA {cuda} needs >= {floor})",
            driver=driver,
            version=torch.version,
            cuda=torch.cuda,
            floor=req.hard_floor,
        ),
        (
            _driver_seen(f, driver),
            f"torch/version.py: cuda = {torch.cuda!r}",
            Msg(
                "CUDA {major}.x needs driver >= {floor}; {source}",
                major=req.cuda.split(".")[0],
                floor=req.hard_floor,
                source=req.source,
            ),
        ),
        (
            Msg(
                "upgrade the driver to >= {driver}, or:", driver=req.release_floor or req.hard_floor
            ),
            *_reinstall(f),
        ),
    )


@rule(
    "driver-below-build-release",
    WARNING,
    N_("The driver runs the build only through CUDA minor-version compatibility"),
    catalog="A3",
)
def driver_below_build_release(f: Facts) -> Iterator[Hit]:
    known = _build_and_driver(f)
    if known is None:
        return
    torch, driver, req = known
    if req.release_floor is None or not driver_at_least(driver, req.hard_floor):
        return
    if driver_at_least(driver, req.release_floor):
        return
    yield Hit(
        Msg(
            "driver {driver} is below CUDA {cuda}'s own driver {release}: torch runs through "
            "minor-version compatibility, without PTX JIT of newer PTX",
            driver=driver,
            cuda=req.cuda,
            release=req.release_floor,
        ),
        (
            _driver_seen(f, driver),
            Msg(
                "torch/version.py: cuda = {cuda}; CUDA {toolkit} toolkit driver >= {release} "
                "({source})",
                cuda=repr(torch.cuda),
                toolkit=req.cuda,
                release=req.release_floor,
                source=req.source,
            ),
        ),
        (
            Msg(
                "upgrade the driver to >= {release} for full CUDA {cuda} support",
                release=req.release_floor,
                cuda=req.cuda,
            ),
        ),
    )


def _gpus_covered_as(f: Facts, kind: str | None) -> list[Gpu]:
    """The GPUs that the CUDA build's code covers as ``kind`` ("ptx", or None: not at all)."""
    torch = f.environment.torch
    if torch is None or not torch.cuda or not torch.arch_list:
        return []
    unified = unified_tegra(torch.version, torch.cuda)
    return [
        g
        for g in f.machine.gpus
        if g.compute_capability
        and coverage(torch.arch_list, g.compute_capability, unified=unified) == kind
    ]


@rule(
    "gpu-arch-not-in-build",
    ERROR,
    N_("A GPU's compute capability has no kernels in the build (no kernel image)"),
    catalog="C1/C2",
)
def gpu_arch_not_in_build(f: Facts) -> Iterator[Hit]:
    torch, missing = f.environment.torch, _gpus_covered_as(f, None)
    if torch is None or not missing:
        return
    yield Hit(
        Msg(
            "torch {version} has no kernels for {gpus}: CUDA ops will fail with 'no kernel image "
            "is available for execution on the device'",
            version=torch.version,
            gpus=_gpu_list(tuple(missing)),
        ),
        (
            Msg(
                "compiled architectures: {archs} ({source})",
                archs=describe(torch.arch_list),
                source=torch.arch_list_source,
            ),
            Msg("GPUs without kernels: {gpus}", gpus=_gpu_list(tuple(missing))),
        ),
        _reinstall(f),
    )


@rule(
    "gpu-arch-ptx-only",
    ERROR,
    N_("A GPU runs the build only through PTX JIT compilation (fails below the build's driver)"),
    catalog="C1",
)
def gpu_arch_ptx_only(f: Facts) -> Iterator[Hit]:
    torch, jit = f.environment.torch, _gpus_covered_as(f, "ptx")
    if torch is None or not torch.cuda or not jit:
        return
    evidence = [Msg("compiled architectures: {archs}", archs=describe(torch.arch_list))]
    # PTX of CUDA X.Y needs the driver of X.Y: minor-version compatibility does not cover JIT
    # (failure catalog 3.2, NVIDIA CUDA compatibility guide).
    known = _build_and_driver(f)
    too_old = False
    if known is not None:
        _, driver, req = known
        too_old = bool(req.release_floor) and not driver_at_least(driver, req.release_floor or "")
        if too_old:
            evidence.append(
                Msg(
                    "driver {driver} is older than CUDA {cuda}'s {release}",
                    driver=driver,
                    cuda=req.cuda,
                    release=req.release_floor,
                )
            )
    gpus = _gpu_list(tuple(jit))
    yield Hit(
        Msg(
            "{gpus} runs torch {version} only by JIT-compiling PTX: the driver is too old to "
            "compile this PTX, so kernels will not load",
            gpus=gpus,
            version=torch.version,
        )
        if too_old
        else Msg(
            "{gpus} runs torch {version} only by JIT-compiling PTX: slow first launch of every "
            "kernel",
            gpus=gpus,
            version=torch.version,
        ),
        tuple(evidence),
        _reinstall(f),
        severity=ERROR if too_old else WARNING,
    )


@rule(
    "jetson-needs-jetpack-build",
    WARNING,
    N_("A Jetson board runs a PyPI/SBSA CUDA build instead of NVIDIA's JetPack build"),
    catalog="C3",
)
def jetson_build(f: Facts) -> Iterator[Hit]:
    torch = f.environment.torch
    if not f.machine.host.jetson or torch is None or not torch.cuda:
        return
    if not (torch.local or "").startswith("cu"):
        return  # JetPack builds carry their own local label (e.g. "+nv24.03")
    unified = unified_tegra(torch.version, torch.cuda)
    gpus = tuple(g for g in f.machine.gpus if g.compute_capability)
    if torch.arch_list and gpus:
        # the aarch64 cu130 wheels carry sm_110: Thor's own build (failure catalog C3); only a
        # GPU the build has no native code for needs NVIDIA's JetPack build
        gpus = tuple(
            g
            for g in gpus
            if coverage(torch.arch_list, g.compute_capability or "", unified=unified) != "native"
        )
        if not gpus:
            return
    elif unified:
        return  # torch >= 2.15 with CUDA 13.2: one build for servers and Jetson
    yield Hit(
        Msg(
            "torch {version} is a server (SBSA) build without kernels for {gpus}: install the "
            "build NVIDIA publishes for this JetPack release",
            version=torch.version,
            gpus=_gpu_list(gpus),
        )
        if gpus
        else Msg(
            "torch {version} is a server (SBSA) build: before torch 2.15 with CUDA 13.2 these "
            "wheels have no kernels for the Jetson GPUs Orin (8.7) and Xavier (7.2)",
            version=torch.version,
        ),
        (
            Msg("/etc/nv_tegra_release present (Jetson)"),
            f"torch/version.py: {torch.version}",
            *(
                (Msg("compiled architectures: {archs}", archs=describe(torch.arch_list)),)
                if torch.arch_list
                else ()
            ),
        ),
        (
            Msg(
                "install the PyTorch build NVIDIA publishes for your JetPack release (NVIDIA's "
                "'Installing PyTorch for Jetson Platform' guide), or use a jetson-containers image"
            ),
        ),
    )
