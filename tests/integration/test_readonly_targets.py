"""Read-only places to write (a read-only mount, as a shared project or a container's image
layer can be): every command that writes says so in a sentence with exit 2, never exit 70, and
leaves what is there as it was. Root ignores permission bits, so a real read-only file system
(a tmpfs mounted read-only) stands for one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import require
from integration.conftest import run_torchenv
from ship_project import ship_project

pytestmark = pytest.mark.integration


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[Path]:
    """A project (spec and lock) on a file system mounted read-only."""
    require(os.geteuid() == 0, "mounting a read-only file system needs root")
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        ship_project(mount / "project")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount / "project"
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, check=False)


def test_every_writer_on_a_read_only_file_system_says_so(readonly: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(tmp_path / "data")
    before = {p: p.stat().st_mtime_ns for p in readonly.rglob("*")}
    commands = [
        ("init", "--gpu", "H100", "--driver", "580.65.06", "--out", "torchenv.toml", "--force"),
        ("image",),
        ("deploy", "--to", "k8s"),
        ("create", "--prefix", str(readonly / ".venv")),
        ("init", "--gpu", "H100", "--driver", "580.65.06", "--out", str(readonly / "new.toml")),
    ]
    for args in commands:
        done = run_torchenv(*args, cwd=readonly, env=env, timeout=120)
        text = done.stdout + done.stderr
        assert done.returncode == 2, f"{args}: exit {done.returncode}\n{text}"
        assert "Read-only file system" in text or "not writable" in text, f"{args}:\n{text}"
        assert "Traceback" not in text and "internal error" not in text
    assert {p: p.stat().st_mtime_ns for p in readonly.rglob("*")} == before
