"""``doctor --deep``: import torch inside the environment, in a subprocess with a timeout."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from torchenv.models import DecodeError, RuntimeCheck, from_data
from torchenv.probe.context import ProbeContext
from torchenv.probe.interpreter import extract_payload

SCRIPT = Path(__file__).parent / "scripts" / "deep_check.py"


def parse_runtime(data: Any, seconds: float) -> RuntimeCheck:
    """The check's JSON as a RuntimeCheck (field names match the model)."""
    try:
        if not isinstance(data, dict):
            raise DecodeError("$: not an object")
        return from_data(RuntimeCheck, {**data, "ran": True, "seconds": seconds})
    except DecodeError as exc:
        return RuntimeCheck(ran=False, seconds=seconds, error=f"the check printed odd data: {exc}")


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
