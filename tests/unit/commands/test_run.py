"""`torchenv run` (commands/run.py, cli/run.py): the environment as activation leaves it, exit
codes passed through (signals as 128+N), a command that is not there, --memory-snapshot's DIR
refused when it is no directory of this user's, the no-CUDA line, and the hook and rendering
where CUDA may be used. Fake environments and probes; the commands run for real (sh)."""

from __future__ import annotations

import fcntl
import os
import pickle
import select
import shutil
import signal
import stat
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from builders import FakeEnv, FakeRunner, add_torch, make_venv, probe_context
from torchenv import cli
from torchenv.cli import common
from torchenv.commands import run as run_module
from torchenv.models.process import RunResult
from torchenv.probe.context import ProbeContext

CUDA_TORCH = ("2.14.1+cu130", "13.0")


class Setup:
    def __init__(self, tmp_path: Path, env: FakeEnv, ctx: ProbeContext, runner: FakeRunner):
        self.tmp, self.env, self.ctx, self.runner = tmp_path, env, ctx, runner
        self.out = tmp_path / "out"
        self.out.mkdir()

    def tool(self, name: str, script: str) -> Path:
        """An executable in the environment's bin/."""
        path = self.env.prefix / "bin" / name
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)
        return path


def setup(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    torch: tuple[str, str | None] | None = ("2.13.0+cpu", None),
    gpu: bool = False,
    environ: dict[str, str] | None = None,
    conda: bool = False,
) -> Setup:
    env = make_venv(tmp_path)
    if conda:
        (env.prefix / "pyvenv.cfg").unlink()
        (env.prefix / "conda-meta").mkdir()
    if torch is not None:
        add_torch(env.site, torch[0], cuda=torch[1], arch=None)
    runner = FakeRunner()
    runner.on_interpreter(env)
    # OUT: where the commands write what they saw
    ctx, host = probe_context(
        tmp_path, runner, env={"OUT": str(tmp_path / "out"), **(environ or {})}
    )
    if gpu:
        host.device_nodes("nvidia0")
    # the fake PATH holds only what the tests put there: the tools of their commands
    for tool in ("sh", "cp", "ln"):
        (tmp_path / "bin" / tool).symlink_to(shutil.which(tool) or tool)
    monkeypatch.setattr(common, "context", lambda: ctx)
    return Setup(tmp_path, env, ctx, runner)


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["run", *args])
    out, err = capfd.readouterr()
    return code, out, err


def test_exit_code_passes_through(tmp_path: Path, monkeypatch: Any, capfd: Any) -> None:
    s = setup(tmp_path, monkeypatch)
    assert run(capfd, "--prefix", str(s.env.prefix), "--", "sh", "-c", "exit 3")[0] == 3
    assert run(capfd, "--prefix", str(s.env.prefix), "sh", "-c", "exit 0")[0] == 0


def test_death_by_signal_is_128_plus_n(tmp_path: Path, monkeypatch: Any, capfd: Any) -> None:
    s = setup(tmp_path, monkeypatch)
    code, _, _ = run(capfd, "--prefix", str(s.env.prefix), "--", "sh", "-c", "kill -TERM $$")
    assert code == 128 + signal.SIGTERM == 143
    code, _, _ = run(capfd, "--prefix", str(s.env.prefix), "--", "sh", "-c", "kill -KILL $$")
    assert code == 137


def test_the_environment_is_activated(tmp_path: Path, monkeypatch: Any, capfd: Any) -> None:
    other = tmp_path / "other-venv"
    s = setup(tmp_path, monkeypatch, environ={"VIRTUAL_ENV": str(other), "PYTHONHOME": "/x"})
    s.tool("where", 'echo "$0|$VIRTUAL_ENV|$PATH|${PYTHONHOME-unset}|$*"\n')
    code, out, err = run(capfd, "--prefix", str(s.env.prefix), "--", "where", "-x", "--prefix")
    assert code == 0, err
    argv0, venv, path, home, args = out.strip().split("|")
    assert argv0 == str(s.env.prefix / "bin" / "where") and venv == str(s.env.prefix)
    assert path.split(os.pathsep) == [str(s.env.prefix / "bin"), str(tmp_path / "bin")]
    assert home == "unset" and args == "-x --prefix"  # options after COMMAND are its own


