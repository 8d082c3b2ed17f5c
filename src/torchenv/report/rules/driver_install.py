"""Rules on the NVIDIA driver's installation itself: none loaded for a GPU that is there, or a
kernel module flavour the GPU cannot use (failure catalog A2).

Which flavour drives which GPU (NVIDIA driver installation guide, "Kernel Modules"): the
proprietary one "is required for older GPUs from the Maxwell, Pascal, or Volta architectures";
the open one is "only for Turing and newer", the default from R560, and the only one for Grace
Hopper and Blackwell data-center GPUs. R580 is the last branch for Maxwell to Volta (its
distributions' "legacy 580" packages); Kepler's last was R470. Without a driver the PCI device
id is what tells the generation: NVIDIA numbers its chips in order, Maxwell from 1340 (GM108,
PCI ID database), Turing from 1E02 (TITAN RTX: the first id of the open modules' table of
compatible GPUs, NVIDIA open-gpu-kernel-modules README).
"""

from __future__ import annotations

from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import Machine, Severity
from torchenv.models.compat import driver_key
from torchenv.report.rules.base import Facts, Hit, rule

ERROR = Severity.ERROR
_FIRST_MAXWELL_ID = 0x1340
_FIRST_TURING_ID = 0x1E00
_LAST_BRANCH_BEFORE_TURING = 580


def _older_than(m: Machine, first_id: int) -> list[str]:
    """PCI addresses of the NVIDIA GPUs whose device id is below ``first_id``."""
    return [
        address
        for address, device in zip(m.pci_nvidia_devices, m.pci_nvidia_device_ids, strict=False)
        if device and int(device, 16) < first_id
    ]


@rule(
    "no-nvidia-driver",
    ERROR,
    N_("An NVIDIA GPU is present but no NVIDIA driver is loaded"),
    catalog="A2",
)
def no_nvidia_driver(f: Facts) -> Iterator[Hit]:
    m = f.machine
    if not m.pci_nvidia_devices or m.driver.version or m.driver.kernel_module:
        return
    torch = f.environment.torch
    older, ancient = _older_than(m, _FIRST_TURING_ID), _older_than(m, _FIRST_MAXWELL_ID)
    middle = [a for a in older if a not in ancient]  # Maxwell to Volta
    package = "nvidia-driver-580" if middle else "nvidia-driver-580-open"
    req = f.kb.driver_requirement(torch.cuda, m.host.os) if torch and torch.cuda else None
    if torch is not None and req is not None:
        install = Msg(
            "install an NVIDIA driver (torch {version} needs >= {driver}), e.g. "
            "`sudo ubuntu-drivers install` or `sudo apt install {package}`",
            version=torch.version,
            driver=req.release_floor or req.hard_floor,
            package=package,
        )
    else:
        install = Msg(
            "install an NVIDIA driver, e.g. `sudo ubuntu-drivers install` or "
            "`sudo apt install {package}`",
            package=package,
        )
    legacy = Msg(
        "the GPU at {devices} is older than Maxwell: no current driver supports it; "
        "`sudo ubuntu-drivers install` picks the legacy branch that does (R470 for Kepler), "
        "and no CUDA 12 or 13 build of torch runs on it",
        devices=", ".join(ancient),
    )
    # only GPUs older than Maxwell: no branch named here would drive them
    fixes = [legacy] if ancient and len(ancient) == len(m.pci_nvidia_devices) else [install]
    if middle and fixes[0] is install:
        fixes.append(
            Msg(
                "not an -open driver: the open kernel modules need a Turing or newer GPU, and "
                "the GPU at {devices} is older (R580 is the last branch for it)",
                devices=", ".join(middle),
            )
        )
        if torch is not None and _cuda_major(torch.cuda) >= 13:
            fixes.append(
                Msg(
                    "then install a CUDA 12 build of torch: CUDA 13 dropped Maxwell, Pascal and "
                    "Volta, so torch {version} has no code for the GPU at {devices}",
                    version=torch.version,
                    devices=", ".join(middle),
                )
            )
    if ancient and fixes[0] is install:
        fixes.append(legacy)
    yield Hit(
        Msg("An NVIDIA GPU is on the PCI bus but the NVIDIA kernel module is not loaded"),
        (
            Msg(
                "PCI devices with vendor 0x10de: {devices}", devices=", ".join(m.pci_nvidia_devices)
            ),
            Msg("no /sys/module/nvidia and no /proc/driver/nvidia/version"),
        ),
        (*fixes, Msg("with Secure Boot on, enroll the module's signing key; then reboot")),
    )


@rule(
    "open-kernel-module-on-old-gpu",
    ERROR,
    N_("The open NVIDIA kernel module is loaded, but a GPU is older than Turing"),
    catalog="A2",
)
def open_module_on_old_gpu(f: Facts) -> Iterator[Hit]:
    m = f.machine
    older = _older_than(m, _FIRST_TURING_ID)
    if m.driver.kernel_module_flavor != "open" or not older:
        return
    module = m.driver.kernel_module or "?"
    ids = dict(zip(m.pci_nvidia_devices, m.pci_nvidia_device_ids, strict=False))
    devices = ", ".join(f"{a} (10de:{ids[a]})" for a in older)
    key = driver_key(module)
    if key and key[0] <= _LAST_BRANCH_BEFORE_TURING:
        proprietary = Msg(
            "install the proprietary flavour of the same branch instead: `sudo apt install "
            "nvidia-driver-{branch}` (it replaces nvidia-driver-{branch}-open), then reboot",
            branch=key[0],
        )
    else:
        proprietary = Msg(
            "install the proprietary driver of branch 580, the last for Maxwell, Pascal and "
            "Volta: `sudo apt install nvidia-driver-580` (it replaces the open driver), then "
            "reboot"
        )
    fixes = [proprietary]
    ancient = _older_than(m, _FIRST_MAXWELL_ID)
    if ancient:
        fixes = [
            Msg(
                "the GPU at {devices} is older than Maxwell: no current driver flavour drives it "
                "(Kepler's last branch is R470); use it on another machine, or leave it unused",
                devices=", ".join(ancient),
            )
        ]
    # the GPUs the open module does drive: those that need it stay out of reach of the other
    need_open = [g for g in m.gpus if _needs_open_module(g.name, g.compute_capability)]
    if need_open:
        fixes.append(
            Msg(
                "{gpus} need the open module: no single driver flavour drives both them and the "
                "GPU at {devices}",
                gpus=", ".join(f"GPU{g.index} {g.name}" for g in need_open),
                devices=", ".join(older),
            )
        )
    yield Hit(
        Msg(
            "The open kernel module {module} is loaded, but the GPU at {devices} is older than "
            "Turing: the open module cannot drive it, so CUDA and nvidia-smi do not see it",
            module=module,
            devices=devices,
        ),
        (
            Msg("/proc/driver/nvidia/version: Open Kernel Module {module}", module=module),
            Msg("PCI device: {devices}", devices=devices),
        ),
        tuple(fixes),
    )


def _cuda_major(cuda: str | None) -> int:
    major = (cuda or "").split(".")[0]
    return int(major) if major.isdigit() else 0


def _needs_open_module(name: str, cc: str | None) -> bool:
    """Grace Hopper and Blackwell (compute capability 10 and up) run on the open module only;
    the guide names the data-center parts, and a Blackwell of any kind is taken as one."""
    major = cc.split(".")[0] if cc else ""
    return "gh200" in name.lower() or (major.isdigit() and int(major) >= 10)
