"""The subprocess gateway with real processes, and the isolated calls into driver libraries."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from builders import FakeRunner, fake_tool, fixture_text, probe_context
from torchenv.models import Gpu, ProbeNote
from torchenv.probe.nvidia import probe_driver_and_gpus
from torchenv.probe.nvml import NvmlReading, NvmlUnavailable
from torchenv.probe.runner import call_with_timeout, run

pytestmark = pytest.mark.integration


def test_output_and_exit_code() -> None:
    result = run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], timeout=30)
    assert (result.returncode, result.stdout.strip(), result.ok) == (3, "out", False)
    assert result.describe_failure() == "exit code 3: out"


def test_missing_program() -> None:
    result = run(["/nonexistent/tool"], timeout=5)
    assert result.error == "not found" and result.returncode is None


def test_timeout_kills_the_process_group() -> None:
    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    result = run([sys.executable, "-c", code], timeout=0.5)
    assert result.error == "timed out after 0.5s" and result.returncode is None
    assert result.seconds < 30


# --------------------------------------------------------------------------- output caps
def test_output_over_the_cap_keeps_its_beginning_and_end() -> None:
    code = (
        "import sys; sys.stdout.write('BEGIN'); sys.stdout.flush();"
        "sys.stdout.buffer.write(b'x' * (64 << 20)); sys.stdout.write('END');"
        "sys.stderr.write('a short error')"
    )
    result = run([sys.executable, "-c", code], timeout=120, output_limit=1 << 20)
    # the child wrote all 64 MiB and exited: the pipe was drained past the cap
    assert result.returncode == 0 and result.truncated
    assert result.stdout.startswith("BEGIN") and result.stdout.endswith("END")
    assert "bytes of output left out here]" in result.stdout
    assert len(result.stdout) < (1 << 20) + 100
    assert result.stderr == "a short error"


def test_flooded_stderr_is_cut_and_stdout_kept_whole() -> None:
    code = "import sys; print('{\"ok\": true}'); sys.stderr.buffer.write(b'e' * (64 << 20))"
    result = run([sys.executable, "-c", code], timeout=120, output_limit=1 << 20)
    assert result.ok and result.truncated
    assert result.stdout == '{"ok": true}\n' and len(result.stderr) < (1 << 20) + 100


def test_output_under_the_cap_is_whole_with_newlines_translated() -> None:
    code = "import sys; sys.stdout.buffer.write('é\\r\\nline\\rlast'.encode() * 1000)"
    result = run([sys.executable, "-c", code], timeout=60, output_limit=1 << 20)
    assert not result.truncated and result.stdout == "é\nline\nlast" * 1000


def test_endless_output_still_times_out() -> None:
    code = "import sys\nwhile True: sys.stdout.write('y' * 65536)"
    result = run([sys.executable, "-c", code], timeout=1, output_limit=1 << 20)
    assert result.error == "timed out after 1s" and result.truncated
    assert len(result.stdout) < (1 << 20) + 100


# --------------------------------------------------------------------------- driver libraries
def _slow_library(tmp_path: Path) -> Path:
    """A shared library whose constructor sleeps for a minute, as libnvidia-ml's does on a
    wedged driver; dlopen() holds the GIL meanwhile."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a library whose constructor blocks")
    source = tmp_path / "slow.c"
    source.write_text(
        "#include <unistd.h>\n__attribute__((constructor)) static void slow(void) { sleep(60); }\n"
    )
    library = tmp_path / "libslow.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux")
def test_blocking_library_load_times_out_as_a_note(tmp_path: Path) -> None:
    library = _slow_library(tmp_path)

    def load() -> Any:
        return ctypes.CDLL(str(library))

    runner = FakeRunner()
    runner.on_program("nvidia-smi", fixture_text("nvidia", "query-h100x2.csv"))
    ctx, _ = probe_context(tmp_path, runner)
    fake_tool(tmp_path, "nvidia-smi")
    ctx.nvml, ctx.libcuda, ctx.tool_timeout = load, load, 1.0
    start = time.monotonic()
    driver, gpus = probe_driver_and_gpus(ctx)
    # generous: the constructor sleeps 60 s, so only a timeout that fired returns before
    assert time.monotonic() - start < 30, "the timeout did not fire"
    assert ProbeNote("nvml", "timed out after 1s") in driver.notes
    assert ProbeNote("libcuda.so.1", "timed out after 1s") in driver.notes
    assert driver.source == "nvidia-smi" and len(gpus) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux")
def test_a_crash_in_the_driver_library_is_a_note(tmp_path: Path) -> None:
    def crash() -> Any:
        os.kill(os.getpid(), signal.SIGSEGV)

    ctx, _ = probe_context(tmp_path)
    ctx.nvml = crash
    driver, _ = probe_driver_and_gpus(ctx)
    assert driver.notes[0] == ProbeNote(
        "nvml", "the call ended without an answer (killed by SIGSEGV)"
    )


def test_answers_and_errors_cross_the_isolation() -> None:
    reading = NvmlReading("580.65.06", 13000, (Gpu(0, "NVIDIA B200", None, "10.0"),))
    assert call_with_timeout(lambda: reading, 10) == reading
    with pytest.raises(NvmlUnavailable, match="nvmlInit failed"):
        call_with_timeout(_raise_unavailable, 10)


def _raise_unavailable() -> NvmlReading:
    raise NvmlUnavailable("nvmlInit failed: Driver Not Loaded")