def test_a_conda_environment_sets_conda_prefix(
    tmp_path: Path, monkeypatch: Any, capfd: Any
) -> None:
    s = setup(tmp_path, monkeypatch, conda=True, environ={"VIRTUAL_ENV": str(tmp_path / "v")})
    s.tool("where", 'echo "$CONDA_PREFIX|$CONDA_DEFAULT_ENV|${VIRTUAL_ENV-unset}"\n')
    code, out, _ = run(capfd, "--prefix", str(s.env.prefix), "--", "where")
    assert (code, out.strip()) == (0, f"{s.env.prefix}|env|unset")


def test_command_not_found_or_not_executable(tmp_path: Path, monkeypatch: Any, capfd: Any) -> None:
    s = setup(tmp_path, monkeypatch)
    code, out, err = run(capfd, "--prefix", str(s.env.prefix), "--", "no-such-tool", "x")
    assert (code, out) == (2, "")
    assert "no-such-tool: command not found in the environment's bin/ or on PATH" in err
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    code, _, err = run(capfd, "--prefix", str(s.env.prefix), "--", str(plain))
    assert code == 2 and f"{plain} is not an executable file" in err
    (s.env.prefix / "bin" / "noshebang").write_bytes(b"\x7fELF-not-really")
    (s.env.prefix / "bin" / "noshebang").chmod(0o755)
    code, _, err = run(capfd, "--prefix", str(s.env.prefix), "--", "noshebang")
    assert code == 2 and "Cannot run noshebang: Exec format error" in err


def test_usage_errors(tmp_path: Path, monkeypatch: Any, capfd: Any) -> None:
    s = setup(tmp_path, monkeypatch)
    code, _, err = run(capfd, "--prefix", str(s.env.prefix))
    assert code == 2 and "Missing argument 'COMMAND...'" in err
    code, _, err = run(capfd, "--prefix", str(tmp_path / "absent"), "--", "sh")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capfd, "--prefix", str(s.env.prefix), "--python", "/x", "--", "sh")
    assert code == 2 and "either --python or --prefix" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capfd, "--prefix", str(empty), "--", "sh")
    assert code == 2 and "has no Python interpreter" in err


@pytest.mark.parametrize("kind", ["file", "symlink", "dangling", "fifo"])
def test_snapshot_dir_refused(tmp_path: Path, monkeypatch: Any, capfd: Any, kind: str) -> None:
    s = setup(tmp_path, monkeypatch, torch=CUDA_TORCH, gpu=True)
    target = tmp_path / "snaps"
    if kind == "file":
        target.write_text("x")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        real = tmp_path / "real"
        if kind == "symlink":
            real.mkdir(mode=0o700)
        target.symlink_to(real)
    ran = s.out / "ran"
    args = ("--prefix", str(s.env.prefix), "--memory-snapshot", str(target))
    code, _, err = run(capfd, *args, "--", "sh", "-c", f"touch {ran}")
    assert code == 2 and f"Cannot keep memory snapshots in {target}: it is" in err
    assert not ran.exists()  # refused before the command ran


def test_max_entries_must_be_a_positive_number(
    tmp_path: Path, monkeypatch: Any, capfd: Any
) -> None:
    s = setup(tmp_path, monkeypatch, environ={run_module.MAX_ENTRIES_VAR: "-5"})
    args = ("--prefix", str(s.env.prefix), "--memory-snapshot", str(tmp_path / "d"))
    code, _, err = run(capfd, *args, "--", "sh", "-c", "exit 0")
    assert code == 2 and "TORCHENV_MEMORY_SNAPSHOT_MAX_ENTRIES='-5' is not a positive" in err


@pytest.mark.parametrize(
    ("torch", "gpu", "why"),
    [
        (("2.13.0+cpu", None), True, "CPU build"),
        (CUDA_TORCH, False, "no GPU"),
        (None, True, "torch is not installed"),
    ],
)
def test_no_cuda_runs_the_command_unchanged(
    tmp_path: Path,
    monkeypatch: Any,
    capfd: Any,
    torch: tuple[str, str | None] | None,
    gpu: bool,
    why: str,
) -> None:
    s = setup(tmp_path, monkeypatch, torch=torch, gpu=gpu, environ={"PYTHONPATH": "/mine"})
    s.tool("show", 'echo "$PYTHONPATH|${TORCHENV_MEMORY_SNAPSHOT_DIR-unset}"; exit 5\n')
    snaps = tmp_path / "snaps"
    code, out, err = run(
        capfd, "--prefix", str(s.env.prefix), "--memory-snapshot", str(snaps), "--", "show"
    )
    assert code == 5 and out.strip() == "/mine|unset"
    assert err.splitlines() == [
        f"torchenv: no CUDA in {s.env.prefix} ({why}): --memory-snapshot records nothing; "
        "running the command unchanged"
    ]
    assert snaps.is_dir() and (snaps.stat().st_mode & 0o777) == 0o700


