"""``doctor --deep``: import torch inside the environment, in a subprocess with a timeout."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from torchenv.models import RuntimeCheck, RuntimeDevice
from torchenv.probe.context import ProbeContext
from torchenv.probe.interpreter import extract_payload

SCRIPT = Path(__file__).parent / "scripts" / "deep_check.py"


def parse_runtime(data: Any, seconds: float) -> RuntimeCheck:
    if not isinstance(data, dict):
        return RuntimeCheck(ran=False, seconds=seconds, error="the check printed no JSON object")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    devices = tuple(
        RuntimeDevice(int(d["index"]), str(d["name"]), str(d["capability"]))
        for d in data.get("devices") or ()
        if isinstance(d, dict) and {"index", "name", "capability"} <= d.keys()
    )
    cudnn = data.get("cudnn_version")
    count = data.get("device_count")
    return RuntimeCheck(
        ran=True,
        seconds=seconds,
        error=text("error"),
        torch_version=text("torch_version"),
        cuda_version=text("cuda_version"),
        cuda_available=data.get("cuda_available")
        if isinstance(data.get("cuda_available"), bool)
        else None,
        cuda_error=text("cuda_error"),
        device_count=count if isinstance(count, int) else None,
        devices=devices,
        arch_list=tuple(str(a) for a in data.get("arch_list") or ()),
        cudnn_version=cudnn if isinstance(cudnn, int) else None,
        nccl_version=text("nccl_version"),
        op_ok=data.get("op_ok") if isinstance(data.get("op_ok"), bool) else None,
        op_error=text("op_error"),
        warnings=tuple(str(w) for w in data.get("warnings") or ()),
    )


def run_runtime_check(ctx: ProbeContext, python: str | None, timeout: float) -> RuntimeCheck:
    if python is None:
        return RuntimeCheck(ran=False, error="the environment has no interpreter to run")
    cookie = f"--torchenv-{secrets.token_hex(8)}--"
    result = ctx.runner([python, str(SCRIPT), cookie], timeout=timeout, env=ctx.env)
    if result.error is not None and result.error.startswith("timed out"):
        return RuntimeCheck(ran=True, seconds=result.seconds, timed_out=True, error=result.error)
    try:
        data = extract_payload(result.stdout.replace("\r\n", "\n"), cookie)
    except ValueError:
        # a crash (segfault, abort) before the JSON: report what the process said
        tail = (result.stderr or result.stdout).strip()[-2000:]
        return RuntimeCheck(
            ran=True, seconds=result.seconds, error=tail or result.describe_failure()
        )
    return parse_runtime(data, result.seconds)
