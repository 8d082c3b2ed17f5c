"""The workflows `torchenv ci` writes, checked by the tools CI systems trust, and run: actionlint
and the GitHub workflow schema, the GitLab CI schema (both shipped by check-jsonschema), then the
GitHub workflow's own shell steps executed here on a CPU spec, in a fresh venv standing in for
the runner: torchenv installed from this checkout, the lock checked, the environment created
from the local wheel, verify passing with its JUnit report."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from builders import require
from integration.conftest import (
    ROOT,
    TORCH_VERSION,
    find_links,
    run_torchenv,
    uv_bin,
    write_cpu_spec,
)

pytestmark = pytest.mark.integration

VENV_BIN = Path(__file__).parents[2] / ".venv" / "bin"


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(VENV_BIN))
    require(found is not None, f"{name} is not installed (pip install -e '.[test]')")
    assert found is not None
    return found


def write(root: Path, env: dict[str, str], *args: str) -> None:
    done = run_torchenv("ci", *args, cwd=root, env=env)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)  # actionlint wants a repository
    (root / "torchenv.toml").write_text('name = "v"\npython = "3.11"\ntorch = "==2.13.0"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    return root, env


@pytest.mark.parametrize(
    "extra", [(), ("--gpu-runner", "h100"), ("--image",), ("--image-ref", "quay.io/acme/v")]
)
def test_github_workflows_pass_actionlint_and_the_schema(
    repo: tuple[Path, dict[str, str]], extra: tuple[str, ...]
) -> None:
    root, env = repo
    write(root, env, "--to", "github", *extra)
    (root / ".github" / "actionlint.yaml").write_text("self-hosted-runner:\n  labels: [h100]\n")
    lint = subprocess.run(
        [tool("actionlint")], cwd=root, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         str(root / ".github" / "workflows" / "torchenv.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr


@pytest.mark.parametrize("extra", [(), ("--gpu-runner", "a100", "--image")])
def test_gitlab_pipelines_pass_the_schema(
    repo: tuple[Path, dict[str, str]], extra: tuple[str, ...]
) -> None:
    root, env = repo
    write(root, env, "--to", "gitlab", *extra)
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
         str(root / ".gitlab-ci.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr
    for script in yaml.safe_load((root / ".gitlab-ci.yml").read_text()).values():
        if isinstance(script, dict) and "script" in script:
            for line in script["script"]:
                bash = subprocess.run(
                    ["bash", "-n", "-c", line], capture_output=True, text=True, check=False
                )
                assert bash.returncode == 0, (line, bash.stderr)


def test_the_workflows_shell_steps_run_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    links, python = find_links(), shutil.which("python3.11")
    require(links is not None, f"no torch {TORCH_VERSION}+cpu wheel (set TORCHENV_TEST_WHEELS)")
    require(uv_bin() is not None and python is not None, "uv and python3.11 are needed")
    assert python is not None
    root = tmp_path / "repo"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(TORCHENV_DATA_DIR=str(tmp_path / "data"), UV_HTTP_RETRIES="1")
    write_cpu_spec(root, env, "ci-test")
    done = run_torchenv("lock", cwd=root, env=env)  # committed with the spec, as CI expects
    assert done.returncode == 0, done.stderr
    install = f"python -m pip install -q {ROOT}"
    write(root, env, "--to", "github", "--install", install)
    doc = yaml.safe_load((root / ".github" / "workflows" / "torchenv.yml").read_text())
    # the runner: a fresh interpreter with nothing of this checkout's venv on its PATH
    runner = tmp_path / "runner"
    subprocess.run([python, "-m", "venv", str(runner)], check=True)
    path = os.pathsep.join([str(runner / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    step_env = {**env, **doc["env"], "PATH": path, "HOME": str(tmp_path / "home")}
    ran = []
    for step in doc["jobs"]["environment"]["steps"]:
        if "run" not in step:
            continue  # actions (checkout, setup-python, cache, upload): the runner's part
        result = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=root, env=step_env, capture_output=True,
            text=True, timeout=900, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (step["name"], result.stdout, result.stderr)
        ran.append(step["name"])
    assert ran == ["Install torchenv", "The lock is fresh", "Create the environment", "Verify it"]
    assert (runner / "bin" / "torchenv").exists()  # installed by the step, not borrowed
    report = ET.parse(root / "torchenv-verify.xml").getroot()  # noqa: S314  (our own output)
    cases = {c.get("name") for c in report.iter("testcase")}
    assert {"import-torch", "cpu-ops"} <= cases
    with capsys.disabled():
        print(f"\nworkflow steps run here: {', '.join(ran)}")