def viz_renderer(s: Setup, fail: str | None = None) -> list[list[str]]:
    """The environment's `python -m torch.cuda._memory_viz VIEW PICKLE -o OUT`, faked."""
    calls: list[list[str]] = []

    def handler(argv: list[str]) -> RunResult:
        calls.append(argv)
        view, source, output = argv[3], Path(argv[4]), Path(argv[6])
        if fail is not None and source.name == fail:
            return RunResult(tuple(argv), 1, "", "EOFError: Ran out of input\n", 0.1)
        data = pickle.loads(source.read_bytes())  # noqa: S301  (the test's own)
        output.write_text(f"<html>{view} {data}</html>")
        return RunResult(tuple(argv), 0, "", "", 0.1)

    s.runner.on(lambda argv: argv[1:3] == ["-m", "torch.cuda._memory_viz"], handler)
    return calls


def test_with_cuda_the_hook_records_and_snapshots_are_rendered(
    tmp_path: Path, monkeypatch: Any, capfd: Any
) -> None:
    s = setup(tmp_path, monkeypatch, torch=CUDA_TORCH, gpu=True, environ={"PYTHONPATH": "/mine"})
    calls = viz_renderer(s, fail="oom-77-1.pickle")
    snaps = tmp_path / "snaps"
    snaps.mkdir(mode=0o700)
    old = snaps / "snapshot-1.pickle"  # an earlier run's: left alone
    old.write_bytes(pickle.dumps("old"))
    elsewhere = tmp_path / "elsewhere.pickle"
    elsewhere.write_bytes(pickle.dumps("not this run's"))
    # what the hook would write, and what it never writes; the command reports its environment
    s.tool(
        "train",
        'echo "$PYTHONPATH" > "$OUT/pythonpath"\n'
        'echo "$TORCHENV_MEMORY_SNAPSHOT_DIR" > "$OUT/dir"\n'
        'cp "${PYTHONPATH%%:*}/sitecustomize.py" "$OUT/"\n'
        'cp "$OUT/good.pickle" "$TORCHENV_MEMORY_SNAPSHOT_DIR/snapshot-77.pickle"\n'
        ': > "$TORCHENV_MEMORY_SNAPSHOT_DIR/oom-77-1.pickle"\n'
        'cp "$OUT/good.pickle" "$TORCHENV_MEMORY_SNAPSHOT_DIR/other-77.pickle"\n'
        f'ln -s {elsewhere} "$TORCHENV_MEMORY_SNAPSHOT_DIR/snapshot-78.pickle"\n'
        'cp "$OUT/good.pickle" "$TORCHENV_MEMORY_SNAPSHOT_DIR/.snapshot-79.pickle.partial"\n'
        "exit 7\n",
    )
    (s.out / "good.pickle").write_bytes(pickle.dumps({"segments": [], "device_traces": []}))
    code, _, err = run(
        capfd, "--prefix", str(s.env.prefix), "--memory-snapshot", str(snaps), "--", "train"
    )
    assert code == 7, err
    hook_dir, rest = (s.out / "pythonpath").read_text().strip().split(os.pathsep)
    assert rest == "/mine" and (s.out / "dir").read_text().strip() == str(snaps)
    assert not Path(hook_dir).exists()  # the scratch directory is gone
    assert (s.out / "sitecustomize.py").read_bytes() == run_module.HOOK_SCRIPT.read_bytes()
    assert {Path(c[4]).name for c in calls} == {"snapshot-77.pickle", "oom-77-1.pickle"}
    assert all(c[0] == s.env.python and not c[6].endswith(".html") for c in calls)
    lines = err.splitlines()
    assert f"torchenv: recording the CUDA allocator's history into {snaps}" in lines
    assert f"torchenv: memory snapshot: {snaps}/snapshot-77.html" in lines
    assert f"torchenv: memory snapshot: {snaps}/snapshot-77-segments.html" in lines
    assert any(
        line.startswith("torchenv: warning: memory snapshot not rendered: oom-77-1.pickle")
        and "EOFError" in line
        for line in lines
    )
    page = (snaps / "snapshot-77.html").read_text()
    assert page.startswith("<html>trace_plot {'segments'")
    html = sorted(p.name for p in snaps.iterdir() if p.suffix == ".html")
    assert html == ["snapshot-77-segments.html", "snapshot-77.html"]


