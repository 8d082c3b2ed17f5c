"""`torchenv doctor` against real Jupyter Servers (failure catalog I3): a server started with an
empty token is reported, one with a password (which also leaves the token empty) or with a token
is not, and one started with --ip='*' is seen on every interface although its file says
localhost. Token-less servers listen on loopback only: the all-interfaces finding is the same
reading with another address (tests/unit/report/test_rules.py). Then the request itself
against local servers: only Jupyter's own answer counts, and silent servers share one
deadline."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import run_torchenv
from integration.test_ship_services import (  # noqa: F401 - the fixture
    jupyter,
    launch_jupyter,
    stop,
    wait_until_listening,
)
from torchenv.models import JupyterServer
from torchenv.probe.jupyter_status import ASK_BUDGET, ask_all

pytestmark = pytest.mark.integration


@pytest.fixture
def doctor(jupyter: Path, tmp_path: Path) -> Iterator[tuple[Path, object]]:  # noqa: F811
    started: list[subprocess.Popen[str]] = []

    def run(*options: str) -> dict[str, object]:
        process, port = launch_jupyter(jupyter, tmp_path, *options)
        started.append(process)
        wait_until_listening(process, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        env.update(HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
        target = ("--python", str(jupyter.parent / "python"))
        doctor = run_torchenv("doctor", "--json", *target, cwd=tmp_path, env=env)
        inspect = run_torchenv("inspect", "--json", *target, cwd=tmp_path, env=env)
        stop(process)
        assert doctor.returncode in (0, 1) and inspect.returncode == 0, doctor.stderr
        servers = json.loads(inspect.stdout)["machine"]["jupyter_servers"]
        running = [s for s in servers if s["running"]]
        assert len(running) == 1, servers
        return {"port": port, "findings": json.loads(doctor.stdout)["findings"], **running[0]}

    yield tmp_path, run
    for process in started:
        if process.poll() is None:
            stop(process)


def without_auth(report: dict[str, object]) -> list[dict[str, object]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return [f for f in findings if f["id"] == "jupyter-server-without-auth"]


def test_a_server_without_token_is_reported(doctor: tuple[Path, object]) -> None:
    _, run = doctor
    report = run("--IdentityProvider.token=")  # type: ignore[operator]
    hits = without_auth(report)
    assert len(hits) == 1, report["findings"]
    assert hits[0]["severity"] == "warning"  # loopback only
    assert f"127.0.0.1:{report['port']}" in hits[0]["title"]
    assert report["listening"] == ["127.0.0.1"] and report["answers_without_auth"] is True
    assert report["has_token"] is False


def test_a_password_or_a_token_is_not_reported(doctor: tuple[Path, object], jupyter: Path) -> None:  # noqa: F811
    _, run = doctor
    hashed = subprocess.run(
        [
            str(jupyter.parent / "python"),
            "-c",
            "from jupyter_server.auth import passwd; print(passwd('correct horse'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    report = run(
        "--IdentityProvider.token=", f"--PasswordIdentityProvider.hashed_password={hashed}"
    )  # type: ignore[operator]
    assert without_auth(report) == []
    assert report["has_token"] is False and report["answers_without_auth"] is False
    report = run()  # type: ignore[operator]
    assert without_auth(report) == []
    assert report["has_token"] is True and report["answers_without_auth"] is None


def test_a_server_on_every_interface_is_seen_there(doctor: tuple[Path, object]) -> None:
    # --ip='*' (with its token, so nothing is open): the file says localhost, the socket that
    # the server's own process holds listens on every interface
    _, run = doctor
    report = run("--ServerApp.ip=*")  # type: ignore[operator]
    assert report["hostname"] == "localhost"
    assert set(report["listening"]) & {"0.0.0.0", "::"}, report["listening"]  # noqa: S104
    assert without_auth(report) == [] and report["answers_without_auth"] is None


# --------------------------------------------------------------------------- the request itself
class Answers(http.server.BaseHTTPRequestHandler):
    """/api/status as Jupyter answers it (200 with its keys), as another service would (200
    with other content), as a server wanting a login would (403, 302)."""

    def do_GET(self) -> None:
        kind = self.server.kind  # type: ignore[attr-defined]
        if kind in (403, 302):
            self.send_response(kind)
            self.send_header("Location", "/login?next=/api/status")
            self.end_headers()
            return
        body = (
            b'{"started": "2026-12-07T15:00:00Z", "last_activity": "x", "connections": 0, '
            b'"kernels": 0}'
            if kind == "jupyter"
            else b"hello"
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[object]:
    servers: list[http.server.HTTPServer] = []

    def serve(kind: object) -> int:
        server = http.server.HTTPServer(("127.0.0.1", 0), Answers)
        server.kind = kind  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def server_at(port: int) -> JupyterServer:
    return JupyterServer("jpserver-1.json", "localhost", port, has_token=False, running=True)


def test_only_jupyter_s_own_answer_counts(local_server: object) -> None:
    serve = local_server
    kinds = ("jupyter", "other", 403, 302)
    ports = [serve(kind) for kind in kinds]  # type: ignore[operator]
    answers = ask_all([(server_at(port), "127.0.0.1") for port in ports])
    assert answers == [True, None, False, False]


def test_a_server_that_never_answers_costs_one_budget() -> None:
    # sockets that accept and say nothing (a stopped `jupyter lab`), and one that drips
    silent = [socket.create_server(("127.0.0.1", 0)) for _ in range(6)]
    try:
        ports = [s.getsockname()[1] for s in silent]
        start = time.monotonic()
        answers = ask_all([(server_at(port), "127.0.0.1") for port in ports])
        took = time.monotonic() - start
    finally:
        for s in silent:
            s.close()
    assert answers == [None] * 6
    # one deadline for all of them, not one per server (6 x 3 s); generous for a busy machine
    assert took < ASK_BUDGET * 2.5, took
