"""A real image: `torchenv image --build` with buildah, from a Debian 12 base made here with
debootstrap (no registry is reachable), with torch 2.13.0+cpu from the local wheel; then
`torchenv verify --quick` inside the built image.

Two local images stand in for registry ones. The base is named in the spec ([image] base),
as a user names a company base image. uv's image (ghcr.io/astral-sh/uv:<version>) holds the
very uv binary torchenv runs with, under the name the Dockerfile pulls. The base carries this
machine's CA bundle, since this machine reaches PyPI through a proxy with its own CA.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import require
from integration.authindex import auth_index, files_holding, with_private_index
from integration.conftest import (
    ROOT,
    TORCH_VERSION,
    find_links,
    run_torchenv,
    uv_bin,
    write_cpu_spec,
)

pytestmark = pytest.mark.integration
BASE = "localhost/torchenv-test-base:bookworm"
MIRROR = os.environ.get("TORCHENV_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def buildah(*args: str, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        ["buildah", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"buildah {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout.strip()


def has_image(name: str, env: dict[str, str]) -> bool:
    done = subprocess.run(
        ["buildah", "images", "--quiet", name], capture_output=True, text=True, env=env, check=False
    )
    return done.returncode == 0 and bool(done.stdout.strip())


def make_base(env: dict[str, str]) -> None:
    """Debian 12 minbase with python3.11 (debootstrap, kept in .venvs/ between runs)."""
    rootfs = ROOT / ".venvs" / "debian-bookworm-rootfs"
    if not (rootfs / ".complete").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3.11,ca-certificates",
                "bookworm",
                str(rootfs),
                MIRROR,
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        (rootfs / ".complete").write_text("ok\n")
    container = buildah("from", "scratch", env=env)
    try:
        mount = buildah("mount", container, env=env)
        subprocess.run(["cp", "-a", f"{rootfs}/.", mount], check=True)
        Path(mount, ".complete").unlink()
        if CA_BUNDLE.is_file():
            shutil.copyfile(CA_BUNDLE, Path(mount) / "etc/ssl/certs/ca-certificates.crt")
        buildah("umount", container, env=env)
        buildah(
            "config",
            "--env",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            container,
            env=env,
        )
        buildah("commit", "--quiet", container, BASE, env=env)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, env=env, check=False)


def make_uv_image(name: str, uv: str, env: dict[str, str]) -> None:
    container = buildah("from", "scratch", env=env)
    try:
        buildah("copy", container, uv, "/uv", env=env)
        buildah("commit", "--quiet", container, name, env=env)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, env=env, check=False)


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    for name in ("buildah", "debootstrap"):
        require(shutil.which(name) is not None, f"{name} is not installed")
    require(os.geteuid() == 0, "buildah and debootstrap need root here")
    links, uv = find_links(), uv_bin()
    require(links is not None and uv is not None, f"no torch {TORCH_VERSION}+cpu wheel or uv")
    assert uv is not None
    # crun cannot run in this cgroup setup: RUN steps use chroot isolation (test-environment.md)
    env = {**os.environ, "BUILDAH_ISOLATION": os.environ.get("BUILDAH_ISOLATION", "chroot")}
    if not has_image(BASE, env):
        make_base(env)
    version = re.search(
        r"\d+\.\d+\.\d+",
        subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout,
    )
    assert version is not None
    uv_image = f"ghcr.io/astral-sh/uv:{version.group(0)}"
    if not has_image(uv_image, env):
        make_uv_image(uv_image, uv, env)
    yield env


def assert_nowhere_in(
    image: str, config: dict[str, object], secret: str, env: dict[str, str]
) -> None:
    """``secret`` is in no label, environment variable or history entry of ``image``, and in no
    file of its filesystem."""
    assert secret not in json.dumps(config)
    container = buildah("from", image, env=env)
    try:
        root = Path(buildah("mount", container, env=env))
        assert files_holding(root, secret) == []
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, env=env, check=False)


def test_built_image_passes_verify_inside(images: dict[str, str], tmp_path: Path) -> None:
    """The packages come from a private index that demands credentials (the spec names them
    in its URL): the build gets them as the BuildKit secret, and no layer keeps them."""
    env = {k: v for k, v in images.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["TORCHENV_DATA_DIR"] = str(tmp_path / "data")
    with auth_index() as index:
        extra = f'\n[image]\nbase = "{BASE}"\nssh = true\n'
        with_private_index(write_cpu_spec(tmp_path, env, "image-test", extra), index)
        done = run_torchenv("lock", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        before = len(index.authorized_files())
        done = run_torchenv(
            "image", "--build", "--builder", "buildah", "--json", cwd=tmp_path, env=env, timeout=900
        )
        assert done.returncode == 0, done.stderr[-4000:]
        assert len(index.authorized_files()) > before, "the build downloaded nothing with them"
        assert index.token not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "torchenv.image/1" and report["build"]["tool"] == "buildah"
    image = report["image"]
    try:
        config = json.loads(buildah("inspect", "--type", "image", image, env=env))
        docker = config["Docker"]["config"]
        assert docker["User"] == "1000:1000"  # torchenv ran as root: the default 1000
        assert docker["Healthcheck"]["Test"] == [
            "CMD",
            "torchenv",
            "verify",
            "--quick",
            "--prefix",
            "/opt/env",
        ]
        assert docker["Entrypoint"][:2] == ["tini", "--"]
        lock_sha = report["labels"]["io.torchenv.lock-sha256"]
        assert docker["Labels"]["io.torchenv.lock-sha256"] == lock_sha
        assert_nowhere_in(image, config, index.token, env)
        container = buildah("from", image, env=env)
        try:
            # the entrypoint (tini runs it in a container): no key mounted, so no sshd, and the
            # command still runs
            entry = subprocess.run(
                [
                    "buildah",
                    "run",
                    container,
                    "--",
                    "/usr/local/bin/torchenv-entrypoint",
                    "id",
                    "-u",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
            assert entry.returncode == 0 and entry.stdout.strip() == "1000", entry.stderr
            assert "sshd not started: mount a public key" in entry.stderr
            # login shells (SSH sessions) find the environment's python
            login = buildah("run", container, "--", "bash", "-lc", "command -v python", env=env)
            assert login == "/opt/env/bin/python"
            verify = subprocess.run(
                [
                    "buildah",
                    "run",
                    container,
                    "--",
                    "torchenv",
                    "verify",
                    "--quick",
                    "--prefix",
                    "/opt/env",
                    "--json",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
                check=False,
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr
            checks = {c["id"]: c for c in json.loads(verify.stdout)["checks"]}
            assert checks["import-torch"]["status"] == "pass"
            assert checks["versions-match-lock"]["status"] == "pass"
            assert f"torch {TORCH_VERSION}+cpu" in checks["import-torch"]["detail"]
            assert not [c for c in checks.values() if c["status"] == "fail"]
            sshd = buildah(
                "run",
                container,
                "--",
                "sh",
                "-c",
                "test -x /usr/sbin/sshd && ls /var/lib/torchenv/ssh | wc -l",
                env=env,
            )
            assert sshd == "0"  # no host keys in the image: they are made at first start
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, env=env, check=False)
    finally:
        subprocess.run(["buildah", "rmi", image], capture_output=True, env=env, check=False)
        # the lock names this run's temporary index, so its layers are never reused: drop them
        subprocess.run(["buildah", "rmi", "--prune"], capture_output=True, env=env, check=False)
