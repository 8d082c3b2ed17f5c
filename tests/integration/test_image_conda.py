"""A real conda image: `torchenv image --build` with buildah from a conda lock of a local channel
that holds a real CPython and torch 2.13.0+cpu as conda packages (realconda.py), on the local
Debian base of test_image_build.py; then, inside the image, as its non-root user:
`torchenv verify --quick`, the environment activated for login shells and `bash -c`, and the
lock kept byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import require
from integration.conftest import TORCH_VERSION, run_torchenv
from integration.realconda import build_channel
from integration.test_image_build import BASE, buildah, images  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def channel(torch_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import rattler  # noqa: F401
        import rattler_build  # noqa: F401
    except ImportError:
        require(False, "py-rattler and py-rattler-build are not installed (extra `test`)")
    root = tmp_path_factory.mktemp("realconda")
    return build_channel(torch_venv, root / "channel", root / "staging")


@pytest.fixture
def project(channel: Path, tmp_path: Path) -> Iterator[Path]:
    spec = tmp_path / "torchenv.toml"
    spec.write_text(
        f'name = "conda-image"\npython = "3.11"\ntorch = "=={TORCH_VERSION}"\ncuda = "cpu"\n'
        'libraries = []\ninstaller = "conda"\n\n[targets]\nplatform = "linux_x86_64"\n\n'
        f'[index]\nchannels = ["{channel}"]\n\n[image]\nbase = "{BASE}"\nssh = true\n'
    )
    yield tmp_path


def run_in(container: str, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["buildah", "run", container, "--", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_conda_image_passes_verify_inside(
    images: dict[str, str],  # noqa: F811
    project: Path,
) -> None:
    env = {k: v for k, v in images.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(project / "data")
    env["RATTLER_CACHE_DIR"] = str(project / "rattler-cache")
    done = run_torchenv("lock", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    lock_sha = hashlib.sha256((project / "conda.lock").read_bytes()).hexdigest()
    done = run_torchenv(
        "image", "--build", "--builder", "buildah", "--json", cwd=project, env=env, timeout=1200
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    image = report["image"]
    assert report["base"] == BASE and report["labels"]["io.torchenv.lock-sha256"] == lock_sha
    assert any("local conda package(s)" in n for n in report["notes"])
    context = Path(report["out"])
    assert (context / "conda.lock").read_bytes() == (project / "conda.lock").read_bytes()
    assert not (context / "pylock.toml").exists()
    try:
        config = json.loads(buildah("inspect", "--type", "image", image, env=env))
        docker = config["Docker"]["config"]
        assert docker["User"] == "1000:1000"
        assert "CONDA_PREFIX=/opt/env" in docker["Env"]
        container = buildah("from", image, env=env)
        try:
            verify = run_in(
                container, env, "torchenv", "verify", "--quick", "--prefix", "/opt/env", "--json"
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr
            doc = json.loads(verify.stdout)
            checks = {c["id"]: c for c in doc["checks"]}
            assert doc["target"]["kind"] == "conda"
            assert checks["import-torch"]["status"] == "pass"
            assert f"torch {TORCH_VERSION}+cpu" in checks["import-torch"]["detail"]
            assert checks["versions-match-lock"]["status"] == "pass", checks["versions-match-lock"]
            assert not [c for c in checks.values() if c["status"] == "fail"]
            who = run_in(container, env, "/usr/local/bin/torchenv-entrypoint", "id", "-u")
            assert who.returncode == 0 and who.stdout.strip() == "1000", who.stderr
            # activated for login shells (SSH sessions) and for `bash -c` (docker exec)
            for shell in (["bash", "-lc"], ["bash", "-c"]):
                seen = run_in(
                    container,
                    env,
                    *shell,
                    'command -v python; echo "$CONDA_PREFIX"; python -c '
                    '"import sys; print(sys.prefix)"',
                )
                assert seen.stdout.split() == ["/opt/env/bin/python", "/opt/env", "/opt/env"], (
                    shell,
                    seen.stdout,
                    seen.stderr,
                )
            kept = run_in(container, env, "sha256sum", "/etc/torchenv/conda.lock")
            assert kept.stdout.split()[0] == lock_sha
            # nothing of the build stage: no installer, no package cache, no uv Python
            left = run_in(
                container, env, "sh", "-c", "ls -d /build /opt/python /tmp/rattler 2>/dev/null"
            )
            assert left.stdout.strip() == ""
            record = json.loads(run_in(container, env, "cat", "/opt/env/torchenv-env.json").stdout)
            assert record["backend"] == "conda" and record["lock"]["sha256"] == lock_sha
            assert record["lock"]["path"] == "/etc/torchenv/conda.lock"
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, env=env, check=False)
    finally:
        subprocess.run(["buildah", "rmi", image], capture_output=True, env=env, check=False)
        subprocess.run(["buildah", "rmi", "--prune"], capture_output=True, env=env, check=False)
    assert os.path.isdir(context)
