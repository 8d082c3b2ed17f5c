"""Run ``scripts/verify_check.py`` in the target interpreter and read its answer.

The pattern of ``doctor --deep`` (probe/runtime.py): the script prints one JSON document between
two random cookie lines, so output of sitecustomize or ``.pth`` hooks (and torch's own warnings)
cannot be mistaken for it; the runner kills the whole process group on a timeout, spawned NCCL
workers and inductor's compile processes included. A run that gives no usable answer raises
``ExternalError`` naming the interpreter and the end of what it wrote to stderr.
"""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchenv.errors import ExternalError
from torchenv.i18n import Msg
from torchenv.models.codec import DecodeError, from_data
from torchenv.models.process import Runner, RunResult
from torchenv.models.verify import AllocatorState, VerifyCheck
from torchenv.untrusted.text import load_json

SCRIPT = Path(__file__).parent / "scripts" / "verify_check.py"
PROGRESS = "torchenv-verify: running "  # the script's stderr line before each check
TAIL_LINES = 12


@dataclass(frozen=True)
class ScriptOutput:
    facts: dict[str, Any]  # torch version, CUDA, devices, arch list, ... (see the script)
    checks: tuple[VerifyCheck, ...]
    perf: tuple[dict[str, Any], ...]  # {"check", "gpu", "value", "unit"}
    seconds: float  # the process, interpreter start-up included
    allocator: tuple[AllocatorState, ...] = ()  # one per GPU, after its checks


def stderr_tail(result: RunResult, lines: int = TAIL_LINES) -> str:
    text = (result.stderr or "").strip() or (result.stdout or "").strip()
    return "\n".join(text.splitlines()[-lines:])[-3000:]


def _last_check(result: RunResult) -> str | None:
    """The check the script had started last (its stderr progress lines)."""
    for line in reversed((result.stderr or "").splitlines()):
        if line.startswith(PROGRESS):
            return line[len(PROGRESS) :].strip()
    return None


def _how_it_ended(code: int | None) -> str:
    """How the script ended, put after "ended without a result": a ``Msg`` such as
    ``" (exit code 1)"``, or nothing when it exited with 0."""
    if code is None or code == 0:
        return ""
    if code < 0:  # subprocess reports death by signal N as -N
        try:
            return Msg(" (killed by {signal})", signal=signal.Signals(-code).name)
        except ValueError:
            return Msg(" (killed by signal {number})", number=-code)
    return Msg(" (exit code {code})", code=code)


def _extract(stdout: str, cookie: str) -> Any:
    parts = stdout.replace("\r\n", "\n").split(f"\n{cookie}\n")
    if len(parts) < 3:
        raise ValueError("no result between the cookie lines")
    return load_json(parts[1])  # ValueError for JSON nested too deeply, too


def _failure(message: str, result: RunResult, hint: str) -> ExternalError:
    """``message`` (a ``Msg``: "The verify checks in PYTHON ...") and the end of the output."""
    tail = stderr_tail(result)
    if tail:
        message = Msg(
            "{message}\nThe end of its output:\n  {output}",
            message=message,
            output=tail.replace("\n", "\n  "),
        )
    return ExternalError("verify-script-failed", message, hint)


PERF_UNITS = {"perf-matmul-bf16": "TFLOP/s", "perf-memory-bandwidth": "GB/s"}

# the script's names for the allocator's figures (scripts/verify_gpu.py, ALLOCATOR_STATS)
ALLOCATOR_FIGURES = (
    "allocated_bytes",
    "reserved_bytes",
    "peak_allocated_bytes",
    "peak_reserved_bytes",
    "inactive_split_bytes",
    "alloc_retries",
    "ooms",
)


def parse_allocator(entry: Any, where: str) -> AllocatorState:
    """One GPU's allocator reading; DecodeError unless every figure is a whole number >= 0."""
    if not isinstance(entry, dict) or type(entry.get("gpu")) is not int or entry["gpu"] < 0:
        raise DecodeError(f"{where}: expected {{gpu, figures...}} with a GPU index")
    error = entry.get("error")
    if error is not None:
        return AllocatorState(entry["gpu"], error=str(error)[:600])
    figures: dict[str, int] = {}
    for name in ALLOCATOR_FIGURES:
        value = entry.get(name, 0)
        if type(value) is not int or value < 0:
            raise DecodeError(f"{where}.{name}: expected a whole number >= 0, got {value!r}")
        figures[name] = value
    reserved, inactive = figures["reserved_bytes"], figures["inactive_split_bytes"]
    fragmentation = round(min(inactive / reserved, 1.0), 4) if reserved else 0.0
    return AllocatorState(
        entry["gpu"],
        allocated_bytes=figures["allocated_bytes"],
        reserved_bytes=reserved,
        peak_allocated_bytes=figures["peak_allocated_bytes"],
        peak_reserved_bytes=figures["peak_reserved_bytes"],
        inactive_split_bytes=inactive,
        fragmentation=fragmentation,
        alloc_retries=figures["alloc_retries"],
        ooms=figures["ooms"],
    )


