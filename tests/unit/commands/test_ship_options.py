"""The options of `image` and `deploy` are kept in the spec's [image] and [deploy] tables, so
that the next run (and CI) writes the same files without them; `--no-save` uses them once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ship_project import ship_project
from torchenv import cli
from torchenv.spec import load_spec, spec_hash

COMMENTED = "# the team's spec: keep this comment\n"


def project(tmp_path: Path) -> Path:
    spec = ship_project(tmp_path / "p", packages=("jupyterlab",))
    spec.write_text(COMMENTED + spec.read_text() + '\n[image]\nuser = "ml"  # our user\n')
    return spec


def run(capsys: Any, spec: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    code = cli.main([*argv, str(spec), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else {}, err


def context_files(out: str) -> dict[str, bytes]:
    root = Path(out)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "secrets" not in p.parts and p.suffix != ".whl"
    }


def test_image_options_are_kept_and_the_next_run_needs_none(tmp_path: Path, capsys: Any) -> None:
    spec = project(tmp_path)
    before = spec_hash(load_spec(spec, tmp_path))
    flags = ["--jupyter", "--ssh", "--base", "python:3.11-slim-bookworm"]
    code, report, err = run(capsys, spec, "image", *flags, "--name", "ghcr.io/team/demo")
    assert code == 0, err
    text = spec.read_text()
    assert text.startswith(COMMENTED) and 'user = "ml"  # our user' in text
    loaded = load_spec(spec, tmp_path)
    assert (loaded.image.jupyter, loaded.image.ssh) == (True, True)
    assert loaded.image.base == "python:3.11-slim-bookworm"
    assert loaded.image.name == "ghcr.io/team/demo"
    assert spec_hash(loaded) == before  # the environment did not change: the lock is fresh
    assert "saved [image] jupyter = true in torchenv.toml" in report["notes"]
    first = context_files(report["out"])
    code, again, err = run(capsys, spec, "image")
    assert code == 0, err
    assert context_files(again["out"]) == first
    assert not [n for n in again["notes"] if n.startswith("saved")]


def test_no_save_uses_the_options_once(tmp_path: Path, capsys: Any) -> None:
    spec = project(tmp_path)
    original = spec.read_bytes()
    code, report, err = run(capsys, spec, "image", "--ssh", "--no-save")
    assert code == 0, err
    assert "sshd_config" in report["files"] and spec.read_bytes() == original


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--base", "python"], "has no tag"),
        (["--name", "Not A Reference"], "is not valid"),
    ],
)
def test_a_bad_option_changes_nothing(
    tmp_path: Path, capsys: Any, flags: list[str], said: str
) -> None:
    spec = project(tmp_path)
    original = spec.read_bytes()
    code, _, err = run(capsys, spec, "image", *flags)
    assert code == 2 and said in err and "Traceback" not in err
    assert spec.read_bytes() == original and not (spec.parent / "image").exists()


def test_a_failed_run_saves_nothing(tmp_path: Path, capsys: Any) -> None:
    spec = project(tmp_path)
    (spec.parent / "pylock.toml").unlink()
    original = spec.read_bytes()
    code, _, err = run(capsys, spec, "image", "--ssh")
    assert code == 2 and "no lock" in err.lower()
    assert spec.read_bytes() == original


def test_deploy_options_are_kept(tmp_path: Path, capsys: Any) -> None:
    spec = project(tmp_path)
    argv = ["deploy", "--to", "k8s", "--nodes", "2", "--gpus-per-node", "8"]
    argv += ["--command", "train.py --epochs 3", "--port", "29400", "--shm-size", "32g"]
    code, report, err = run(capsys, spec, *argv, "--image", "ghcr.io/team/demo:1")
    assert code == 0, err
    deploy = load_spec(spec, tmp_path).deploy
    assert deploy.nodes == 2 and deploy.gpus_per_node == 8 and deploy.port == 29400
    assert deploy.command == ("train.py", "--epochs", "3") and deploy.shm_size == "32g"
    assert deploy.image == "ghcr.io/team/demo:1"
    assert (
        'saved [deploy] command = ["train.py", "--epochs", "3"] in torchenv.toml' in report["notes"]
    )
    first = context_files(report["out"])
    code, again, err = run(capsys, spec, "deploy", "--to", "k8s")
    assert code == 0, err
    assert context_files(again["out"]) == first


def test_the_cpu_rule_is_not_saved(tmp_path: Path, capsys: Any) -> None:
    """A CPU lock asks for no GPUs; that is this run's reading of the lock, not a setting."""
    spec = project(tmp_path)
    code, report, err = run(capsys, spec, "deploy", "--to", "k8s", "--nodes", "2")
    assert code == 0, err
    assert report["gpus_per_node"] == 0
    assert "gpus-per-node" not in spec.read_text() and "nodes = 2" in spec.read_text()


def test_a_saved_switch_can_be_turned_off(tmp_path: Path, capsys: Any) -> None:
    spec = project(tmp_path)
    assert run(capsys, spec, "image", "--ssh")[0] == 0
    assert load_spec(spec, tmp_path).image.ssh
    code, report, err = run(capsys, spec, "image", "--no-ssh")
    assert code == 0, err
    assert not load_spec(spec, tmp_path).image.ssh and "sshd_config" not in report["files"]


def test_a_spec_that_cannot_take_the_options_is_a_note(tmp_path: Path, capsys: Any) -> None:
    """The files the user asked for are written; only keeping the options failed."""
    spec = project(tmp_path)
    real = spec.with_name("team.toml")
    spec.rename(real)
    spec.symlink_to(real.name)
    code, report, err = run(capsys, spec, "image", "--ssh")
    assert code == 0, err
    assert "sshd_config" in report["files"]
    assert any("not saved" in n and "symbolic link" in n for n in report["notes"])
    assert spec.is_symlink() and "ssh" not in real.read_text()


def test_a_cpu_lock_keeps_the_gpus_the_spec_names(tmp_path: Path, capsys: Any) -> None:
    spec = project(tmp_path)
    code, report, err = run(capsys, spec, "deploy", "--to", "k8s", "--gpus-per-node", "1")
    assert code == 0 and report["gpus_per_node"] == 1, err
    code, again, err = run(capsys, spec, "deploy", "--to", "k8s")  # the spec names 1 now
    assert code == 0 and again["gpus_per_node"] == 1, err
