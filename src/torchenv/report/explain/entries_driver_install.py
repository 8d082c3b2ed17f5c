"""Explanations of the rules on installing the driver itself (rules/driver_install.py; failure
catalog A2)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import NVIDIA_MINOR_COMPAT, RuleExplanation, catalog, issue

OPEN_MODULES = "https://github.com/NVIDIA/open-gpu-kernel-modules#compatible-gpus"

ENTRIES = (
    RuleExplanation(
        id="no-nvidia-driver",
        meaning=N_(
            "An NVIDIA GPU is on the PCI bus, but no NVIDIA kernel module is loaded and no "
            "driver answers. CUDA cannot work: torch says `Found no NVIDIA driver on your "
            "system` and `nvidia-smi` cannot communicate with the driver. Causes: no driver "
            "installed, a kernel update without a DKMS rebuild, an unsigned module with Secure "
            "Boot on, or nouveau bound to the GPU."
        ),
        detection=N_(
            "Lists `/sys/bus/pci/devices/*` for `vendor` 0x10de with a `class` starting 0x03 "
            "(display or 3D controller). Reported when such a device exists but there is no "
            "`/sys/module/nvidia/version`, no `/proc/driver/nvidia/version`, and neither NVML nor "
            "`nvidia-smi` gives a driver version. The finding names the minimum driver of the "
            "installed torch build's CUDA. The device's PCI id (`device`) tells a GPU older than "
            "Turing (ids below 1E00), for which the fix names the proprietary driver instead of "
            "an `-open` one. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Install a driver branch that supports the GPU and is at least what the torch "
                    "build needs (>= 525.60.13 for CUDA 12 builds, >= 580.65.06 for CUDA 13 "
                    "builds): on Ubuntu `sudo ubuntu-drivers install`, or a given branch such as "
                    "`sudo apt install nvidia-driver-580-open` (Turing and newer) or "
                    "`nvidia-driver-580` (older GPUs: the open kernel modules need Turing), or "
                    "NVIDIA's `cuda-drivers` package. With Secure Boot on, enroll the module's "
                    "signing key. Then reboot and check with `nvidia-smi`."
                ),
            ),
        ),
        sources=(
            catalog("A2"),
            issue("NVIDIA/nvidia-docker", 1234),
            "failure-catalog.md §3.2",
            NVIDIA_MINOR_COMPAT,
            OPEN_MODULES,
        ),
    ),
    RuleExplanation(
        id="open-kernel-module-on-old-gpu",
        meaning=N_(
            "The driver's open kernel module (`nvidia-driver-XXX-open`, the default flavour of "
            "recent drivers) is loaded, but a GPU on the PCI bus is older than Turing (Maxwell, "
            "Pascal or Volta: GTX 9xx and 10xx, TITAN Xp, Tesla P100 and V100). The open module "
            "drives Turing and newer GPUs only, so the older GPU is not usable: `nvidia-smi` and "
            "CUDA do not see it, and the kernel log says the GPU is not supported by open "
            "nvidia.ko."
        ),
        detection=N_(
            "Reads the module's flavour from `/proc/driver/nvidia/version` (`Open Kernel "
            "Module`) and each NVIDIA display controller's PCI device id from "
            "`/sys/bus/pci/devices/*/device`. Ids below 1E00 are older than Turing: the open "
            "modules' table of compatible GPUs starts at 1E02. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Install the proprietary flavour of the same branch, which replaces the open "
                    "one: `sudo apt install nvidia-driver-580` on Ubuntu (or NVIDIA's "
                    "`cuda-drivers` with the proprietary module), then reboot and check with "
                    "`nvidia-smi`. For torch on these GPUs take a CUDA 12 build: CUDA 13 "
                    "dropped Maxwell, Pascal and Volta, and torch's CUDA 13 wheels start at "
                    "Turing."
                ),
            ),
        ),
        sources=(catalog("A2"), OPEN_MODULES, "compat-matrix.md §5 (CUDA 13.0 release notes)"),
    ),
)
