"""The Jupyter servers of this user, read from the runtime directory and /proc
(probe/jupyter_servers.py), with the request stubbed out: the request itself is tested against
local servers and a real Jupyter Server in tests/integration/test_jupyter_servers.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest.mock import patch

from builders import probe_context
from torchenv.models import JupyterServer
from torchenv.probe.jupyter_servers import (
    listening_sockets,
    probe_jupyter_servers,
    read_server,
    runtime_dir,
)

# the shape jupyter_server 2.x writes (ServerApp.server_info), the token replaced
SERVER_INFO = {
    "url": "http://localhost:8888/",
    "hostname": "localhost",
    "port": 8888,
    "sock": "",
    "secure": False,
    "base_url": "/",
    "token": "",
    "root_dir": "/home/user",
    "password": False,
    "pid": 4242,
    "version": "2.17.0",
}
# /proc/net/tcp and tcp6 as Linux prints them (inode in the tenth column): 0.0.0.0:8888 (inode
# 101) and 127.0.0.1:8889 (102) listening, one connection on 8888; [::]:8888 (103), [::1]:8080
# (104) and ::ffff:127.0.0.1:8890 (105) listening
HEAD = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout\n"
)
TCP = HEAD + "".join(
    f"   {i}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000  1000  0 {inode} 1\n"
    for i, (local, remote, state, inode) in enumerate(
        [
            ("00000000:22B8", "00000000:0000", "0A", 101),
            ("0100007F:22B9", "00000000:0000", "0A", 102),
            ("0100007F:22B8", "0100007F:D431", "01", 0),
        ]
    )
)
ZERO6 = "0" * 32
TCP6 = (
    HEAD
    + "".join(
        f"   {i}: {local} {ZERO6}:0000 0A 00000000:00000000 00:00000000 00000000 1000 0 {inode} 1\n"
        for i, (local, inode) in enumerate(
            [
                (f"{ZERO6}:22B8", 103),
                ("00000000000000000000000001000000:1F90", 104),
                ("0000000000000000FFFF00000100007F:22BA", 105),
            ]
        )
    )
    + "   9: garbage\n"
)


def owns(host_root: Path, pid: int, *inodes: int) -> None:
    """/proc/PID/fd of a fake process holding these socket inodes (and a regular file)."""
    fd = host_root / f"proc/{pid}/fd"
    fd.mkdir(parents=True)
    (fd / "0").symlink_to("/dev/null")
    for n, inode in enumerate(inodes, start=3):
        (fd / str(n)).symlink_to(f"socket:[{inode}]")


def test_the_runtime_directory_follows_jupyter_core(tmp_path: Path) -> None:
    def where(**env: str) -> Path | None:
        ctx, _ = probe_context(tmp_path, env=env)
        return runtime_dir(ctx)

    assert where(JUPYTER_RUNTIME_DIR="/r", JUPYTER_DATA_DIR="/d", HOME="/h") == Path("/r")
    assert where(JUPYTER_DATA_DIR="/d", HOME="/h") == Path("/d/runtime")
    assert where(XDG_DATA_HOME="/x", HOME="/h") == Path("/x/jupyter/runtime")
    assert where(HOME="/h") == Path("/h/.local/share/jupyter/runtime")


def write_server(directory: Path, name: str, **changes: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps({**SERVER_INFO, **changes}))
    return path


def test_a_server_counts_through_the_sockets_its_process_holds(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    ctx, host = probe_context(tmp_path, env={"JUPYTER_RUNTIME_DIR": str(runtime)})
    # --ip='*': the file says localhost, the process's socket listens on 0.0.0.0 and ::
    write_server(runtime, "jpserver-4242.json", token="", port=8888)
    owns(host.root, 4242, 101, 103)
    # a token: not asked
    token = "0123abcd"  # noqa: S105 - a test value
    write_server(runtime, "nbserver-77.json", token=token, pid=77, port=8889)
    owns(host.root, 77, 102)
    # a leftover file whose pid now belongs to a process holding no socket on the port
    write_server(runtime, "jpserver-5.json", pid=5, port=8889)
    owns(host.root, 5)
    # a file whose process is gone
    write_server(runtime, "jpserver-6.json", pid=6)
    (runtime / "jpserver-4242-open.html").write_text("<html>")  # not a server file
    host.write("/proc/net/tcp", TCP)
    host.write("/proc/net/tcp6", TCP6)
    asked: list[tuple[str, str]] = []

    def ask(pending: list[tuple[JupyterServer, str]]) -> list[bool | None]:
        asked.extend((Path(s.runtime_file).name, address) for s, address in pending)
        return [True] * len(pending)

    with patch("torchenv.probe.jupyter_status.ask_all", ask):
        servers = {Path(s.runtime_file).name: s for s in probe_jupyter_servers(ctx)}
    assert set(servers) == {
        "jpserver-4242.json",
        "nbserver-77.json",
        "jpserver-5.json",
        "jpserver-6.json",
    }
    open_one = servers["jpserver-4242.json"]
    all_interfaces = ("0.0.0.0", "::")  # noqa: S104 - a reading, nothing binds
    assert open_one.hostname == "localhost" and open_one.listening == all_interfaces
    assert open_one.has_token is False and open_one.answers_without_auth is True
    assert asked == [("jpserver-4242.json", "127.0.0.1")]  # loopback, never the file's name
    with_token = servers["nbserver-77.json"]
    assert with_token.has_token is True and with_token.listening == ("127.0.0.1",)
    assert with_token.answers_without_auth is None
    leftover = servers["jpserver-5.json"]
    assert leftover.running is True and leftover.listening == ()
    assert leftover.answers_without_auth is None
    assert servers["jpserver-6.json"].running is False
    assert token not in repr(servers)  # the token itself is never kept


def test_a_file_alone_sends_no_request(tmp_path: Path) -> None:
    # a planted file naming another host and a pid that exists: nothing is asked
    runtime = tmp_path / "runtime"
    ctx, host = probe_context(tmp_path, env={"JUPYTER_RUNTIME_DIR": str(runtime)})
    write_server(runtime, "jpserver-1.json", hostname="10.0.0.9", pid=1, base_url="/x/", token="")
    (host.root / "proc/1").mkdir(parents=True)
    host.write("/proc/net/tcp", TCP)
    with patch("torchenv.probe.jupyter_status.ask_all", side_effect=AssertionError("asked")):
        (server,) = probe_jupyter_servers(ctx)
    assert server.running is True and server.listening == ()
    # a Unix-socket server has no TCP port, whatever the file says
    write_server(runtime, "jpserver-1.json", sock="/run/user/1/jupyter.sock", port=8888)
    assert read_server(ctx, runtime / "jpserver-1.json").port is None


def test_the_newest_files_are_read_first(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    ctx, _ = probe_context(tmp_path, env={"JUPYTER_RUNTIME_DIR": str(runtime)})
    for n, pid in enumerate((9, 10000, 42)):
        path = write_server(runtime, f"jpserver-{pid}.json", pid=pid)
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
    names = [Path(s.runtime_file).name for s in probe_jupyter_servers(ctx)]
    assert names == ["jpserver-42.json", "jpserver-10000.json", "jpserver-9.json"]


def test_listening_sockets_from_proc_net(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.write("/proc/net/tcp", TCP)
    host.write("/proc/net/tcp6", TCP6)
    assert listening_sockets(ctx) == {
        8888: [("0.0.0.0", "101"), ("::", "103")],  # noqa: S104 - a reading, nothing binds
        8889: [("127.0.0.1", "102")],
        8080: [("::1", "104")],
        8890: [("127.0.0.1", "105")],  # IPv4-mapped, written as IPv4
    }
    (tmp_path / "none").mkdir()
    empty, _ = probe_context(tmp_path / "none")
    assert listening_sockets(empty) == {}


def test_odd_server_files_are_read_without_surprises(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    runtime = tmp_path / "runtime"

    def read(**changes: object) -> JupyterServer:
        return read_server(ctx, write_server(runtime, "jpserver-1.json", **changes))

    assert read(hostname=["x"]).error == "no address it listens on"
    assert read(hostname="0.0.0.0\x1b[31m").error == "no address it listens on"
    odd = read(port="8888", pid=True, token=None, password="yes", base_url="//evil\n")  # noqa: S106
    assert odd.port is None and odd.pid is None and odd.running is None
    assert odd.has_token is None and odd.has_password is None and odd.base_url == "/"
    assert read(port=70000, pid=-1).port is None
    (runtime / "jpserver-2.json").write_text("[1, 2]")
    assert read_server(ctx, runtime / "jpserver-2.json").error == "not a JSON object"
    (runtime / "jpserver-3.json").write_text("{")
    assert (read_server(ctx, runtime / "jpserver-3.json").error or "").startswith("unreadable")


def test_no_runtime_directory_is_no_server(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path, env={"JUPYTER_RUNTIME_DIR": str(tmp_path / "missing")})
    assert probe_jupyter_servers(ctx) == ()
