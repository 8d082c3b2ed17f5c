"""The one gateway through which torchenv runs other programs, and calls into driver libraries.

Every call has a timeout. A tool that hangs (an ``nvidia-smi`` stuck on a wedged driver is the
classic case) is killed with its whole process group and reported as a result, never raised:
callers decide what a failure means. What a tool prints is kept up to a cap per stream
(``OUTPUT_LIMIT``): its beginning and its end, where the in-environment scripts print their JSON
and a failing tool its error; the pipes are drained to the end all the same, so the tool never
blocks on a full pipe. An interpreter printing 500 MB costs a few MB, not 1.5 GB.

``call_with_timeout`` runs an in-process call that may block in C (NVML, libcuda) where a
timeout can fire: in a forked child on Linux (see its docstring for why a thread is not enough).
"""

from __future__ import annotations

import collections
import contextlib
import faulthandler
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, TypeVar

from torchenv.models.process import Runner, RunResult

__all__ = ["OUTPUT_LIMIT", "CallDied", "RunResult", "Runner", "call_with_timeout", "run"]

# Per stream. The in-environment scripts print a JSON document of a few kB; nvidia-smi and nvcc
# a few lines; a verbose installer log stays well under it.
OUTPUT_LIMIT = 4 << 20
_CHUNK = 1 << 16


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    output_limit: int = OUTPUT_LIMIT,
) -> RunResult:
    """Run ``argv`` (no shell) and capture its output as text, at most ``output_limit``
    bytes of each stream (``RunResult.truncated`` says when more was left out)."""
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
    assert proc.stdout is not None and proc.stderr is not None  # noqa: S101  (PIPE above)
    drains = (_Drain(proc.stdout, output_limit), _Drain(proc.stderr, output_limit))
    try:
        finished = _finish(proc, drains, time.monotonic() + timeout)
    except BaseException:
        # Ctrl-C reaches torchenv's process group only: the tool runs in its own session
        _kill_group(proc)
        proc.wait()
        raise
    if not finished:
        _kill_group(proc)
        # the killed group closes its pipes; a process in uninterruptible sleep cannot be
        # reaped now, and is not waited for
        _finish(proc, drains, time.monotonic() + 1.0)
    (stdout, cut_out), (stderr, cut_err) = drains[0].text(), drains[1].text()
    for drain in drains:
        drain.close()
    return RunResult(
        args,
        proc.returncode if finished else None,
        stdout,
        stderr,
        seconds=time.monotonic() - start,
        error=None if finished else f"timed out after {timeout:g}s",
        truncated=cut_out or cut_err,
    )


def _finish(proc: subprocess.Popen[bytes], drains: Sequence[_Drain], deadline: float) -> bool:
    """Whether both pipes reached their end and the process exited before ``deadline``."""
    for drain in drains:
        drain.thread.join(max(0.0, deadline - time.monotonic()))
        if drain.thread.is_alive():
            return False
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _decode(data: bytes) -> str:
    # what text=True did: UTF-8 with replacement, universal newlines
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


