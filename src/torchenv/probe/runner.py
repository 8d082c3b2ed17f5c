"""The one gateway through which torchenv runs other programs.

Every call has a timeout. A tool that hangs (an ``nvidia-smi`` stuck on a wedged driver is the
classic case) is killed with its whole process group and reported as a result, never raised:
callers decide what a failure means.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from torchenv.models.process import Runner, RunResult

__all__ = ["RunResult", "Runner", "call_with_timeout", "run"]


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> RunResult:
    """Run ``argv`` (no shell) and capture its output as text."""
    args = tuple(argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # so a timeout can kill the tool and its children
            # the child only calls prctl (ctypes, loaded before the fork): no lock is taken
            preexec_fn=_DIE_WITH_PARENT,  # noqa: PLW1509
        )
    except FileNotFoundError:
        return RunResult(args, None, error="not found", seconds=time.monotonic() - start)
    except PermissionError:
        return RunResult(args, None, error="permission denied", seconds=time.monotonic() - start)
    except OSError as exc:
        return RunResult(args, None, error=f"could not start: {exc.strerror or exc}")
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException as exc:
        if not isinstance(exc, subprocess.TimeoutExpired):
            # Ctrl-C reaches torchenv's process group only: the tool runs in its own session
            _kill_group(proc)
            proc.wait()
            raise
        _kill_group(proc)
        try:
            stdout, stderr = proc.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:
            # A process in uninterruptible sleep cannot be reaped now; do not wait for it.
            stdout, stderr = "", ""
        return RunResult(
            args,
            None,
            stdout or "",
            stderr or "",
            seconds=time.monotonic() - start,
            error=f"timed out after {timeout:g}s",
        )
    return RunResult(args, proc.returncode, stdout, stderr, seconds=time.monotonic() - start)


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a child function that makes the kernel SIGKILL the tool when torchenv dies
    (prctl PR_SET_PDEATHSIG), so a killed `torchenv create` does not leave uv writing into a
    directory the next run is about to remove. The signal follows the thread that started the
    tool: run() is called from the main thread."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return die_with_parent


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


_DIE_WITH_PARENT = _parent_death_signal()

T = TypeVar("T")


def call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run an in-process call that may block in C (NVML on a wedged driver) in a daemon
    thread; raise TimeoutError when it does not return in time (the thread is abandoned)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="torchenv-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"timed out after {timeout:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return typing.cast(T, outcome["value"])
