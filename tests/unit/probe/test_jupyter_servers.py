"""The Jupyter servers of this user, read from the runtime directory (probe/jupyter_servers.py).
The request a token-less server gets is tested against a real Jupyter Server in
tests/integration/test_jupyter_servers.py."""

from __future__ import annotations

import json
from pathlib import Path

from builders import probe_context
from torchenv.models import JupyterServer
from torchenv.probe.jupyter_servers import (
    ask_status,
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
# /proc/net/tcp and tcp6 as Linux prints them: 0.0.0.0:8888 and 127.0.0.1:8889 listening,
# one established connection on 8888; [::]:8888 listening
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout
   0: 00000000:22B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1
   1: 0100007F:22B9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1
   2: 0100007F:22B8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 3 1
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:22B8 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0
   2: garbage
"""


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


def test_a_running_server_and_where_it_listens(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    ctx, host = probe_context(tmp_path, env={"JUPYTER_RUNTIME_DIR": str(runtime)})
    write_server(runtime, "jpserver-4242.json", token="", port=9)  # port 9: nothing answers
    token = "0123abcd"  # noqa: S105 - a test value
    write_server(runtime, "nbserver-77.json", token=token, pid=77, port=8889)
    write_server(runtime, "jpserver-5.json", pid=5)  # its process is gone
    (runtime / "jpserver-4242-open.html").write_text("<html>")  # not a server file
    for pid in (4242, 77):
        (host.root / f"proc/{pid}").mkdir(parents=True)
    host.write("/proc/net/tcp", TCP)
    host.write("/proc/net/tcp6", TCP6)
    servers = {Path(s.runtime_file).name: s for s in probe_jupyter_servers(ctx)}
    assert set(servers) == {"jpserver-4242.json", "nbserver-77.json", "jpserver-5.json"}
    open_one = servers["jpserver-4242.json"]
    assert open_one.running is True and open_one.has_token is False
    assert open_one.has_password is False and open_one.hostname == "localhost"
    assert open_one.listening == ()  # nothing listens on port 9
    assert open_one.answers_without_auth is None  # asked; nobody answered
    with_token = servers["nbserver-77.json"]
    assert with_token.has_token is True and with_token.listening == ("127.0.0.1",)
    assert with_token.answers_without_auth is None  # a server with a token is not asked
    gone = servers["jpserver-5.json"]
    assert gone.running is False and gone.listening == ()
    assert token not in repr(servers)  # the token itself is never kept


def test_listening_sockets_from_proc_net(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.write("/proc/net/tcp", TCP)
    host.write("/proc/net/tcp6", TCP6)
    assert listening_sockets(ctx) == {
        8888: ("0.0.0.0", "::"),  # noqa: S104 - a reading, nothing binds
        8889: ("127.0.0.1",),
        8080: ("::1",),
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


def test_a_server_that_does_not_answer_is_unknown() -> None:
    silent = JupyterServer("f", hostname="localhost", port=9, has_token=False, running=True)
    assert ask_status(silent) is None
    assert ask_status(JupyterServer("f", hostname="example.org", port=9)) is None
