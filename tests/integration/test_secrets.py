"""Index credentials in a spec: lock, create (uv and pip), image and deploy work against a
private index that demands them, and the credential appears in no file torchenv writes (the
lock, the environments and their records, the registry, the image context, the deploy files,
the caches) nor in anything it prints."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from builders import require
from integration.authindex import AuthIndex, auth_index, files_holding, with_private_index
from integration.conftest import TORCH_VERSION, find_links, run_torchenv, uv_bin, write_cpu_spec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def index() -> Iterator[AuthIndex]:
    with auth_index() as served:
        yield served


def private_spec(root: Path, env: dict[str, str], index: AuthIndex, extra: str = "") -> Path:
    """The CPU spec of the other integration tests, with PyPI replaced by the private index."""
    return with_private_index(write_cpu_spec(root, env, "secret-test", extra), index)


def test_credentials_reach_the_installers_and_no_file(index: AuthIndex, tmp_path: Path) -> None:
    require(find_links() is not None and uv_bin() is not None, "no local torch wheel or uv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(
        TORCHENV_DATA_DIR=str(tmp_path / "data"),
        TORCHENV_CACHE_DIR=str(tmp_path / "cache"),
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),  # a cold cache: every file is downloaded
        PIP_CONFIG_FILE=os.devnull,  # pip must not find the mirror through this machine's config
        PIP_NO_CACHE_DIR="1",
        UV_HTTP_RETRIES="1",
    )
    project = tmp_path / "project"
    project.mkdir()
    spec = private_spec(project, env, index)
    printed = []

    def torchenv(*args: str) -> str:
        done = run_torchenv(*args, cwd=project, env=env)
        printed.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    torchenv("lock", "--verbose")
    lock = (project / "pylock.toml").read_text()
    assert index.token not in lock
    assert 'pypi = "http://127.0.0.1:' in lock  # the index, without its credentials
    before = len(index.authorized_files())
    torchenv("create", "--backend", "uv", "--prefix", str(tmp_path / "env-uv"), "--verbose")
    assert len(index.authorized_files()) > before, "uv downloaded nothing with credentials"
    before = len(index.authorized_files())
    torchenv("create", "--backend", "pip", "--prefix", str(tmp_path / "env-pip"), "--verbose")
    assert len(index.authorized_files()) > before, "pip downloaded nothing with credentials"
    # the environments work: their quick verify passed inside create, and torch imports
    report = json.loads(
        torchenv("verify", "--quick", "--prefix", str(tmp_path / "env-pip"), "--json")
    )
    assert {c["id"]: c["status"] for c in report["checks"]}["import-torch"] == "pass"
    torchenv("image")
    for target in ("compose", "k8s", "pytorchjob", "slurm"):
        torchenv("deploy", "--to", target)
    # the spec is the user's own file and holds the token; nothing else may
    encoded = base64.b64encode(f"alice:{index.token}".encode()).decode()
    for needle in (index.token, encoded):  # as written, and as an Authorization header holds it
        leaks = files_holding(tmp_path, needle, skip=frozenset({spec}))
        assert leaks == [], f"the credential was written to {leaks}"
    assert not [text for text in printed if index.token in text]
    assert any("alice" in text or "127.0.0.1" in text for text in printed)
    assert f"torch-{TORCH_VERSION}" in " ".join(
        os.listdir(tmp_path / "env-uv" / "lib" / "python3.11" / "site-packages")
    )
