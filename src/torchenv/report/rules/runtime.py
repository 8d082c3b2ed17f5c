"""Rules on what ``doctor --deep`` saw when it imported torch inside the environment."""

from __future__ import annotations

from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import Severity
from torchenv.report.rules.base import Facts, Hit, rule

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@rule(
    "runtime-check-failed",
    ERROR,
    N_("Importing torch inside the environment failed, hung or crashed"),
    needs="deep",
)
def runtime_failed(f: Facts) -> Iterator[Hit]:
    rt = f.runtime
    if rt is None or f.environment.torch is None:
        return
    if rt.timed_out:
        yield Hit(
            Msg(
                "the torch check did not finish in {seconds}s: import torch or CUDA "
                "initialisation hangs",
                seconds=format(rt.seconds, ".0f"),
            ),
            (rt.error or Msg("timed out"),),
            (
                Msg(
                    "run `{command}` to see where it stops",
                    command="python -c 'import torch; torch.zeros(1).cuda()'",
                ),
            ),
        )
    elif rt.error:
        yield Hit(
            Msg("torch fails at run time: {error}", error=rt.error.splitlines()[-1][:200]),
            tuple(rt.error.strip().splitlines()[-6:]),
            (Msg("the static findings above usually name the cause; otherwise reinstall torch"),),
        )


@rule(
    "cuda-unavailable-at-runtime",
    ERROR,
    N_("A CUDA build on a machine with NVIDIA GPUs reports torch.cuda.is_available() == False"),
    needs="deep",
)
def cuda_unavailable(f: Facts) -> Iterator[Hit]:
    rt, torch = f.runtime, f.environment.torch
    if rt is None or rt.error or torch is None or not torch.cuda or not f.machine.gpus:
        return
    if rt.cuda_available is False:
        yield Hit(
            Msg("torch.cuda.is_available() is False although the machine has NVIDIA GPUs"),
            tuple(x for x in (rt.cuda_error, *rt.warnings) if x)
            or (Msg("no error text from torch"),),
            (Msg("see the other findings (driver, CUDA_VISIBLE_DEVICES, container access)"),),
        )


@rule(
    "cuda-op-failed",
    ERROR,
    N_("A small CUDA operation failed or gave a wrong result"),
    needs="deep",
)
def cuda_op_failed(f: Facts) -> Iterator[Hit]:
    rt = f.runtime
    if rt is not None and rt.op_ok is False:
        yield Hit(
            Msg(
                "a small matmul on the GPU failed: {error}",
                error=rt.op_error[:200] if rt.op_error else Msg("wrong result"),
            ),
            (rt.op_error or Msg("GPU result differs from the CPU result"),),
            (
                Msg(
                    "'no kernel image' means the build lacks this GPU's architecture; see "
                    "gpu-arch-not-in-build"
                ),
            ),
        )


@rule(
    "runtime-sees-fewer-gpus",
    WARNING,
    N_("torch sees fewer GPUs than the driver reports as visible"),
    needs="deep",
)
def fewer_gpus(f: Facts) -> Iterator[Hit]:
    rt = f.runtime
    visible = len(f.machine.visible_devices.visible_indices)
    if rt is None or not rt.cuda_available or rt.device_count is None:
        return
    if rt.device_count < visible:
        yield Hit(
            Msg(
                "torch sees {torch} GPU(s), the driver {driver}",
                torch=rt.device_count,
                driver=visible,
            ),
            (
                f"torch.cuda.device_count() = {rt.device_count}",
                Msg("visible GPUs: {count}", count=visible),
            ),
            (Msg("check CUDA_VISIBLE_DEVICES and MIG configuration"),),
        )


@rule(
    "runtime-torch-differs-from-files",
    WARNING,
    N_("The torch that Python imports is not the one whose files were read"),
    catalog="E1",
    needs="deep",
)
def torch_differs(f: Facts) -> Iterator[Hit]:
    rt, torch = f.runtime, f.environment.torch
    if rt is None or torch is None or rt.torch_version is None:
        return
    if rt.torch_version != torch.version:
        yield Hit(
            Msg(
                "Python imports torch {imported}, but the environment's files say {version}",
                imported=rt.torch_version,
                version=torch.version,
            ),
            (
                f"import torch -> {rt.torch_version}",
                f"{torch.location}/version.py -> {torch.version}",
            ),
            (Msg("look for a second torch on sys.path (PYTHONPATH, user site)"),),
        )
