"""Assemble the machine facts from the individual probes."""

from __future__ import annotations

from torchenv.models import Machine
from torchenv.probe.context import ProbeContext
from torchenv.probe.host import probe_host
from torchenv.probe.jupyter_servers import probe_jupyter_servers
from torchenv.probe.ldcache import libcuda_findable, nvml_findable, probe_loader_libraries
from torchenv.probe.nvidia import (
    probe_device_nodes,
    probe_driver_and_gpus,
    probe_pci_device_ids,
    probe_pci_nvidia,
)
from torchenv.probe.toolkit import probe_compilers, probe_toolkits
from torchenv.probe.visible import map_visible_devices


def probe_machine(ctx: ProbeContext) -> Machine:
    libraries = probe_loader_libraries(ctx)
    driver, gpus = probe_driver_and_gpus(
        ctx,
        nvml_library=nvml_findable(ctx, libraries),
        libcuda_library=libcuda_findable(ctx, libraries),
    )
    pci = probe_pci_nvidia(ctx)
    return Machine(
        host=probe_host(ctx),
        driver=driver,
        gpus=gpus,
        pci_nvidia_devices=pci,
        pci_nvidia_device_ids=probe_pci_device_ids(ctx, pci),
        device_nodes=probe_device_nodes(ctx),
        visible_devices=map_visible_devices(ctx.env, gpus),
        toolkits=probe_toolkits(ctx),
        libraries=libraries,
        compilers=probe_compilers(ctx),
        jupyter_servers=probe_jupyter_servers(ctx),
    )
