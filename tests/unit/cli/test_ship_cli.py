"""`torchenv image` and `torchenv deploy` through the CLI: the JSON contracts, the text, and the
exit codes of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import FakeRunner, probe_context
from ship_project import ship_project
from torchenv import cli
from torchenv.cli import common
from torchenv.models.process import RunResult


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runner = FakeRunner()
    runner.on(
        lambda argv: argv[-1] == "--version",
        lambda argv: RunResult(tuple(argv), 0, "uv 0.13.9\n"),
    )
    ctx, _ = probe_context(tmp_path, runner)
    monkeypatch.setattr(common, "context", lambda: ctx)
    root = tmp_path / "p"
    ship_project(root, "[deploy]\nnodes = 2\ngpus-per-node = 4\n", variant="cu130")
    monkeypatch.chdir(root)
    return root


def test_image_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["image", "--ssh", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == "torchenv.image/1" and report["out"] == str(project / "image")
    assert report["base"] == "python:3.11-slim-bookworm" and report["build"] is None
    assert "sshd_config" in report["files"]
    assert report["labels"]["io.torchenv.variant"] == "cu130"


def test_image_text_says_what_to_run_next(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["image", "--out", "ctx"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {project / 'ctx'}" in out and "next: docker build -t demo:2.13.0-cu130-" in out


def test_deploy_json_and_text(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["deploy", "--to", "pytorchjob", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == "torchenv.deploy/1" and report["nodes"] == 2
    assert report["files"] == ["demo-pytorchjob.yaml"] and report["gpus_per_node"] == 4
    assert cli.main(["deploy", "--to", "slurm", "--command", "train.py --epochs 2"]) == 0
    out = capsys.readouterr().out
    assert "demo.sbatch" in out and "2 node(s) x 4 GPU(s)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "--to", "nomad"], "Invalid value for '--to'"),
        (["deploy", "--to", "k8s", "--nodes", "0"], "--nodes"),
        (["deploy", "--to", "compose"], "compose runs on one machine"),
        (["deploy", "--to", "k8s", "--command", "a 'b"], "--command"),
        (["image", "--jupyter"], "jupyterlab is not in"),
        (["image", "--builder", "kaniko"], "Invalid value for '--builder'"),
        (["image", "missing.toml"], "missing.toml"),
    ],
)
def test_bad_input_is_exit_2_without_a_traceback(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_foreign_output_directory_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "mine").mkdir()
    (project / "mine" / "Dockerfile").write_text("FROM my:1\n")
    assert cli.main(["image", "--out", "mine"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (project / "mine" / "Dockerfile").read_text() == "FROM my:1\n"