class _Drain:
    """Reads one pipe to its end in a thread, keeping the first three quarters of ``limit``
    bytes and the last quarter."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._tail_limit = limit // 4
        self._head_limit = limit - self._tail_limit
        self._head = bytearray()
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._total = 0
        self.thread = threading.Thread(target=self._read, name="torchenv-drain", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        fd = self._stream.fileno()
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError:
                return
            if not chunk:
                return
            self._total += len(chunk)
            room = self._head_limit - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            if chunk and self._tail_limit:
                self._tail.append(chunk)
                self._tail_size += len(chunk)
                # drop whole chunks while the rest still holds the last tail_limit bytes
                while self._tail_size - len(self._tail[0]) >= self._tail_limit:
                    self._tail_size -= len(self._tail.popleft())

    def text(self) -> tuple[str, bool]:
        """What was kept, as text, and whether some of the output was left out."""
        head = bytes(self._head)
        tail = b"".join(list(self._tail))[-self._tail_limit :] if self._tail_limit else b""
        left_out = self._total - len(head) - len(tail)
        if left_out <= 0:
            return _decode(head + tail), False
        note = f"\n[torchenv: {left_out} bytes of output left out here]\n"
        return _decode(head) + note + _decode(tail), True

    def close(self) -> None:
        # a thread still reading (a pipe held open by a process that escaped the kill) keeps
        # its descriptor: closing it under the thread could make it read a reused one
        if not self.thread.is_alive():
            self._stream.close()


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a child function that makes the kernel SIGKILL the tool when torchenv dies
    (prctl PR_SET_PDEATHSIG), so a killed `torchenv create` does not leave uv writing into a
    directory the next run is about to remove. The signal follows the thread that started the
    tool: run() is called from the main thread."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return die_with_parent


def _prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # noqa: PLC0415

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


_PRCTL = _prctl()
_DIE_WITH_PARENT = _parent_death_signal()

T = TypeVar("T")

# NvmlReading of eight GPUs pickles to ~2 kB
_ANSWER_LIMIT = 1 << 20
# fork() without exec is safe enough for a short call on Linux; elsewhere (macOS: the
# Objective-C runtime aborts in a forked child) the call runs in a thread
_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")


class CallDied(Exception):
    """The isolated call ended without an answer: the child crashed (a segfault in the driver
    library) or answered what cannot be read."""


def call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """``fn()``, or TimeoutError when it does not return within ``timeout`` seconds.

    A thread is not enough: CPython's ctypes calls ``dlopen()`` without releasing the GIL
    (Modules/_ctypes/callproc.c, ``py_dl_open``; only Windows' ``LoadLibraryExW`` is wrapped in
    ``Py_BEGIN_ALLOW_THREADS``), so a library whose constructor blocks (libnvidia-ml on a
    wedged driver) stops every thread, and ``join(timeout)`` never returns. On Linux ``fn``
    therefore runs in a forked child (a few milliseconds in all) that sends its answer back through
    a pipe; after ``timeout`` the child is SIGKILLed. Where fork is unavailable, a daemon thread
    (abandoned on a timeout) is the fallback. ``fn``'s exceptions are raised here; a child that
    dies without answering is ``CallDied``.
    """
    if _FORK:
        return _call_in_child(fn, timeout)
    return _call_in_thread(fn, timeout)


def _call_in_child(fn: Callable[[], T], timeout: float) -> T:
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:  # EAGAIN, ENOMEM: no child to be had, so the thread it is
        os.close(read_end)
        os.close(write_end)
        return _call_in_thread(fn, timeout)
    if pid == 0:  # pragma: no cover  (the child; it never returns)
        os.close(read_end)
        _answer_from_child(fn, write_end, parent)
    os.close(write_end)
    try:
        data, answered = _read_answer(read_end, time.monotonic() + timeout)
    except BaseException:
        _reap(pid, kill=True)
        raise
    finally:
        os.close(read_end)
    status = _reap(pid, kill=not answered)
    if not answered:
        raise TimeoutError(f"timed out after {timeout:g}s")
    try:
        # the answer of a copy of this very process, not data from outside: pickle is safe
        kind, value = pickle.loads(data)  # noqa: S301
    except Exception:  # noqa: BLE001  (empty, cut or unreadable: the child died mid-way)
        raise CallDied(f"the call ended without an answer{_how_it_ended(status)}") from None
    if kind == "error":
        raise value
    return typing.cast(T, value)


def _answer_from_child(fn: Callable[[], Any], fd: int, parent: int) -> typing.NoReturn:
    """In the forked child: run ``fn``, write the pickled outcome to ``fd``, and ``_exit``
    (no atexit handlers, no flush of buffers copied from the parent)."""
    status = 0
    try:
        # a crash here is reported as CallDied: no Python stack dump on the user's terminal
        faulthandler.disable()
        if _PRCTL is not None:
            _PRCTL(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with torchenv
            if os.getppid() != parent:
                os._exit(1)
        try:
            outcome: tuple[str, Any] = ("value", fn())
        except BaseException as exc:  # noqa: BLE001  (re-raised in the parent)
            outcome = ("error", exc)
        try:
            data = pickle.dumps(outcome)
        except Exception:  # noqa: BLE001  (an answer that does not pickle)
            data = pickle.dumps(("error", CallDied(f"unpicklable answer: {outcome[1]!r:.200}")))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:  # noqa: BLE001  (whatever happens, the child must not return)
        status = 1
    finally:
        os._exit(status)


def _read_answer(fd: int, deadline: float) -> tuple[bytes, bool]:
    """What the child wrote, and whether it finished (closed the pipe) before ``deadline``."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"", False
        if not poller.poll(remaining * 1000):
            continue
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return b"".join(chunks), True
        size += len(chunk)
        if size > _ANSWER_LIMIT:
            return b"", True  # not an answer this code sends: treated as none
        chunks.append(chunk)


def _reap(pid: int, *, kill: bool) -> int | None:
    """The child's wait status, once it has exited (killed first when ``kill``); None when it
    cannot be reaped at once (uninterruptible sleep in the driver): a daemon thread then
    waits for it, so no zombie is left behind."""
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    delay = 0.0005
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        if time.monotonic() > deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    threading.Thread(target=_wait_quietly, args=(pid,), name="torchenv-reap", daemon=True).start()
    return None


def _wait_quietly(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _how_it_ended(status: int | None) -> str:
    if status is None:
        return ""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f" (killed by {signal.Signals(number).name})"
        except ValueError:
            return f" (killed by signal {number})"
    return f" (exit code {os.WEXITSTATUS(status)})" if os.WEXITSTATUS(status) else ""


def _call_in_thread(fn: Callable[[], T], timeout: float) -> T:
    """The fallback: a daemon thread, abandoned when it does not return in time (it cannot
    stop a call that holds the GIL)."""
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
