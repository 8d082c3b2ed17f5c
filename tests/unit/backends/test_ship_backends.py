"""torchenv's own wheel for images, the image builders, and the swap of a generated directory."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from builders import FakeRunner
from torchenv.backends.containers import Builder, build_argv, find_builder
from torchenv.backends.outdir import MARKER, replace_dir, write_files
from torchenv.backends.selfwheel import pinned_dependencies, write_tool_wheel
from torchenv.backends.tools import BackendError
from torchenv.errors import UsageError
from torchenv.models.ship import ShipFile


def test_tool_wheel_is_complete_and_reproducible(tmp_path: Path) -> None:
    name = write_tool_wheel(tmp_path / "a")
    again = write_tool_wheel(tmp_path / "b")
    assert name == again and name.endswith("-py3-none-any.whl")
    data = (tmp_path / "a" / name).read_bytes()
    assert data == (tmp_path / "b" / name).read_bytes()  # same files, same bytes
    with zipfile.ZipFile(tmp_path / "a" / name) as wheel:
        names = set(wheel.namelist())
        assert "torchenv/cli/__init__.py" in names
        assert "torchenv/knowledge/data/torch.json" in names
        assert "torchenv/verify/scripts/verify_check.py" in names
        assert not any("__pycache__" in n for n in names)
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        assert "torchenv = torchenv.cli:main" in wheel.read(f"{info}/entry_points.txt").decode()
        # RECORD holds the sha256 of every other file, as installers check it
        for line in wheel.read(f"{info}/RECORD").decode().splitlines():
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("RECORD"):
                continue
            content = wheel.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode() and int(size) == len(content)


def test_dependencies_are_pinned_to_what_is_installed() -> None:
    import importlib.metadata

    pins = dict(line.split("==") for line in pinned_dependencies())
    for name in ("click", "packaging", "filelock", "uv"):
        assert pins[name] == importlib.metadata.version(name)
    assert "torchenv" not in pins and "pytest" not in pins  # test extras are not followed


def test_the_first_builder_that_works_is_chosen() -> None:
    runner = FakeRunner()
    runner.on_program("docker", returncode=1, stderr="Cannot connect to the Docker daemon")
    runner.on_program("buildah", stdout="{}")
    paths = {"docker": "/usr/bin/docker", "buildah": "/usr/bin/buildah"}
    found = find_builder(runner, paths.get)
    assert found == Builder("buildah", "/usr/bin/buildah")
    assert runner.calls[0] == ["/usr/bin/docker", "info", "--format", "{{.ServerVersion}}"]


def test_no_builder_says_why_for_each() -> None:
    runner = FakeRunner()
    runner.on_program("docker", returncode=1, stderr="Cannot connect to the Docker daemon")
    with pytest.raises(BackendError) as err:
        find_builder(runner, {"docker": "/usr/bin/docker"}.get)
    message = err.value.message
    assert "docker: `docker info` failed" in message and "Cannot connect" in message
    assert "podman: not on PATH" in message and "buildah: not on PATH" in message
    assert "docker build" in (err.value.hint or "")
    with pytest.raises(UsageError):
        find_builder(runner, {}.get, "kaniko")


def test_build_commands_keep_the_healthcheck() -> None:
    assert build_argv(Builder("docker", "docker"), "ctx", "i:1") == [
        "docker",
        "build",
        "--tag",
        "i:1",
        "ctx",
    ]
    argv = build_argv(Builder("buildah", "buildah"), "ctx", "i:1", ["BASE_IMAGE=b:1"])
    assert argv[:4] == ["buildah", "bud", "--format", "docker"]  # OCI drops HEALTHCHECK
    assert argv[argv.index("--build-arg") :][:2] == ["--build-arg", "BASE_IMAGE=b:1"]
    assert build_argv(Builder("podman", "podman"), "c", "i")[2:4] == ["--format", "docker"]


def test_replace_dir_swaps_and_keeps_a_secret(tmp_path: Path) -> None:
    out = tmp_path / "image"
    replace_dir(out, lambda root: write_files(root, [ShipFile("Dockerfile", "FROM a:1\n")]))
    (out / "secrets").mkdir()
    (out / "secrets" / "token").write_text("mine")
    files = [ShipFile("Dockerfile", "FROM b:1\n"), ShipFile("run.sh", "#!/bin/sh\n", True)]
    replace_dir(out, lambda root: write_files(root, files), keep=["secrets/token"])
    assert (out / "Dockerfile").read_text() == "FROM b:1\n" and (out / MARKER).is_file()
    assert (out / "secrets" / "token").read_text() == "mine"
    assert (out / "run.sh").stat().st_mode & 0o111
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image"]  # no leftovers


def test_a_failed_fill_leaves_the_old_directory(tmp_path: Path) -> None:
    out = tmp_path / "image"
    replace_dir(out, lambda root: write_files(root, [ShipFile("Dockerfile", "old\n")]))

    def broken(root: Path) -> None:
        (root / "Dockerfile").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_dir(out, broken)
    assert (out / "Dockerfile").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image"]


def test_files_the_user_put_in_a_generated_directory_are_never_lost(tmp_path: Path) -> None:
    out = tmp_path / "image"
    replace_dir(out, lambda root: write_files(root, [ShipFile("compose.yaml", "a: 1\n")]))
    (out / "workspace").mkdir()
    (out / "workspace" / "notebook.ipynb").write_text("{}")
    with pytest.raises(UsageError, match=r"did not write \(workspace/notebook.ipynb\)") as err:
        replace_dir(out, lambda root: write_files(root, [ShipFile("compose.yaml", "b: 2\n")]))
    assert "Move them out" in (err.value.hint or "")
    assert (out / "workspace" / "notebook.ipynb").read_text() == "{}"
    assert (out / "compose.yaml").read_text() == "a: 1\n"


def test_write_errors_are_usage_errors(tmp_path: Path) -> None:
    blocked = tmp_path / "ro"
    blocked.mkdir()
    blocked.chmod(0o500)
    try:
        if os.access(blocked, os.W_OK):
            pytest.skip("running as root: permissions do not stop writes")
        with pytest.raises(UsageError, match="Cannot write") as err:
            replace_dir(blocked / "image", lambda root: None)
        assert err.value.reference == "out-unwritable"
    finally:
        blocked.chmod(0o700)


def test_a_failed_write_is_a_usage_error_and_leaves_nothing(tmp_path: Path) -> None:
    def full(root: Path) -> None:
        raise OSError(28, "No space left on device", str(root / "wheels/torch.whl"))

    with pytest.raises(UsageError, match="No space left on device"):
        replace_dir(tmp_path / "image", full)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_torchenv_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="did not write"):
        replace_dir(out, lambda root: None)
    assert (out / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        replace_dir(tmp_path / "file", lambda root: None)
