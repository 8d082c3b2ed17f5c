"""NVML through nvidia-ml-py (module ``pynvml``): the cheapest complete source of driver facts.

NVML never creates a CUDA context. When libnvidia-ml.so is missing (no driver, as on the
development machines), ``nvmlInit`` fails in well under a millisecond.
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass
from typing import Any

from torchenv.models import Gpu


class NvmlUnavailable(Exception):
    """NVML could not be used; the message says why (library missing, driver not loaded...)."""


@dataclass(frozen=True)
class NvmlReading:
    driver_version: str
    cuda_driver_version: int | None  # 12080 means CUDA 12.8
    gpus: tuple[Gpu, ...]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_nvml() -> NvmlReading:
    try:
        import pynvml  # noqa: PLC0415  (imported only when NVML is asked for)
    except ImportError as exc:
        raise NvmlUnavailable(f"nvidia-ml-py is not importable: {exc}") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(f"nvmlInit failed: {exc}") from None
    except OSError as exc:  # some versions surface loader failures directly
        raise NvmlUnavailable(f"cannot load libnvidia-ml: {exc}") from None
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        try:
            cuda: int | None = int(pynvml.nvmlSystemGetCudaDriverVersion_v2())
        except pynvml.NVMLError:
            cuda = None
        gpus = tuple(_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount()))
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(f"NVML query failed: {exc}") from None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
    return NvmlReading(driver, cuda, gpus)


def _gpu(pynvml: Any, index: int) -> Gpu:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def optional(call: Any) -> Any:
        try:
            return call(handle)
        except pynvml.NVMLError:
            return None

    cc = optional(pynvml.nvmlDeviceGetCudaComputeCapability)
    memory = optional(pynvml.nvmlDeviceGetMemoryInfo)
    pci = optional(pynvml.nvmlDeviceGetPciInfo)
    uuid = optional(pynvml.nvmlDeviceGetUUID)
    return Gpu(
        index=index,
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        uuid=_text(uuid) if uuid is not None else None,
        compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
        memory_total_mib=int(memory.total) // (1 << 20) if memory is not None else None,
        pci_bus_id=_text(pci.busId) if pci is not None else None,
    )


def read_libcuda_version() -> int:
    """cuDriverGetVersion() from the user-mode driver: no cuInit, no context (catalog 2.4)."""
    lib = ctypes.CDLL("libcuda.so.1")
    version = ctypes.c_int(0)
    status = lib.cuDriverGetVersion(ctypes.byref(version))
    if status != 0:
        raise OSError(f"cuDriverGetVersion returned CUDA error {status}")
    return int(version.value)
