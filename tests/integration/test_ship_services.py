"""The generated Jupyter and sshd configurations, run by the real servers on 127.0.0.1.

Jupyter Server (installed into a venv of its own) must refuse /api/status without the token
and answer with it; an empty token must stop it from starting. sshd, run as an unprivileged
user as it is in the image, must let that user in with a key and offer no password method.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import require
from integration.conftest import build_venv
from torchenv.ship.runtime import render_jupyter_config, render_sshd_config

pytestmark = pytest.mark.integration
SSH_USER = "torchenv-sshtest"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status(port: int, token: str | None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status")
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def jupyter() -> Path:
    python = shutil.which("python3.11")
    require(python is not None, "python3.11 is not installed")
    venv = build_venv("jupyter-server", "3.11", ["jupyter-server>=2.0"])
    return venv / "bin" / "jupyter"


def launch_jupyter(
    program: Path, home: Path, *options: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """`jupyter server` on a free port with its directories under ``home``, on 127.0.0.1
    unless ``options`` name another address."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    base.update(
        HOME=str(home),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
    )
    named_ip = any(o.startswith("--ServerApp.ip=") for o in options)
    process = subprocess.Popen(
        [
            str(program),
            "server",
            f"--port={port}",
            *([] if named_ip else ["--ServerApp.ip=127.0.0.1"]),
            f"--ServerApp.root_dir={home}",
            # CI runs as root; the image runs as its user and keeps allow_root off
            "--ServerApp.allow_root=True",
            *options,
        ],
        env={**base, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def start_jupyter(
    jupyter: Path, tmp_path: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[str], int]:
    config = tmp_path / "jupyter_server_config.py"
    config.write_text(render_jupyter_config())
    return launch_jupyter(jupyter, tmp_path, f"--config={config}", env=env)


def wait_until_listening(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            status(port, None)
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail("jupyter server did not answer within 60 s")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_jupyter_needs_the_token_from_the_secret_file(jupyter: Path, tmp_path: Path) -> None:
    token = "0123456789abcdef" * 4
    secret = tmp_path / "jupyter_token"
    secret.write_text(token + "\n")
    process, port = start_jupyter(jupyter, tmp_path, {"JUPYTER_TOKEN_FILE": str(secret)})
    try:
        wait_until_listening(process, port)
        assert status(port, None) == 403
        assert status(port, "not-the-token") == 403
        assert status(port, token) == 200
    finally:
        stop(process)


def test_jupyter_token_from_the_environment(jupyter: Path, tmp_path: Path) -> None:
    process, port = start_jupyter(jupyter, tmp_path, {"JUPYTER_TOKEN": "from-env-token"})
    try:
        wait_until_listening(process, port)
        assert status(port, None) == 403 and status(port, "from-env-token") == 200
    finally:
        stop(process)


def test_jupyter_refuses_an_empty_token(jupyter: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    process, _ = start_jupyter(jupyter, tmp_path, {"JUPYTER_TOKEN_FILE": str(empty)})
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "JUPYTER_TOKEN is empty, which would turn authentication off" in output


@pytest.fixture
def ssh_user() -> Iterator[tuple[str, Path]]:
    """An unprivileged user with a home that sshd's StrictModes accepts (CI runs as root)."""
    require(os.geteuid() == 0, "creating the sshd test user needs root")
    require(shutil.which("useradd") is not None, "useradd is not installed")
    root = Path(tempfile.mkdtemp(prefix="torchenv-ssh-", dir="/tmp"))
    root.chmod(0o755)
    home = root / "home"
    subprocess.run(["userdel", "--remove", SSH_USER], capture_output=True, check=False)
    subprocess.run(
        ["useradd", "--home-dir", str(home), "--create-home", "--shell", "/bin/sh", SSH_USER],
        check=True,
    )
    try:
        yield SSH_USER, root
    finally:
        subprocess.run(["userdel", "--remove", SSH_USER], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def ssh(
    port: int, user: str, *options: str, command: str = "echo logged-in"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh",
            "-p",
            str(port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            *options,
            f"{user}@127.0.0.1",
            command,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_sshd_lets_a_key_in_and_offers_no_password(
    ssh_user: tuple[str, Path], tmp_path: Path
) -> None:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    require(Path(sshd).exists() and shutil.which("ssh") is not None, "openssh is not installed")
    user, root = ssh_user
    account = pwd.getpwnam(user)
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    dot_ssh = Path(account.pw_dir) / ".ssh"
    dot_ssh.mkdir(mode=0o700)
    (dot_ssh / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    state = root / "state"
    state.mkdir(mode=0o700)
    # what the image's entrypoint does at first start: host keys made by the user, not baked in
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(state / "ssh_host_ed25519_key")],
        check=True,
    )
    for path in (dot_ssh, dot_ssh / "authorized_keys", state, *state.iterdir()):
        os.chown(path, account.pw_uid, account.pw_gid)
    port = free_port()
    config = root / "sshd_config"
    config.write_text(render_sshd_config(user, str(state), port))
    config.chmod(0o644)
    server = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(config)],
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "sshd did not listen"
            time.sleep(0.1)
        good = ssh(port, user, "-i", str(key), "-o", "IdentitiesOnly=yes")
        assert good.returncode == 0 and good.stdout.strip() == "logged-in", good.stderr
        # Docker's ENV does not reach SSH sessions; sshd_config's SetEnv puts the env on PATH
        session = ssh(
            port,
            user,
            "-i",
            str(key),
            "-o",
            "IdentitiesOnly=yes",
            command='printf "%s|%s" "$VIRTUAL_ENV" "$PATH"',
        )
        assert "|" in session.stdout, (session.stdout, session.stderr)
        venv, path = session.stdout.split("|")
        assert venv == "/opt/env" and path.startswith("/opt/env/bin:"), session.stderr
        wrong = ssh(port, user, "-i", str(other), "-o", "IdentitiesOnly=yes")
        assert wrong.returncode != 0 and "Permission denied (publickey)" in wrong.stderr
        password = ssh(
            port,
            user,
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        )
        # the server lists the methods it takes: public keys only
        assert password.returncode != 0 and "Permission denied (publickey)" in password.stderr
        root_login = ssh(port, "root", "-i", str(key), "-o", "IdentitiesOnly=yes")
        assert root_login.returncode != 0
    finally:
        stop(server)
