"""The Jupyter servers this user runs, from the files they keep in Jupyter's runtime directory
(failure catalog I3: a server on every interface without a token or password runs code for
anyone who reaches the port).

Each running server writes ``jpserver-PID.json`` (Jupyter Server; ``nbserver-PID.json`` for the
classic notebook before 7) with its address, port, token and whether a password is set, and
removes it when it stops. The directory is jupyter_core's ``jupyter_runtime_dir()``:
``$JUPYTER_RUNTIME_DIR``, else ``$JUPYTER_DATA_DIR/runtime``, else
``$XDG_DATA_HOME/jupyter/runtime`` or ``~/.local/share/jupyter/runtime`` on Linux. The token
is read only to tell whether there is one; it goes nowhere.

A file is a claim, not a fact: one left by a killed server, or from another node of a cluster
sharing the home directory, names a process id that may now be anything. So a server counts
only through the listening sockets its own process holds on its port: the socket inodes in
``/proc/net/tcp`` and ``tcp6`` that ``/proc/PID/fd`` links to. They also say where it really
listens: started with ``--ip='*'`` Jupyter Server writes "localhost" and binds every interface
(jupyter_server ``server_info`` and ``_bind_http_server_tcp``). A token-less server proven this
way is then asked for ``/api/status`` (probe/jupyter_status.py), because a password set with
``jupyter server password`` leaves the token empty too.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchenv.models import JupyterServer
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_text
from torchenv.untrusted.text import load_json

_RUNTIME_LIMIT = 64 << 10  # a server file is a few hundred bytes
_MAX_SERVERS = 64  # the newest; a directory full of leftovers is not read to its end
_MAX_NAMES = 4096
_MAX_FDS = 65536  # descriptors of one process looked at
_SERVER_FILE = re.compile(r"(jp|nb)server-\d{1,10}\.json")
# what a listening address can look like: names, IPv4, IPv6 (with a zone), "*" and ""
_ADDRESS = re.compile(r"[A-Za-z0-9.:%_*\[\]-]{0,255}")
_BASE_URL = re.compile(r"/(?!/)[A-Za-z0-9._~/%-]{0,200}")
_NET_LIMIT = 32 << 20  # /proc/net/tcp: 150 bytes a socket; a busy host has tens of thousands
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column
_SOCKET_LINK = re.compile(r"socket:\[(\d+)\]")

Sockets = dict[int, list[tuple[str, str]]]  # port -> (address, inode) of LISTEN sockets


def runtime_dir(ctx: ProbeContext) -> Path | None:
    env = ctx.env
    if env.get("JUPYTER_RUNTIME_DIR"):
        return Path(env["JUPYTER_RUNTIME_DIR"])
    if env.get("JUPYTER_DATA_DIR"):
        return Path(env["JUPYTER_DATA_DIR"]) / "runtime"
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]) / "jupyter" / "runtime"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".local" / "share" / "jupyter" / "runtime"
    return None


def probe_jupyter_servers(ctx: ProbeContext) -> tuple[JupyterServer, ...]:
    directory = runtime_dir(ctx)
    if directory is None:
        return ()
    try:
        names = [n for n in os.listdir(directory) if _SERVER_FILE.fullmatch(n)][:_MAX_NAMES]
    except OSError:
        return ()  # no runtime directory: no server has run as this user
    servers = [read_server(ctx, directory / n) for n in _newest_first(directory, names)]
    if not any(s.running and s.port for s in servers):
        return tuple(servers)
    sockets = listening_sockets(ctx)
    servers = [_with_sockets(ctx, s, sockets) for s in servers]
    asks = [(i, _where_to_ask(s)) for i, s in enumerate(servers) if _to_ask(s)]
    if not asks:
        return tuple(servers)
    # http.client and ssl load only when a server is to be asked (most runs ask none)
    from torchenv.probe import jupyter_status  # noqa: PLC0415

    answers = jupyter_status.ask_all([(servers[i], address) for i, address in asks])
    for (i, _), answer in zip(asks, answers, strict=True):
        servers[i] = replace(servers[i], answers_without_auth=answer)
    return tuple(servers)


def _newest_first(directory: Path, names: list[str]) -> list[str]:
    def mtime(name: str) -> float:
        try:
            return (directory / name).lstat().st_mtime
        except OSError:
            return 0.0

    return sorted(names, key=mtime, reverse=True)[:_MAX_SERVERS]


def _to_ask(server: JupyterServer) -> bool:
    return bool(server.running and server.listening and server.has_token is False)


def _with_sockets(ctx: ProbeContext, server: JupyterServer, sockets: Sockets) -> JupyterServer:
    """The server with the addresses its own process listens on at its port; none when the
    process holds no such socket (a leftover file, a reused pid) or cannot be looked into."""
    if not (server.running and server.port and server.pid):
        return server
    owned = _socket_inodes(ctx, server.pid)
    addresses = [a for a, inode in sockets.get(server.port, []) if inode in owned]
    return replace(server, listening=tuple(dict.fromkeys(addresses)))


def _socket_inodes(ctx: ProbeContext, pid: int) -> set[str]:
    fd_dir = ctx.path(f"/proc/{pid}/fd")
    inodes: set[str] = set()
    try:
        entries = os.listdir(fd_dir)[:_MAX_FDS]
    except OSError:
        return inodes  # another user's process, or gone
    for entry in entries:
        try:
            match = _SOCKET_LINK.fullmatch(os.readlink(fd_dir / entry))
        except OSError:
            continue
        if match:
            inodes.add(match.group(1))
    return inodes


def listening_sockets(ctx: ProbeContext) -> Sockets:
    """port -> (address, inode) of the TCP sockets listening in this network namespace
    ("0.0.0.0", "::", "127.0.0.1"), from /proc/net/tcp and tcp6; empty when unreadable."""
    found: Sockets = {}
    for name in ("tcp", "tcp6"):
        try:
            text = read_text(ctx.path(f"/proc/net/{name}"), _NET_LIMIT, errors="replace")
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN or not fields[9].isdigit():
                continue
            address = _address(fields[1])
            if address is not None:
                found.setdefault(address[1], []).append((address[0], fields[9]))
    return found


def _address(field: str) -> tuple[str, int] | None:
    """ "0100007F:1F90" -> ("127.0.0.1", 8080) on a little-endian machine: the kernel prints
    each 32-bit word of the address in host order."""
    host, _, port = field.partition(":")
    try:
        raw = bytes.fromhex(host)
        number = int(port, 16)
    except ValueError:
        return None
    if len(raw) not in (4, 16):
        return None
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(raw)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip), number


def _where_to_ask(server: JupyterServer) -> str:
    """Loopback when the server's own socket listens there or on every interface, else the
    interface address its socket is bound to (there is one: ``_to_ask``): never an address
    the file alone names."""
    for address in server.listening:
        if address in ("0.0.0.0", "127.0.0.1") or address.startswith("127."):  # noqa: S104
            return "127.0.0.1"
        if address in ("::", "::1"):
            return "::1"
    return server.listening[0]


def read_server(ctx: ProbeContext, path: Path) -> JupyterServer:
    try:
        data = load_json(read_text(path, _RUNTIME_LIMIT, errors="replace"))
    except OSError as exc:
        return JupyterServer(str(path), error=f"unreadable: {describe(exc)}")
    except ValueError as exc:
        return JupyterServer(str(path), error=f"unreadable: {exc}")
    if not isinstance(data, dict):
        return JupyterServer(str(path), error="not a JSON object")
    hostname = data.get("hostname")
    if not isinstance(hostname, str) or not _ADDRESS.fullmatch(hostname):
        return JupyterServer(str(path), error="no address it listens on")
    pid = _number(data.get("pid"), 1 << 22)
    base_url = data.get("base_url")
    unix_socket = isinstance(data.get("sock"), str) and bool(data["sock"])
    return JupyterServer(
        runtime_file=str(path),
        hostname=hostname,
        # a server on a Unix socket (--sock) listens on no TCP port, whatever the file says
        port=None if unix_socket else _number(data.get("port"), 65535),
        has_token=bool(data["token"]) if isinstance(data.get("token"), str) else None,
        has_password=_flag(data.get("password")),
        secure=_flag(data.get("secure")),
        pid=pid,
        running=ctx.path(f"/proc/{pid}").is_dir() if pid else None,
        base_url=base_url if isinstance(base_url, str) and _BASE_URL.fullmatch(base_url) else "/",
    )


def _number(value: Any, most: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
        return None
    return value


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
