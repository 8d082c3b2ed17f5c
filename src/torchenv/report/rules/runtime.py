"""Rules on what ``doctor --deep`` saw when it imported torch inside the environment."""

from __future__ import annotations

from collections.abc import Iterator

from torchenv.models import Severity
from torchenv.report.rules.base import Facts, Hit, rule

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@rule(
    "runtime-check-failed",
    ERROR,
    "Importing torch inside the environment failed, hung or crashed",
    needs="deep",
)
def runtime_failed(f: Facts) -> Iterator[Hit]:
    rt = f.runtime
    if rt is None or f.environment.torch is None:
        return
    if rt.timed_out:
        yield Hit(
            f"the torch check did not finish in {rt.seconds:.0f}s: import torch or CUDA "
            "initialisation hangs",
            (rt.error or "timed out",),
            ("run `python -c 'import torch; torch.zeros(1).cuda()'` to see where it stops",),
        )
    elif rt.error:
        yield Hit(
            f"torch fails at run time: {rt.error.splitlines()[-1][:200]}",
            tuple(rt.error.strip().splitlines()[-6:]),
            ("the static findings above usually name the cause; otherwise reinstall torch",),
        )


@rule(
    "cuda-unavailable-at-runtime",
    ERROR,
    "A CUDA build on a machine with NVIDIA GPUs reports torch.cuda.is_available() == False",
    needs="deep",
)
def cuda_unavailable(f: Facts) -> Iterator[Hit]:
    rt, torch = f.runtime, f.environment.torch
    if rt is None or rt.error or torch is None or not torch.cuda or not f.machine.gpus:
        return
    if rt.cuda_available is False:
        yield Hit(
            "torch.cuda.is_available() is False although the machine has NVIDIA GPUs",
            tuple(x for x in (rt.cuda_error, *rt.warnings) if x) or ("no error text from torch",),
            ("see the other findings (driver, CUDA_VISIBLE_DEVICES, container access)",),
        )


@rule(
    "cuda-op-failed",
    ERROR,
    "A small CUDA operation failed or gave a wrong result",
    needs="deep",
)
def cuda_op_failed(f: Facts) -> Iterator[Hit]:
    rt = f.runtime
    if rt is not None and rt.op_ok is False:
        yield Hit(
            f"a small matmul on the GPU failed: {(rt.op_error or 'wrong result')[:200]}",
            (rt.op_error or "GPU result differs from the CPU result",),
            (
                "'no kernel image' means the build lacks this GPU's architecture; see "
                "gpu-arch-not-in-build",
            ),
        )


@rule(
    "runtime-sees-fewer-gpus",
    WARNING,
    "torch sees fewer GPUs than the driver reports as visible",
    needs="deep",
)
def fewer_gpus(f: Facts) -> Iterator[Hit]:
    rt = f.runtime
    visible = len(f.machine.visible_devices.visible_indices)
    if rt is None or not rt.cuda_available or rt.device_count is None:
        return
    if rt.device_count < visible:
        yield Hit(
            f"torch sees {rt.device_count} GPU(s), the driver {visible}",
            (f"torch.cuda.device_count() = {rt.device_count}", f"visible GPUs: {visible}"),
            ("check CUDA_VISIBLE_DEVICES and MIG configuration",),
        )


@rule(
    "runtime-torch-differs-from-files",
    WARNING,
    "The torch that Python imports is not the one whose files were read",
    catalog="E1",
    needs="deep",
)
def torch_differs(f: Facts) -> Iterator[Hit]:
    rt, torch = f.runtime, f.environment.torch
    if rt is None or torch is None or rt.torch_version is None:
        return
    if rt.torch_version != torch.version:
        yield Hit(
            f"Python imports torch {rt.torch_version}, but the environment's files say "
            f"{torch.version}",
            (
                f"import torch -> {rt.torch_version}",
                f"{torch.location}/version.py -> {torch.version}",
            ),
            ("look for a second torch on sys.path (PYTHONPATH, user site)",),
        )