def test_with_cuda_and_no_snapshot_written(tmp_path: Path, monkeypatch: Any, capfd: Any) -> None:
    s = setup(tmp_path, monkeypatch, torch=CUDA_TORCH, gpu=True)
    snaps = tmp_path / "new" / "snaps"
    args = ("--prefix", str(s.env.prefix), "--memory-snapshot", str(snaps))
    code, _, err = run(capfd, *args, "--", "sh", "-c", "exit 0")
    assert code == 0 and "memory snapshot: none was written" in err
    assert (snaps.stat().st_mode & 0o777) == 0o700


def test_new_snapshots_only_this_runs(tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    (snaps / "snapshot-1.pickle").write_bytes(b"a")
    before = run_module._snapshots(snaps)
    started = time.time_ns()
    (snaps / "snapshot-1.pickle").write_bytes(b"bb")  # rewritten by a process with that pid
    (snaps / "oom-2-3.pickle").write_bytes(b"c")
    (snaps / "snapshot-x.pickle").write_bytes(b"d")
    aged = snaps / "snapshot-4.pickle"
    aged.write_bytes(b"e")
    os.utime(aged, ns=(started - 10**10, started - 10**10))  # older than the run
    os.mkfifo(snaps / "snapshot-5.pickle")
    names = [p.name for p in run_module.new_snapshots(snaps, before, started)]
    assert names == ["oom-2-3.pickle", "snapshot-1.pickle"]


def spawn_torchenv(*argv: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """The real torchenv in a process of its own, on this test's interpreter."""
    command = [sys.executable, "-m", "torchenv", "run", "--python", sys.executable, "--", *argv]
    return subprocess.Popen(command, **kwargs)


CHILD = (
    "import signal, sys, time\n"
    "got = []\n"
    "signal.signal(signal.SIGINT, lambda n, f: got.append(n))\n"
    "signal.signal(signal.SIGTERM, lambda n, f: got.append(n))\n"
    "print('ready', flush=True)\n"
    "while not got: time.sleep(0.02)\n"
    "time.sleep(0.5)  # a second copy of the signal would come now\n"
    "sys.exit(10 * len(got) + got[0] % 10)\n"
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_sent_to_torchenv_reach_the_command_once(sig: int) -> None:
    proc = spawn_torchenv(sys.executable, "-c", CHILD, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 10 + sig % 10


def test_sigterm_kills_a_command_that_keeps_the_default() -> None:
    child = "import time; print('ready', flush=True); time.sleep(30)"
    proc = spawn_torchenv(sys.executable, "-c", child, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143  # torchenv itself lived to report it


def test_ctrl_c_on_a_terminal_reaches_the_command_once() -> None:
    """The terminal sends SIGINT to the foreground process group, the command included:
    torchenv must not send it a second one."""
    master, slave = os.openpty()

    def controlling_terminal() -> None:  # the new session's terminal is the pty
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = spawn_torchenv(
        sys.executable,
        "-c",
        CHILD,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while b"ready" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 1024)
        assert b"ready" in seen
        os.write(master, b"\x03")  # Ctrl-C
        assert proc.wait(timeout=30) == 10 + signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_a_snapshot_dir_others_can_write_is_refused_not_changed(tmp_path: Path) -> None:
    from torchenv.commands.run import snapshot_dir
    from torchenv.errors import UsageError

    shared = tmp_path / "project"
    shared.mkdir()
    shared.chmod(0o2775)
    with pytest.raises(UsageError, match="can be written by others"):
        snapshot_dir(str(shared))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775  # left as the user set it
    made = snapshot_dir(str(tmp_path / "new"))
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
