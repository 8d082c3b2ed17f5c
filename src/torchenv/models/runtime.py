"""What ``doctor --deep`` learns by importing torch inside the environment (in a subprocess)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeDevice:
    index: int
    name: str
    capability: str  # "9.0"


@dataclass(frozen=True)
class RuntimeCheck:
    """The in-environment facts; ``error`` says why the script did not finish."""

    ran: bool
    seconds: float = 0.0
    timed_out: bool = False
    error: str | None = None  # the script could not run, or torch failed to import
    torch_version: str | None = None
    cuda_version: str | None = None
    cuda_available: bool | None = None
    cuda_error: str | None = None  # exception text from torch.cuda initialisation
    device_count: int | None = None
    devices: tuple[RuntimeDevice, ...] = ()
    arch_list: tuple[str, ...] = ()
    cudnn_version: int | None = None
    nccl_version: str | None = None
    op_ok: bool | None = None  # a small matmul on the GPU matched the CPU result
    op_error: str | None = None
    warnings: tuple[str, ...] = ()  # warnings torch emitted while initialising CUDA
