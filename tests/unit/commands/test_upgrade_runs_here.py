"""upgrade refuses, before building anything, a locked stack this machine's driver cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import FakeRunner, h100, probe_context
from torchenv.backends.base import SpecRef
from torchenv.commands.lock import NoStackError
from torchenv.commands.upgrade import _check_runs_here
from torchenv.errors import ExitCode
from torchenv.models.plan import Stack
from torchenv.models.spec import Spec
from torchenv.probe.nvml import NvmlReading


def stack(variant: str, cuda: str | None) -> Stack:
    return Stack("2.13.0", variant, cuda, "3.11", "0.28.0", None, "pytorch-index")


def ref(tmp_path: Path) -> SpecRef:
    return SpecRef(Spec(name="a"), "0" * 64, tmp_path)


def test_a_cuda_13_stack_on_a_driver_of_cuda_12_is_refused_with_exit_3(tmp_path: Path) -> None:
    old_driver = NvmlReading("550.163.01", 12040, (h100(0),))
    ctx, _ = probe_context(tmp_path, FakeRunner(), nvml=old_driver)
    with pytest.raises(NoStackError) as caught:
        _check_runs_here(ctx, ref(tmp_path), stack("cu130", "13.0"))
    assert caught.value.exit_code is ExitCode.NO_STACK
    assert "would not run on this machine" in caught.value.message
    assert caught.value.plan.stack is None and caught.value.plan.rejected  # the reasons


def test_the_same_stack_on_a_new_enough_driver_goes_on(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path, FakeRunner(), nvml=NvmlReading("580.65.06", 13000, (h100(0),)))
    _check_runs_here(ctx, ref(tmp_path), stack("cu130", "13.0"))
    _check_runs_here(ctx, ref(tmp_path), stack("cpu", None))
