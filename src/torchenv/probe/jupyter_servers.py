"""The Jupyter servers this user runs, from the files they keep in Jupyter's runtime directory
(failure catalog I3: a server on every interface without a token or password runs code for
anyone who reaches the port).

Each running server writes ``jpserver-PID.json`` (Jupyter Server; ``nbserver-PID.json`` for the
classic notebook before 7) with its address, port, token and whether a password is set, and
removes it when it stops. The directory is jupyter_core's ``jupyter_runtime_dir()``:
``$JUPYTER_RUNTIME_DIR``, else ``$JUPYTER_DATA_DIR/runtime``, else
``$XDG_DATA_HOME/jupyter/runtime`` or ``~/.local/share/jupyter/runtime`` on Linux. The token
is read only to tell whether there is one; it goes nowhere.

The file's ``hostname`` is not where the server listens: started with ``--ip='*'`` (or ``''``)
Jupyter Server writes "localhost" and binds every interface (jupyter_server ``server_info`` and
``_bind_http_server_tcp``). So the listening sockets on its port are read from
``/proc/net/tcp`` and ``/proc/net/tcp6`` as well.

Nor does an empty token mean no authentication: with a password set by ``jupyter server
password`` (``PasswordIdentityProvider.hashed_password``) the token is empty and the file's
``password`` is still false. So a server whose file shows no token is asked, once, for
``/api/status`` without credentials: 200 means anyone may use it, 403 that it wants a login.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchenv.models import JupyterServer
from torchenv.probe.context import ProbeContext
from torchenv.untrusted.files import describe, read_text
from torchenv.untrusted.text import load_json

_RUNTIME_LIMIT = 64 << 10  # a server file is a few hundred bytes
_MAX_SERVERS = 64  # a runtime directory full of stale files is not read to its end
_SERVER_FILE = re.compile(r"(jp|nb)server-\d{1,10}\.json")
# what a listening address can look like: names, IPv4, IPv6 (with a zone), "*" and ""
_ADDRESS = re.compile(r"[A-Za-z0-9.:%_*\[\]-]{0,255}")
_NET_LIMIT = 32 << 20  # /proc/net/tcp: 150 bytes a socket; a busy host has tens of thousands
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column
_BASE_URL = re.compile(r"/(?!/)[A-Za-z0-9._~/%-]{0,200}")
_ASK_TIMEOUT = 2.0  # seconds: a local server answers /api/status in milliseconds


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
        names = sorted(n for n in os.listdir(directory) if _SERVER_FILE.fullmatch(n))
    except OSError:
        return ()  # no runtime directory: no server has run as this user
    servers = [read_server(ctx, directory / name) for name in names[:_MAX_SERVERS]]
    if not any(s.running and s.port for s in servers):
        return tuple(servers)
    sockets = listening_sockets(ctx)
    return tuple(_with_sockets(s, sockets) for s in servers)


def _with_sockets(server: JupyterServer, sockets: dict[int, tuple[str, ...]]) -> JupyterServer:
    if not (server.running and server.port):
        return server
    seen = replace(server, listening=sockets.get(server.port, ()))
    if seen.has_token is not False:
        return seen
    return replace(seen, answers_without_auth=ask_status(seen))


def ask_status(server: JupyterServer) -> bool | None:
    """Whether the server answers ``/api/status`` to a request without credentials: True
    (200), False (401, 403 or a redirect to its login page), None (no answer)."""
    host = _where_to_ask(server)
    if host is None or server.port is None:
        return None
    path = f"{server.base_url.rstrip('/')}/api/status"
    if server.secure:
        # only the status code is read, from this machine's own server: its certificate is
        # most often self-signed
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, server.port, timeout=_ASK_TIMEOUT, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, server.port, timeout=_ASK_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if status == 200:
        return True
    return False if status in (301, 302, 303, 307, 401, 403) else None


def _where_to_ask(server: JupyterServer) -> str | None:
    """A loopback address when the server listens on one or on every interface, else the one
    address it listens on."""
    addresses = server.listening or ((server.hostname,) if server.hostname else ())
    for address in addresses:
        if address in ("0.0.0.0", "127.0.0.1", "localhost", "", "*"):  # noqa: S104 - a reading
            return "127.0.0.1"
        if address in ("::", "::1"):
            return "::1"
    for address in addresses:
        try:
            return str(ipaddress.ip_address(address.strip("[]")))
        except ValueError:
            continue
    return None


def listening_sockets(ctx: ProbeContext) -> dict[int, tuple[str, ...]]:
    """port -> the addresses TCP sockets listen on ("0.0.0.0", "::", "127.0.0.1"), from
    /proc/net/tcp and tcp6 of this network namespace; empty when they cannot be read."""
    found: dict[int, list[str]] = {}
    for name in ("tcp", "tcp6"):
        try:
            text = read_text(ctx.path(f"/proc/net/{name}"), _NET_LIMIT, errors="replace")
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _LISTEN:
                continue
            address = _address(fields[1])
            if address is not None:
                found.setdefault(address[1], []).append(address[0])
    return {port: tuple(dict.fromkeys(addresses)) for port, addresses in found.items()}


def _address(field: str) -> tuple[str, int] | None:
    """ "0100007F:1F90" -> ("127.0.0.1", 8080); IPv6 as four host-order 32-bit words."""
    host, _, port = field.partition(":")
    try:
        raw = bytes.fromhex(host)
        number = int(port, 16)
    except ValueError:
        return None
    if len(raw) not in (4, 16):
        return None
    # the kernel prints each 32-bit word in host order: little-endian on x86_64 and aarch64
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(packed)), number


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
    return JupyterServer(
        runtime_file=str(path),
        hostname=hostname,
        port=_number(data.get("port"), 65535),
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
