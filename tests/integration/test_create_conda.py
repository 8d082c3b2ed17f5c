"""The conda backend end to end through py-rattler, offline: a local channel built here with
py-rattler-build holds a fake python, cuda-version and two fake pytorch 2.13.0 builds (cpu with
build number 0, cuda130 with 200 that needs ``__cuda``), as conda-forge publishes them
(compat-matrix.md section 7); `torchenv lock` must pick the build the plan asks for, with
``__cuda`` taken from the plan on a machine without a GPU, and `torchenv create` must install
exactly that build."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest

from builders import require
from integration.conftest import run_torchenv

pytestmark = pytest.mark.integration

TORCH = "2.13.0"
CUDA_BUILD = "cuda130_generic_py311_200"
CPU_BUILD = "cpu_generic_py311_0"


PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"  # conda's own build prefix placeholder


def _package(
    out: Path,
    staging: Path,
    name: str,
    version: str,
    build: str,
    files: dict[str, str],
    placeholder_in: str | None = None,
    **options: object,
) -> None:
    import rattler_build

    tree = staging / f"{name}-{version}-{build}"
    tree.mkdir(parents=True)
    for rel, text in files.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.startswith("bin/"):
            path.chmod(0o755)
    subdir = "noarch" if options.get("noarch") else "linux-64"
    made = rattler_build.assemble_package(
        name,
        version,
        subdir,
        build,
        out / subdir,
        files_dir=tree,
        archive_type=rattler_build.ArchiveType.TarBz2,
        **options,
    )
    if placeholder_in:
        _add_placeholder(Path(made.path), placeholder_in)


def _add_placeholder(package: Path, rel: str) -> None:
    """Mark ``rel`` as a text file holding the build prefix, as conda-build does for scripts:
    assemble_package detects no prefix of its own, so the record is added to info/paths.json."""
    with tarfile.open(package, "r:bz2") as tar:
        members = [(m, _read_member(tar, m)) for m in tar]
    with tarfile.open(package, "w:bz2") as tar:
        for member, content in members:
            data = content
            if member.name == "info/paths.json":
                doc = json.loads(content)
                for entry in doc["paths"]:
                    if entry["_path"] == rel:
                        entry.update(prefix_placeholder=PLACEHOLDER, file_mode="text")
                data = json.dumps(doc).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member) if member.isfile() else None
    return handle.read() if handle else b""


def _dist_info(name: str, version: str) -> dict[str, str]:
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    return {f"lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA": metadata}


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local conda channel (linux-64 + noarch) with the fake stack, indexed by rattler."""
    try:
        import rattler.index
        import rattler_build  # noqa: F401
    except ImportError:
        require(False, "py-rattler and py-rattler-build are not installed (extra `test`)")
    require(sys.platform == "linux", "the fake channel is built for linux-64")
    root = tmp_path_factory.mktemp("conda")
    out, staging = root / "channel", root / "staging"
    for subdir in ("linux-64", "noarch"):
        (out / subdir).mkdir(parents=True)
    # a python that does not run, with its prefix in the text like a real script's shebang
    script = f"#!/bin/sh\n# fake python in {PLACEHOLDER}\nexit 3\n"
    python = {"bin/python3.11": script, "bin/python": script}
    _package(out, staging, "python", "3.11.9", "h0_0_cpython", python, "bin/python3.11")
    _package(
        out,
        staging,
        "cuda-version",
        "13.0",
        "h0_0",
        {},
        noarch="generic",
        constrains=["__cuda >=13"],
    )
    needs_python = ["python >=3.11,<3.12"]
    _package(
        out, staging, "pytorch", TORCH, CPU_BUILD, _dist_info("torch", TORCH), depends=needs_python
    )
    _package(
        out,
        staging,
        "pytorch",
        TORCH,
        CUDA_BUILD,
        _dist_info("torch", TORCH),
        depends=[*needs_python, "__cuda", "cuda-version >=13.0,<13.1"],
        build_number=200,
    )
    _package(
        out,
        staging,
        "torchvision",
        "0.28.0",
        "py311_0",
        _dist_info("torchvision", "0.28.0"),
        depends=[*needs_python, f"pytorch {TORCH}.*"],
    )
    asyncio.run(rattler.index.index_fs(out))
    return out


def _project(root: Path, channel: Path, name: str, cuda: str, libraries: str) -> Path:
    project = root / name
    project.mkdir()
    relative = os.path.relpath(channel, project)
    (project / "torchenv.toml").write_text(
        f'name = "{name}"\npython = "3.11"\ntorch = "=={TORCH}"\ncuda = "{cuda}"\n'
        f'libraries = {libraries}\ninstaller = "conda"\n\n'
        '[targets]\ngpus = ["H100"]\ndriver = "580.65.06"\n\n'
        f'[index]\nchannels = ["{relative}"]\n'
    )
    return project


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(tmp_path / "data")
    env["TORCHENV_CACHE_DIR"] = str(tmp_path / "cache")
    env["RATTLER_CACHE_DIR"] = str(tmp_path / "rattler-cache")
    return env


