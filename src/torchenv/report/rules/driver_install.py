"""Rules on the NVIDIA driver's installation itself: none loaded for a GPU that is there, or a
kernel module flavour the GPU cannot use (failure catalog A2)."""

from __future__ import annotations

from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import Machine, Severity
from torchenv.report.rules.base import Facts, Hit, rule

ERROR = Severity.ERROR


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
    older = _before_turing(m)
    # the open kernel modules run on Turing and newer only; older GPUs need the proprietary one
    package = "nvidia-driver-580" if older else "nvidia-driver-580-open"
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
    fixes = [install]
    if older:
        fixes.append(
            Msg(
                "not an -open driver: the open kernel modules need a Turing or newer GPU, and "
                "the GPU at {devices} is older",
                devices=", ".join(older),
            )
        )
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


# The open kernel modules' table of compatible GPUs starts at PCI device id 1E02 (TITAN RTX,
# the first Turing); every Maxwell, Pascal and Volta id is below 1E00 (NVIDIA
# open-gpu-kernel-modules README, "Compatible GPUs": "any Turing or later GPU").
_FIRST_TURING_ID = 0x1E00


def _before_turing(m: Machine) -> list[str]:
    """PCI addresses of the NVIDIA GPUs older than Turing, from their device ids."""
    return [
        address
        for address, device in zip(m.pci_nvidia_devices, m.pci_nvidia_device_ids, strict=False)
        if device and int(device, 16) < _FIRST_TURING_ID
    ]


@rule(
    "open-kernel-module-on-old-gpu",
    ERROR,
    N_("The open NVIDIA kernel module is loaded, but a GPU is older than Turing"),
    catalog="A2",
)
def open_module_on_old_gpu(f: Facts) -> Iterator[Hit]:
    m = f.machine
    older = _before_turing(m)
    if m.driver.kernel_module_flavor != "open" or not older:
        return
    module = m.driver.kernel_module or "?"
    ids = dict(zip(m.pci_nvidia_devices, m.pci_nvidia_device_ids, strict=False))
    devices = ", ".join(f"{a} (10de:{ids[a]})" for a in older)
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
        (
            Msg(
                "install the proprietary flavour of the same branch instead, e.g. `sudo apt "
                "install nvidia-driver-580` (it replaces nvidia-driver-580-open), then reboot"
            ),
        ),
    )