def parse_output(data: Any, seconds: float) -> ScriptOutput:
    """The script's JSON as a ScriptOutput; DecodeError when it does not have that shape."""
    if not isinstance(data, dict):
        raise DecodeError("$: not an object")
    if "error" in data:
        raise DecodeError(f"the script failed: {str(data['error']).strip()[-1500:]}")
    facts, checks, perf = data.get("facts"), data.get("checks"), data.get("perf", [])
    allocator = data.get("allocator", [])  # one per GPU; optional
    if not isinstance(facts, dict) or not isinstance(checks, list) or not isinstance(perf, list):
        raise DecodeError("$: expected facts (object), checks and perf (lists)")
    if not isinstance(allocator, list):
        raise DecodeError("$.allocator: expected a list")
    parsed = tuple(from_data(VerifyCheck, c, f"$.checks[{i}]") for i, c in enumerate(checks))
    for i, entry in enumerate(perf):
        ok = isinstance(entry, dict) and isinstance(entry.get("gpu"), int)
        if not ok or not isinstance(entry.get("value"), (int, float)):
            raise DecodeError(f"$.perf[{i}]: expected {{check, gpu, value, unit}}")
        # what the script measures (scripts/verify_gpu.py), as the verify/1 schema lists it
        check = entry.get("check")
        if not isinstance(check, str) or PERF_UNITS.get(check) != entry.get("unit"):
            raise DecodeError(f"$.perf[{i}]: not a measurement the script makes")
    states = tuple(parse_allocator(e, f"$.allocator[{i}]") for i, e in enumerate(allocator))
    return ScriptOutput(facts, parsed, tuple(perf), seconds, states)


def run_script(
    runner: Runner,
    python: str,
    *,
    quick: bool,
    timeout: float,
    tmp: str,
    env: Mapping[str, str] | None = None,
) -> ScriptOutput:
    """Run the checks in ``python``; ExternalError when they give no usable answer."""
    cookie = f"--torchenv-{secrets.token_hex(8)}--"
    options = json.dumps({"quick": quick, "tmp": tmp})
    # cwd: the scratch directory, so nothing is written where the user happens to stand
    result = runner([python, str(SCRIPT), cookie, options], timeout=timeout, env=env, cwd=tmp)
    if result.error is not None and result.error.startswith("timed out"):
        during = _last_check(result)
        limit = f"{timeout:g}"
        if during:
            message = Msg(
                "The verify checks in {python} did not finish within {seconds}s (it was running "
                "{check}) and were stopped.",
                python=python,
                seconds=limit,
                check=during,
            )
        else:
            message = Msg(
                "The verify checks in {python} did not finish within {seconds}s and were stopped.",
                python=python,
                seconds=limit,
            )
        raise _failure(
            message,
            result,
            Msg("give it longer with --timeout SECONDS, or run only the fast checks with --quick"),
        )
    if result.error is not None:
        run = f"{python} -c 'import sys; print(sys.version)'"
        raise ExternalError(
            "verify-could-not-start",
            Msg(
                "Could not start {python} to run the verify checks: {reason}.",
                python=python,
                reason=result.error,
            ),
            Msg(
                "check that the environment's interpreter exists and runs ({command})", command=run
            ),
        )
    try:
        data = _extract(result.stdout, cookie)
    except ValueError:
        how = _how_it_ended(result.returncode)
        crash = f"{python} -c 'import torch'"
        during = _last_check(result)
        if during:
            message = Msg(
                "The verify checks in {python} ended without a result{how} while running {check}.",
                python=python,
                how=how,
                check=during,
            )
        else:
            message = Msg(
                "The verify checks in {python} ended without a result{how}.",
                python=python,
                how=how,
            )
        raise _failure(
            message,
            result,
            Msg(
                "a crash while importing torch or in a CUDA call ends the process; run "
                "`{command}` to see it",
                command=crash,
            ),
        ) from None
    try:
        return parse_output(data, result.seconds)
    except DecodeError as exc:
        raise _failure(
            Msg(
                "The verify checks in {python} printed a result torchenv cannot read ({reason}).",
                python=python,
                reason=str(exc),
            ),
            result,
            Msg("this is a bug in torchenv's check script; report it with this output"),
        ) from None
