"""`torchenv matrix --check` against recorded PyPI pages and synthetic wheels served locally
(tests/indexserver.py): the JSON contract, the text report, exit codes 0/1/2/4, sources that
cannot be read, and hostile input (bad --only values, credentials in index URLs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import PIECES, hostile_text, sandbox
from indexserver import FIXTURES, IndexServer, add_pypi, add_pytorch_index, closed_port_url, serve
from torchenv import cli
from torchenv.commands import matrix_check
from torchenv.knowledge.store import load_knowledge
from torchenv.models import from_data
from torchenv.models.matrix import MatrixCheckReport

ON_THE_INDEX = {"1.13.1", "2.13.0"}  # the releases the recorded pages keep


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    load_knowledge.cache_clear()
    yield
    load_knowledge.cache_clear()


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with serve() as server:
        yield server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["matrix", *args])
    out, err = capsys.readouterr()
    return code, out, err


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(capsys, "--check", "--json", *args)
    assert out, err
    return code, json.loads(out), err


def packaged_versions() -> set[str]:
    return {r["version"] for r in matrix_check.packaged_data()["releases"]}


def test_json_contract(index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
    pypi, pytorch = add_pypi(index), add_pytorch_index(index)
    code, doc, err = check(
        capsys, "--pypi-index", pypi, "--pytorch-index", pytorch, "--only", "2.13"
    )
    assert code == 1 and next(iter(doc)) == "schema" and doc["schema"] == "torchenv.matrix-check/1"
    assert doc["only"] == ["2.13"] and doc["read"] == ["2.13.0"]  # "2.13" is 2.13.0 (PEP 440)
    assert doc["missing"] == doc["absent"] == []  # --only: the other releases are not in scope
    assert doc["pypi_index"] == pypi and doc["pytorch_index"] == pytorch
    assert all(source["checked"] for source in doc["sources"]), doc["sources"]
    found = {(d["where"], d["field"]): d for d in doc["differences"]}
    python = found["release 2.13.0", "python.linux_x86_64"]  # the pages keep two wheels of 13
    assert python["change"] == "changed" and python["fresh"] == ["3.11", "3.14t"]
    assert python["source"] == f"{pypi}/torch/"
    # what the recorded 2.13.0 wheel says is what the packaged data says
    assert not [key for key in found if key[1].startswith(("pypi_linux_x86_64", "pypi_default"))]
    assert ("minor 2.13", "index_variants") in found  # the hand-written page lacks cu129
    assert found["arch list 2.13 cu126", "archs"]["fresh"][-1] == "compute_90"
    assert doc["bytes_read"] > 0 and doc["requests"] > 0
    assert err == ""  # --json: stdout is the document, no progress lines on stderr
    report = from_data(MatrixCheckReport, doc)
    assert report.differences[0].where == "release 2.13.0"


def apply(packaged: dict[str, Any], differences: list[dict[str, Any]]) -> dict[str, Any]:
    """``packaged`` with every fresh value of a run written in (what a maintainer would do)."""
    data = json.loads(json.dumps(packaged))
    releases = {r["version"]: r for r in data["releases"]}
    for diff in differences:
        kind, _, name = diff["where"].partition(" ")
        if diff["where"].startswith("arch list"):
            minor, variant = diff["where"].split()[2:]
            for row in data["arch_lists"]:
                if row["variant"] == variant and minor in row["torch"]:
                    archs = row["archs"]
                    row["torch"] = [m for m in row["torch"] if m != minor]
            archs = diff["fresh"] if diff["field"] == "archs" else archs
            data["arch_lists"].append(
                {"torch": [minor], "variant": variant, "archs": archs, "verified": True}
            )
            continue
        record = releases[name] if kind == "release" else data["minors"][name]
        *path, leaf = diff["field"].split(".")
        for part in path:
            record = record.setdefault(part, {})
        record[leaf] = diff["fresh"]
    return data


def test_the_fresh_values_written_in_leave_no_difference(
    index: IndexServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--pypi-index", add_pypi(index), "--pytorch-index", add_pytorch_index(index)]
    _, doc, _ = check(capsys, *args, "--only", "2.13.0")
    fixed = apply(matrix_check.packaged_data(), doc["differences"])
    monkeypatch.setattr(matrix_check, "packaged_data", lambda: json.loads(json.dumps(fixed)))
    code, out, _ = run(capsys, "--check", *args, "--only", "2.13.0")
    assert code == 0, out
    assert "no difference;" in out and "read in full: torch 2.13.0" in out


def test_default_selection(index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
    dead = closed_port_url() + "/whl"
    args = ["--pypi-index", add_pypi(index), "--pytorch-index", dead]
    code, doc, _ = check(capsys, *args)
    # the newest release of each of the last two minors both sides hold
    assert code == 1 and doc["read"] == ["1.13.1", "2.13.0"] and doc["only"] == []
    assert set(doc["absent"]) == packaged_versions() - ON_THE_INDEX and doc["missing"] == []
    absent = [d for d in doc["differences"] if d["change"] == "absent"]
    assert [d["packaged"] for d in absent] == doc["absent"] and absent[0]["fresh"] is None
    _, doc, _ = check(capsys, *args, "--minors", "1")
    assert doc["read"] == ["2.13.0"]
    index.served.clear()
    _, doc, _ = check(capsys, *args, "--minors", "0")
    assert doc["read"] == [] and index.wheel_bytes() == 0  # the torch page only
    assert {d["change"] for d in doc["differences"]} == {"absent"}
    unchecked = {s["id"]: s["why"] for s in doc["sources"] if not s["checked"]}
    assert unchecked["pypi-wheels"] == "no release was selected to be read in full"
    assert "pypi" not in unchecked


def test_a_release_the_data_lacks_is_missing_and_not_read(
    index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    pypi = add_pypi(index)
    page = json.loads((FIXTURES / "pypi-torch.json").read_text())
    new = dict(page["files"][0], filename="torch-2.99.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    new["url"] = index.url + "/never-read/" + new["filename"]
    page["files"].append(new)
    index.add("/simple/torch/", json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
    code, out, _ = run(capsys, "--check", "--pypi-index", pypi, "--minors", "0")
    assert code == 1
    assert f"  release 2.99.0: missing from the packaged data ({pypi}/torch/)" in out
    assert "(releases: 1 missing, " in out
    assert not [path for path, _ in index.requests if path.startswith("/never-read/")]


def test_an_unreadable_pytorch_index_is_not_checked(
    index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = closed_port_url() + "/whl"
    args = ("--check", "--pypi-index", add_pypi(index), "--pytorch-index", dead, "--only", "2.13.0")
    code, out, err = run(capsys, *args)
    assert code == 1  # the recorded pages keep fewer wheels than the data counts
    assert f"  not checked: pytorch-index: Cannot read {dead}/torch/:" in out
    assert "  not checked: pytorch-wheels: the PyTorch index was not read" in out
    assert "minor 2.13 index_variants" not in out and "arch list" not in out
    assert "release 2.13.0 python.linux_x86_64: packaged [" in out and "\x1b[" not in out
    assert "Traceback" not in err


def test_unreachable_pypi_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    dead = closed_port_url() + "/simple"
    code, out, err = run(capsys, "--check", "--pypi-index", dead)
    assert code == 4 and out == ""
    assert f"torchenv: error: Cannot read {dead}/torch/:" in err and "hint:" in err
    assert "Traceback" not in err


def test_an_index_that_is_no_torch_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--check", "--pypi-index", str(tmp_path))
    assert code == 4 and out == "" and "--pypi-index takes the root" in err
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<html><body></body></html>")
    code, out, err = run(capsys, "--check", "--pypi-index", str(tmp_path))
    assert code == 2 and out == "" and "lists no torch release from 1.13.0 on" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--check", "--only", "two"], "--only 'two' is not a final torch release."),
        (["--check", "--only", "2.13.0+cu130"], "is not a final torch release"),
        (["--check", "--only", "2.14.0rc1"], "is not a final torch release"),
        (["--check", "--only", ""], "is not a final torch release"),
        (["--check", "--only", "9.9.9"], "torch 9.9.9 is neither a release on"),
        (["--check", "--minors", "-1"], "-1 is not in the range"),
        (["--check", "--minors", "many"], "'many' is not a valid integer"),
        (["--check", "--minors", "1", "--only", "2.13.0"], "--minors chooses the releases"),
        (["--check", "--torch", "2.13"], "--torch filters the table; --check takes --only"),
        (["--only", "2.13.0"], "--only is an option of --check."),
        (["--minors", "2"], "--minors is an option of --check."),
        (["--pytorch-index", "x"], "--pytorch-index is an option of --check."),
        (["--check", "--pypi-index", "ftp://host/simple"], "only http://, https:// and file://"),
        (["--check", "--pytorch-index", "http://[::1"], "is not a valid index URL"),
        (["--check", "--pypi-index", ""], "--pypi-index is empty."),
    ],
)
def test_bad_input_exits_2(
    index: IndexServer, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    if "--check" in args and "--pypi-index" not in args:
        args = [*args, "--pypi-index", add_pypi(index)]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and "Traceback" not in err
    assert said in err


def test_credentials_of_an_index_are_sent_and_printed_nowhere(
    index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = ("S3CRET-matrix-pypi", "S3CRET-matrix-pytorch")
    pypi = add_pypi(index).replace("http://", f"http://alice:{secrets[0]}@", 1)
    pytorch = closed_port_url().replace("http://", f"http://bob:{secrets[1]}@", 1) + "/whl"
    for form in ([], ["--json"]):
        code, out, err = run(
            capsys,
            "--check",
            "--pypi-index",
            pypi,
            "--pytorch-index",
            pytorch,
            "--only",
            "2.13.0",
            *form,
        )
        assert code == 1, err
        assert not [s for s in secrets if s in out + err]
        assert "alice" not in out and "bob" not in out
    assert index.authorized, "no request carried the credentials"
    doc = json.loads(out)
    assert doc["pypi_index"] == index.url + "/simple"
    why = next(s["why"] for s in doc["sources"] if s["id"] == "pytorch-index")
    assert why.startswith("Cannot read http://127.0.0.1:")


def test_the_packaged_data_is_checked_not_a_db_update_copy(
    index: IndexServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = matrix_check.packaged_data()
    data.update(retrieved="2999-01-01", releases=[])  # a copy the store would prefer
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "torch.json").write_text(json.dumps(data))
    _, doc, _ = check(capsys, "--pypi-index", add_pypi(index), "--minors", "0")
    assert set(doc["absent"]) == packaged_versions() - ON_THE_INDEX
    assert not (tmp_path / "data" / "torch.json").read_text().count('"version"')  # untouched


def test_help_names_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--check" in out and "--only" in out and "--minors" in out


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    option=st.sampled_from(["--only", "--minors"]),
    value=st.one_of(hostile_text, st.sampled_from(PIECES), st.just("")),
)
def test_hostile_option_values(option: str, value: str) -> None:
    with sandbox() as box:
        # no index is read: every value fails before (a missing directory as the index)
        done = box.run("matrix", "--check", option, value, "--pypi-index", str(box.root / "no"))
        assert done.code == 2