@pytest.mark.parametrize(
    ("cuda", "libraries", "build", "locked"),
    [
        (
            "auto",
            '["torchvision"]',
            CUDA_BUILD,
            {"cuda-version", "pytorch", "python", "torchvision"},
        ),
        ("cpu", "[]", CPU_BUILD, {"pytorch", "python"}),
    ],
    ids=["cuda130-from-the-plan", "cpu"],
)
def test_lock_then_create_installs_the_planned_build(
    channel: Path,
    tmp_path: Path,
    env: dict[str, str],
    cuda: str,
    libraries: str,
    build: str,
    locked: set[str],
) -> None:
    project = _project(tmp_path, channel, f"conda-{cuda}", cuda, libraries)
    started = time.perf_counter()
    done = run_torchenv("lock", "--json", cwd=project, env=env)
    lock_seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "torchenv.lock/1"
    assert set(report["packages"]) == locked and report["packages"]["pytorch"] == TORCH
    assert report["stack"]["variant"] == ("cu130" if cuda == "auto" else "cpu")
    lock = project / "conda.lock"
    text = lock.read_text()
    assert f"pytorch-{TORCH}-{build}.tar.bz2" in text
    assert ("__cuda=13.0" in text) == (cuda == "auto")  # the plan's CUDA, not this machine's
    meta = json.loads((project / "conda.lock.torchenv.json").read_text())
    assert meta["lock-sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert meta["tool"]["variant"] == report["stack"]["variant"]
    assert meta["tool"]["channels"] == [channel.as_uri() + "/"]

    prefix = tmp_path / f"env-{cuda}"
    started = time.perf_counter()
    done = run_torchenv(
        "create", "--no-verify", "--prefix", str(prefix), "--json", cwd=project, env=env
    )
    create_seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["backend"] == "conda" and created["torch"] == TORCH
    assert created["packages"] == len(locked)
    assert (prefix / "conda-meta" / f"pytorch-{TORCH}-{build}.json").is_file()
    record = json.loads((prefix / "torchenv-env.json").read_text())
    assert record["backend"] == "conda"
    assert record["lock"]["packages"]["torch"] == TORCH  # the dist-info, as verify sees it
    assert record["lock"]["conda"]["pytorch"] == f"{TORCH} {build}"
    assert record["plan"]["spec-hash"] == meta["tool"]["spec-hash"]
    # built beside the prefix and renamed: the placeholder was replaced by the final prefix
    assert not list(tmp_path.glob(f".{prefix.name}.torchenv-*"))
    script = (prefix / "bin" / "python3.11").read_text()
    assert f"# fake python in {prefix}\n" in script
    print(f"{cuda}: lock {lock_seconds:.2f} s, create {create_seconds:.2f} s, {build}")

    done = run_torchenv("doctor", "--prefix", str(prefix), "--json", cwd=project, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["schema"] == "torchenv.doctor/1"


def test_stale_and_mismatched_locks_are_refused(
    channel: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    project = _project(tmp_path, channel, "conda-stale", "cpu", "[]")
    prefix = str(tmp_path / "env")
    done = run_torchenv("create", "--no-verify", "--prefix", prefix, cwd=project, env=env)
    assert done.returncode == 2 and "Run `torchenv lock` first" in done.stderr
    assert run_torchenv("lock", cwd=project, env=env).returncode == 0
    done = run_torchenv("create", "--backend", "uv", "--prefix", prefix, cwd=project, env=env)
    assert done.returncode == 2 and "--backend conda" in done.stderr
    lock = project / "conda.lock"
    lock.write_text(lock.read_text() + "\n")
    done = run_torchenv("create", "--no-verify", "--prefix", prefix, cwd=project, env=env)
    assert done.returncode == 2 and "changed since `torchenv lock`" in done.stderr
    assert run_torchenv("lock", cwd=project, env=env).returncode == 0
    spec = project / "torchenv.toml"
    spec.write_text(spec.read_text().replace('python = "3.11"', 'python = "3.12"'))
    done = run_torchenv("create", "--no-verify", "--prefix", prefix, cwd=project, env=env)
    assert done.returncode == 2 and "another version" in done.stderr
    assert not Path(prefix).exists()


def test_a_failed_quick_verify_leaves_nothing(
    channel: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """The fake python cannot run, so verify --quick fails: the environment must not be moved
    into place."""
    project = _project(tmp_path, channel, "conda-verify", "cpu", "[]")
    assert run_torchenv("lock", cwd=project, env=env).returncode == 0
    prefix = tmp_path / "env"
    done = run_torchenv("create", "--prefix", str(prefix), cwd=project, env=env)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert not prefix.exists() and not list(tmp_path.glob(".env.torchenv-build-*"))
