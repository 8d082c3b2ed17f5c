"""Describe a target machine for the planner: from a probed ``Machine`` (this one, or another
machine's ``inspect --json``) or from GPUs and a driver given on the command line."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from torchenv.models.machine import Host, Machine
from torchenv.models.plan import PlanTarget, TargetGpu

CcOfName = Callable[[str], "str | None"]

_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def platform_of(host: Host) -> str:
    arch = _ARCH.get(host.arch.lower(), host.arch.lower())
    if host.os == "windows":
        return "win_amd64"
    if host.os == "darwin":
        return "macos_arm64" if arch == "aarch64" else "macos_x86_64"
    return f"linux_{arch}"


def glibc_of(host: Host) -> str | None:
    match = re.fullmatch(r"glibc (\d+\.\d+)(?:\.\d+)?", host.libc or "")
    return match.group(1) if match else None


def target_from_machine(
    name: str,
    machine: Machine,
    cc_of_name: CcOfName,
    python: str | None = None,
    driver: str | None = None,
) -> PlanTarget:
    """``driver`` overrides the observed one (planning for a driver upgrade)."""
    gpus = tuple(
        TargetGpu(g.name, g.compute_capability or cc_of_name(g.name)) for g in machine.gpus
    )
    if not gpus and machine.pci_nvidia_devices:
        # GPUs on the PCI bus but no driver to name them: count them, capability unknown
        gpus = tuple(TargetGpu(f"NVIDIA GPU at {a}", None) for a in machine.pci_nvidia_devices)
    return PlanTarget(
        name=name,
        platform=platform_of(machine.host),
        gpus=gpus,
        driver=driver or machine.driver.version,
        has_driver_facts=driver is None,
        glibc=glibc_of(machine.host),
        python=python,
        jetson=machine.host.jetson,
        musl=(machine.host.libc or "").startswith("musl"),
    )


def target_from_options(
    gpus: Sequence[tuple[str, str | None]],
    driver: str | None,
    platform: str,
    jetson: bool = False,
) -> PlanTarget:
    """GPUs as (name, compute capability) pairs, already resolved."""
    return PlanTarget(
        name="command line",
        platform=platform,
        gpus=tuple(TargetGpu(name, cc) for name, cc in gpus),
        driver=driver,
        has_driver_facts=False,
        jetson=jetson,
    )


def python_of_version(version: str | None, free_threaded: bool = False) -> str | None:
    """ "3.12.4" -> "3.12" ("3.14t" for a free-threaded build)."""
    if not version:
        return None
    match = re.match(r"(\d+\.\d+)", version)
    return (match.group(1) + ("t" if free_threaded else "")) if match else None
