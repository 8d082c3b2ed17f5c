"""`torchenv doctor` against real Jupyter Servers on 127.0.0.1 (failure catalog I3): a server
started with an empty token is reported, one with a password (which also leaves the token
empty) or with a token is not. The servers listen on loopback only: the all-interfaces case is
the same reading with another address (tests/unit/report/test_rules.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import run_torchenv
from integration.test_ship_services import (  # noqa: F401 - the fixture
    free_port,
    jupyter,
    stop,
    wait_until_listening,
)

pytestmark = pytest.mark.integration


def start(program: Path, home: Path, *options: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(home),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
    )
    process = subprocess.Popen(
        [
            str(program),
            "server",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={home}",
            "--ServerApp.allow_root=True",  # CI runs as root
            "--ServerApp.open_browser=False",
            *options,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


@pytest.fixture
def doctor(jupyter: Path, tmp_path: Path) -> Iterator[tuple[Path, object]]:  # noqa: F811
    started: list[subprocess.Popen[str]] = []

    def run(*options: str) -> dict[str, object]:
        process, port = start(jupyter, tmp_path, *options)
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
