"""Asking a token-less Jupyter server of this user whether it serves ``/api/status`` to a request
without credentials (probe/jupyter_servers.py says which servers and at which address).

One GET, never a redirect followed, no proxy (http.client uses none), at most 8 KiB of answer
read, and one deadline for all the servers together: each request runs in a thread that is left
behind if the deadline passes, because a socket timeout bounds each read, not the request (a
server that drips a header byte a second, or sends endless ``100 Continue``, would hold it).
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Sequence

from torchenv.models import JupyterServer

ASK_BUDGET = 3.0  # seconds for every request together: a local server answers in milliseconds
MAX_ASKED = 4  # servers asked at most, newest first
_BODY_LIMIT = 8 << 10  # Jupyter's status is ~150 bytes of JSON
# the keys of Jupyter Server's (and the classic notebook's) /api/status answer
_STATUS_KEYS = ("started", "last_activity")


def ask_all(asks: Sequence[tuple[JupyterServer, str]]) -> list[bool | None]:
    """For each (server, address to connect to): True when it answers /api/status as Jupyter
    does without credentials, False when it asks for a login, None when it could not be told
    (no answer in time, another service on the port, or beyond ``MAX_ASKED``)."""
    results: list[bool | None] = [None] * len(asks)
    threads = []
    for i, (server, address) in enumerate(asks[:MAX_ASKED]):

        def work(i: int = i, server: JupyterServer = server, address: str = address) -> None:
            results[i] = ask_status(server, address)

        thread = threading.Thread(target=work, name="torchenv-jupyter-status", daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + ASK_BUDGET
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    answers = list(results)
    for i, thread in enumerate(threads):
        if thread.is_alive():
            answers[i] = None  # no answer in time; the thread is left behind
    return answers


def ask_status(server: JupyterServer, address: str) -> bool | None:
    """One GET of ``{base_url}api/status`` at ``address``:``port``, as ``ask_all`` describes."""
    if server.port is None:
        return None
    timeout = ASK_BUDGET
    if server.secure:
        # only the answer's status is judged, from this machine's own server, whose
        # certificate is most often self-signed
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, server.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(address, server.port, timeout=timeout)
    try:
        conn.request("GET", f"{server.base_url.rstrip('/')}/api/status")
        answer = conn.getresponse()
        body = answer.read(_BODY_LIMIT) if answer.status == 200 else b""
        status = answer.status
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()
    if status in (301, 302, 303, 307, 401, 403):
        return False  # a login page or a refusal: it wants credentials
    if status != 200:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None  # another service on the port, not Jupyter
    return True if isinstance(data, dict) and all(k in data for k in _STATUS_KEYS) else None
