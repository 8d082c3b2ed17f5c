"""`torchenv db update`: the JSON contract, the text report, exit codes and messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexserver import IndexServer, add_pypi, add_pytorch_index, closed_port_url, serve
from torchenv import cli
from torchenv.knowledge.store import load_knowledge


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NO_COLOR", "1")
    load_knowledge.cache_clear()
    yield tmp_path / "data"
    load_knowledge.cache_clear()


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with serve() as server:
        yield server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["db", "update", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(
    data_dir: Path, index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    pypi, pytorch = add_pypi(index), add_pytorch_index(index)
    code, out, err = run(capsys, "--pypi-index", pypi, "--pytorch-index", pytorch, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert next(iter(doc)) == "schema" and doc["schema"] == "torchenv.db-update/1"
    assert doc["path"] == str(data_dir / "torch.json") and doc["written"] is True
    assert doc["started_from"] == "packaged" and doc["failures"] == []
    assert {"version": "2.13.0", "fields": ["python"]} in doc["changed"]
    assert "torchenv: reading the torch file list from" in err  # progress on stderr
    assert json.loads((data_dir / "torch.json").read_text())["updated_from"]["pypi"] == pypi


def test_text_report_names_changes_and_the_failed_source(
    data_dir: Path, index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = closed_port_url() + "/whl"
    code, out, _ = run(capsys, "--pypi-index", add_pypi(index), "--pytorch-index", dead)
    assert code == 0
    assert f"Knowledge base: {data_dir / 'torch.json'}" in out
    assert "changed torch 2.13.0: python" in out
    assert f"failed  pytorch-index: Cannot read {dead}/torch/" in out
    assert "\x1b[" not in out


def test_unreachable_pypi_exits_4_without_a_traceback(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = closed_port_url() + "/simple"
    code, out, err = run(capsys, "--pypi-index", dead)
    assert code == 4 and out == ""
    assert f"torchenv: error: Cannot read {dead}/torch/:" in err
    assert "hint:" in err and "Traceback" not in err
    assert not (data_dir / "torch.json").exists()


def test_bad_input_exits_2(
    data_dir: Path, index: IndexServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--pypi-index", str(tmp_path / "no-such-dir"))
    assert code == 2 and "neither a URL nor a directory" in err
    code, _, err = run(capsys, "--pypi-index", add_pypi(index), "--only", "0.1.0")
    assert code == 2 and "torch 0.1.0 is not a release" in err
    code, _, err = run(capsys, "--pypi-index", add_pypi(index), "--only", "two")
    assert code == 2 and "Not a version: two" in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--pypi-index" in out and "--full" in out and "--only" in out
