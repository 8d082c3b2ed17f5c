"""`torchenv ci --to github|gitlab`: what the workflow says, that it is torchenv's to rewrite
and never the user's, and that values from outside cannot become YAML, shell or expressions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from torchenv import cli
from torchenv.ship.ciworkflow import ACTIONS

SPEC = 'name = "vision"\npython = "3.11"\ntorch = "==2.13.0"\nlibraries = []\n'
GITHUB = Path(".github/workflows/torchenv.yml")


def project(tmp_path: Path, where: str = "", spec: str = SPEC) -> Path:
    directory = tmp_path / where if where else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "torchenv.toml").write_text(spec)
    return directory


def ci(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["ci", *args])
    out, err = capsys.readouterr()
    return code, out, err


def steps(doc: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(doc["jobs"][job]["steps"])


def test_github_workflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    code, out, err = ci(capsys, "--to", "github", "--gpu-runner", "h100", "--image")
    assert code == 0, err
    text = (tmp_path / GITHUB).read_text()
    doc = yaml.safe_load(text)
    assert doc["permissions"] == {"contents": "read"}
    assert doc["env"] == {"TORCHENV_SPEC": "torchenv.toml"}
    assert list(doc["jobs"]) == ["environment", "gpu", "image"]
    runs = [s["run"] for s in steps(doc, "environment") if "run" in s]
    assert runs == [
        'python -m pip install "torchenv==0.1.0"',
        'torchenv lock --check "$TORCHENV_SPEC"',
        'torchenv create "$TORCHENV_SPEC" --prefix .torchenv-ci',
        "torchenv verify --prefix .torchenv-ci --junit torchenv-verify.xml",
    ]
    cache = next(s for s in steps(doc, "environment") if "actions/cache@" in s.get("uses", ""))
    assert (
        cache["with"]["path"] == "~/.cache/uv"
        and "hashFiles('pylock.toml')" in cache["with"]["key"]
    )
    assert doc["jobs"]["gpu"]["runs-on"] == ["self-hosted", "h100"]
    image = doc["jobs"]["image"]
    assert image["permissions"] == {"contents": "read", "packages": "write"}
    assert image["if"] == "startsWith(github.ref, 'refs/tags/v')"
    # every action pinned to a full commit SHA, with its version beside it for a reviewer
    for line in [ln for ln in text.splitlines() if "uses:" in ln]:
        assert re.fullmatch(r"\s*- uses: [\w-]+/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line
    assert {
        s["uses"].split("@")[0] for j in doc["jobs"].values() for s in j["steps"] if "uses" in s
    } == {repo for repo, _, _ in ACTIONS.values()}
    checkout = steps(doc, "environment")[0]
    assert checkout["with"] == {"persist-credentials": False}
    assert "${{ secrets." not in text.replace("${{ secrets.GITHUB_TOKEN }}", "")
    assert "wrote" in out and "jobs: environment, gpu, image" in out


def test_gitlab_pipeline_runs_the_same_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    assert ci(capsys, "--to", "github")[0] == 0
    assert ci(capsys, "--to", "gitlab", "--gpu-runner", "a100", "--image")[0] == 0
    github = yaml.safe_load((tmp_path / GITHUB).read_text())
    gitlab = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    runs = [s["run"] for s in steps(github, "environment") if "run" in s]
    assert gitlab[".torchenv"]["before_script"] == runs[:1]
    assert gitlab["lock-fresh"]["script"] == runs[1:2]
    assert gitlab["environment"]["script"] == runs[2:]
    assert gitlab["environment"]["artifacts"]["reports"]["junit"] == "torchenv-verify.xml"
    assert gitlab["environment"]["cache"]["key"]["files"] == ["pylock.toml"]
    assert gitlab["gpu"]["tags"] == ["a100"] and "cache" not in gitlab["gpu"]
    pushed = gitlab["container-image"]["script"]
    assert any("--password-stdin" in line for line in pushed)
    assert not any("-p " in line or "--password " in line for line in pushed)


def test_a_spec_in_a_subdirectory_and_conda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, "ml", SPEC + 'installer = "conda"\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = ci(capsys, "--to", "github", "--out", ".", "ml/torchenv.toml")
    assert code == 0, err
    doc = yaml.safe_load((tmp_path / GITHUB).read_text())
    assert doc["env"] == {"TORCHENV_SPEC": "ml/torchenv.toml"}
    env_steps = steps(doc, "environment")
    assert env_steps[2]["run"] == 'python -m pip install "torchenv[conda]==0.1.0"'
    cache = next(s for s in env_steps if "actions/cache@" in s.get("uses", ""))
    assert cache["with"]["path"] == "~/.cache/rattler"
    assert "hashFiles('ml/conda.lock')" in cache["with"]["key"]


def test_rerun_replaces_its_own_file_and_never_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    assert ci(capsys, "--to", "github")[0] == 0
    code, out, _ = ci(capsys, "--to", "github", "--json")
    assert code == 0 and json.loads(out)["replaced"] is True
    mine = tmp_path / ".gitlab-ci.yml"
    mine.write_text("stages: [test]\n")
    code, _, err = ci(capsys, "--to", "gitlab")
    assert code == 2 and "was not written by `torchenv ci`" in err
    assert mine.read_text() == "stages: [test]\n"
    mine.unlink()
    os.mkfifo(mine)
    code, _, err = ci(capsys, "--to", "gitlab")
    assert code == 2 and "left as it is" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gpu-runner", "h100 gpu"), "not a runner label"),
        (("--gpu-runner", "x\n- run: id"), "not a runner label"),
        (("--image-ref", "ghcr.io/acme/vision:latest"), "the git tag becomes"),
        (("--image-ref", "acme/vision"), "with its registry"),
        (("--install", "pip install x\nrm -rf /"), "one line of shell"),
        (("--install", ""), "one line of shell"),
    ],
)
def test_values_from_the_command_line_are_checked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(project(tmp_path))
    code, _, err = ci(capsys, "--to", "github", *args)
    assert code == 2 and message in err
    assert not (tmp_path / GITHUB).exists()


@pytest.mark.parametrize("name", ["${{ secrets.TOKEN }}", "a b", "$(id)", "x'y", "ü"])
def test_a_spec_path_that_could_become_an_expression_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    project(tmp_path, name)
    monkeypatch.chdir(tmp_path)
    code, _, err = ci(capsys, "--to", "github", "--out", ".", f"{name}/torchenv.toml")
    assert code == 2 and "cannot go into a workflow" in err
    assert not (tmp_path / ".github").exists()


def test_a_spec_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, "elsewhere")
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    code, _, err = ci(capsys, "--to", "gitlab", "--out", ".", "../elsewhere/torchenv.toml")
    assert code == 2 and "is not inside" in err


def test_the_repository_root_is_found_and_ghcr_names_are_lower_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()  # the repository; the spec lives below it
    monkeypatch.chdir(
        project(
            tmp_path,
            "ml",
            SPEC + 'installer = "pip"\npython = "3.11"\n'.replace('python = "3.11"\n', ""),
        )
    )
    code, _, err = ci(capsys, "--to", "github", "--image")
    assert code == 0, err
    doc = yaml.safe_load((tmp_path / GITHUB).read_text())  # at the root, where GitHub reads it
    assert doc["env"] == {"TORCHENV_SPEC": "ml/torchenv.toml"}
    setup = steps(doc, "environment")[1]["with"]["python-version"]
    assert setup.split("\n") == ["3.11", "3.12"]  # the pip backend needs the lock's Python
    image = steps(doc, "image")
    naming = next(s for s in image if s.get("name") == "The image's name")
    assert naming["run"] == 'echo "IMAGE=ghcr.io/${GITHUB_REPOSITORY,,}" >> "$GITHUB_ENV"'
    assert image[-1]["with"]["tags"] == "${{ env.IMAGE }}:${{ github.ref_name }}"
    code, _, _ = ci(capsys, "--to", "github", "--image-ref", "quay.io/acme/v")
    doc = yaml.safe_load((tmp_path / GITHUB).read_text())
    assert doc["jobs"]["image"]["permissions"] == {"contents": "read"}  # no packages: write


def test_only_a_first_line_marker_makes_a_file_torchenvs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(tmp_path))
    assert ci(capsys, "--to", "gitlab")[0] == 0
    mine = tmp_path / ".gitlab-ci.yml"
    mine.write_text("# my pipeline\n" + mine.read_text())  # kept the header, made it theirs
    code, _, err = ci(capsys, "--to", "gitlab")
    assert code == 2 and "not written by" in err and mine.read_text().startswith("# my pipeline")
