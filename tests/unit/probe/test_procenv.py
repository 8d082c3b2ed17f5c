"""probe.procenv on a fake /proc tree: the environment, torch and variant of a GPU process, from
files its owner controls (a huge or binary environ, a FIFO in place of a file), and the bounded
cache the exporter keeps across scrapes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from builders import add_dist, make_venv
from torchenv.probe.procenv import (
    ENVIRON_LIMIT,
    LABEL_LIMIT,
    ProcessEnvironments,
    label_value,
    process_environment,
    start_time,
    torch_of_prefix,
)

T = TypeVar("T")


def fake_process(
    proc: Path,
    pid: int,
    *,
    comm: str = "python",
    environ: Mapping[str, str] | bytes | None = None,
    exe: str | None = None,
    cmdline: Sequence[str] | None = None,
    started: int = 4242,
) -> Path:
    """/proc/PID with the files procenv reads; a file left out is unreadable, as another
    user's environ and exe are."""
    base = proc / str(pid)
    base.mkdir(parents=True, exist_ok=True)
    (base / "comm").write_text(comm + "\n")
    fields = ["S"] + ["0"] * 49  # fields 3..52 of proc(5)
    fields[22 - 3] = str(started)
    (base / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
    if isinstance(environ, bytes):
        (base / "environ").write_bytes(environ)
    elif environ is not None:
        (base / "environ").write_bytes(b"".join(f"{k}={v}\0".encode() for k, v in environ.items()))
    if exe is not None:
        (base / "exe").symlink_to(exe)
    if cmdline is not None:
        (base / "cmdline").write_bytes(b"".join(arg.encode() + b"\0" for arg in cmdline))
    return base


def write_record(prefix: Path, torch: str, variant: str | None = None) -> None:
    """A torchenv-env.json as create writes it (models.envrecord.EnvRecord.to_data)."""
    record = {
        "schema": "torchenv.env/1",
        "backend": "uv",
        "spec": {"path": None, "hash": None},
        "lock": {"path": None, "sha256": None, "packages": {"torch": torch, "numpy": "2.3.1"}},
        "plan": {"variant": variant, "cuda": "13.0"} if variant else {},
    }
    (prefix / "torchenv-env.json").write_text(json.dumps(record))


def finishes(call: Callable[[], T]) -> T:
    """``call()`` in a thread that must end within 20 s (else it hung on a FIFO)."""
    box: dict[str, Any] = {}

    def target() -> None:
        box["value"] = call()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "procenv hung"
    return box["value"]  # type: ignore[no-any-return]


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    path = tmp_path / "proc"
    path.mkdir()
    return path


def test_virtual_env_with_a_torchenv_record(tmp_path: Path, proc: Path) -> None:
    env = make_venv(tmp_path, "train")
    write_record(env.prefix, "2.13.0+cu130", "cu130")
    fake_process(proc, 100, environ={"HOME": "/root", "VIRTUAL_ENV": str(env.prefix)})
    assert process_environment(100, proc) == ("python", str(env.prefix), "2.13.0+cu130", "cu130")


def test_record_without_a_local_label_gives_the_plans_variant(tmp_path: Path) -> None:
    env = make_venv(tmp_path, "train")
    write_record(env.prefix, "2.13.0", "cu128")
    assert torch_of_prefix(env.prefix) == ("2.13.0", "cu128")


def test_conda_prefix_and_a_cpu_wheel(tmp_path: Path, proc: Path) -> None:
    prefix = tmp_path / "conda" / "envs" / "cpu"
    (prefix / "conda-meta").mkdir(parents=True)
    add_dist(prefix / "lib" / "python3.12" / "site-packages", "torch", "2.13.0+cpu")
    fake_process(proc, 101, environ={"CONDA_PREFIX": str(prefix)})
    assert process_environment(101, proc)[1:] == (str(prefix), "2.13.0+cpu", "cpu")


def test_dist_info_of_a_prefix_found_through_exe(tmp_path: Path, proc: Path) -> None:
    env = make_venv(tmp_path, "plain")  # no record: the dist-info's name tells
    add_dist(env.site, "numpy", "2.3.1")
    add_dist(env.site, "torch", "2.13.0+cu130")
    fake_process(proc, 102, exe=env.python)  # no environ: another user's process
    assert process_environment(102, proc) == ("python", str(env.prefix), "2.13.0+cu130", "cu130")


def test_exe_of_a_deleted_binary(tmp_path: Path, proc: Path) -> None:
    env = make_venv(tmp_path, "gone")
    fake_process(proc, 103, exe=env.python + " (deleted)")  # as readlink shows it
    assert process_environment(103, proc) == ("python", str(env.prefix), "", "")


def test_argv0_names_the_interpreter_actually_run(tmp_path: Path, proc: Path) -> None:
    """``/envs/b/bin/python`` run from a shell where env a is activated runs in b."""
    a = make_venv(tmp_path, "a")
    b = make_venv(tmp_path, "b")
    add_dist(b.site, "torch", "2.12.1+cu126")
    fake_process(
        proc,
        104,
        environ={"VIRTUAL_ENV": str(a.prefix)},
        cmdline=[b.python, "train.py", "--lr", "3e-4"],
    )
    assert process_environment(104, proc)[1:] == (str(b.prefix), "2.12.1+cu126", "cu126")


def test_relative_argv0_falls_back_to_the_environment(tmp_path: Path, proc: Path) -> None:
    env = make_venv(tmp_path, "a")
    fake_process(proc, 105, environ={"VIRTUAL_ENV": str(env.prefix)}, cmdline=["python", "x.py"])
    assert process_environment(105, proc)[1] == str(env.prefix)


def test_a_system_python_and_a_missing_process(tmp_path: Path, proc: Path) -> None:
    system = tmp_path / "usr"
    (system / "bin").mkdir(parents=True)
    (system / "bin" / "python3").write_text("")
    fake_process(proc, 106, comm="python3", exe=str(system / "bin" / "python3"))
    assert process_environment(106, proc) == ("python3", "", "", "")
    assert process_environment(999, proc) == ("", "", "", "")


def test_hostile_environ_comm_and_record(tmp_path: Path, proc: Path) -> None:
    env = make_venv(tmp_path, "x")
    (env.prefix / "torchenv-env.json").write_text("[" * 100_000)  # RecursionError in json
    junk = bytes(range(256)) * 64  # binary, with NULs and no "="
    environ = junk + b"\0VIRTUAL_ENV=" + str(env.prefix).encode() + b"\0\xff\xfe=\x1b[2J\0"
    fake_process(proc, 107, comm="evil\x1b]0;owned\x07\u202e", environ=environ)
    assert process_environment(107, proc) == ("evil]0;owned", str(env.prefix), "", "")


def test_environ_beyond_the_cap_is_not_read(tmp_path: Path, proc: Path) -> None:
    env = make_venv(tmp_path, "late")
    filler = b"JUNK=" + b"x" * (ENVIRON_LIMIT + 10) + b"\0"
    fake_process(proc, 108, environ=filler + f"VIRTUAL_ENV={env.prefix}\0".encode())
    assert process_environment(108, proc)[1] == ""
    # an entry cut by the cap is not taken for a path
    cut = b"A=1\0" + b"VIRTUAL_ENV=/" + b"y" * ENVIRON_LIMIT
    fake_process(proc, 109, environ=cut)
    assert process_environment(109, proc)[1] == ""


def test_undecodable_prefix_is_not_a_path(tmp_path: Path, proc: Path) -> None:
    fake_process(proc, 110, environ=b"VIRTUAL_ENV=/opt/\xff\xfe\0CONDA_PREFIX=/opt/conda\0")
    assert process_environment(110, proc)[1] == "/opt/conda"


@pytest.mark.parametrize("victim", ["environ", "comm", "cmdline", "stat", "record"])
def test_fifo_in_place_of_a_file_does_not_hang(tmp_path: Path, proc: Path, victim: str) -> None:
    env = make_venv(tmp_path, "f")
    write_record(env.prefix, "2.13.0+cu130")
    base = fake_process(proc, 111, environ={"VIRTUAL_ENV": str(env.prefix)}, cmdline=["py"])
    path = env.prefix / "torchenv-env.json" if victim == "record" else base / victim
    path.unlink()
    os.mkfifo(path)
    found = finishes(lambda: ProcessEnvironments(proc).lookup(111))
    assert found[1] == (str(env.prefix) if victim != "environ" else "")
    assert found[2] == ("" if victim in ("record", "environ") else "2.13.0+cu130")


def test_label_value_strips_controls_and_caps_the_length() -> None:
    assert label_value("a\nb\tc\x00d\x9b\u2028e") == "abcde"
    assert len(label_value("z" * 10_000)) == LABEL_LIMIT


def test_start_time_survives_a_comm_with_parentheses(proc: Path) -> None:
    fake_process(proc, 112, comm="a) S (b", started=987654)
    assert start_time(112, proc) == 987654
    assert start_time(113, proc) is None


def test_cache_is_keyed_on_the_start_time(tmp_path: Path, proc: Path) -> None:
    base = fake_process(proc, 120, comm="first")
    environments = ProcessEnvironments(proc)
    assert environments.lookup(120)[0] == "first"
    (base / "comm").write_text("renamed\n")
    assert environments.lookup(120)[0] == "first"  # the same process: from the cache
    fake_process(proc, 120, comm="reused", started=5000)  # the pid of a new process
    assert environments.lookup(120)[0] == "reused"
    assert environments.lookup(0) == ("", "", "", "")


def test_cache_stays_bounded(proc: Path) -> None:
    environments = ProcessEnvironments(proc, limit=8)
    for pid in range(200, 260):
        fake_process(proc, pid)
        environments.lookup(pid)
        assert len(environments) <= 8
    assert len(environments) == 8
    environments.forget_except([258, 259, 1])
    assert len(environments) == 2
    for _ in range(1000):  # scrapes of the same processes do not grow it
        environments.lookup(258)
        environments.lookup(259)
    assert len(environments) == 2


def test_gone_process_is_not_cached(proc: Path) -> None:
    environments = ProcessEnvironments(proc)
    assert environments.lookup(300) == ("", "", "", "")
    assert len(environments) == 0
