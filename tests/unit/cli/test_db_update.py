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
    assert err == ""  # --json: stdout is the document, no progress lines on stderr
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


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid IPv6 URL"),  # was a ValueError traceback (exit 70)
        ("http://☃.invalid/", "non-ASCII characters"),  # was a UnicodeEncodeError
        ("http://host:port/simple", "Port could not be cast"),
        ("ftp://example.org/simple", "only http://, https:// and file:// URLs"),
        ("https:///simple", "no host name"),
        ("file://server/share/simple", "a file: URL names a local path"),
        ("http://example.org/a b", "spaces or control characters"),
    ],
)
@pytest.mark.parametrize("option", ["--pypi-index", "--pytorch-index"])
def test_malformed_index_urls_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], option: str, url: str, problem: str
) -> None:
    code, out, err = run(capsys, option, url)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"torchenv: error: {option} {url!r} is not a valid index URL: {problem}" in err
    assert "hint: A valid index is an http(s):// URL" in err and "https://pypi.org/simple" in err
    assert not data_dir.exists()


@pytest.mark.parametrize("option", ["--pypi-index", "--pytorch-index"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_index_is_an_error(
    data_dir: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    # "" used to read the current directory as a PEP 503 tree
    code, out, err = run(capsys, option, value)
    assert code == 2 and out == "" and f"torchenv: error: {option} is empty." in err
    assert "https://pypi.org/simple" in err and not data_dir.exists()


def test_a_directory_without_torch_wheels_exits_2_and_writes_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "mirror" / "torch").mkdir(parents=True)
    (tmp_path / "mirror" / "torch" / "index.html").write_text("<html><body></body></html>")
    mirror = (tmp_path / "mirror").as_uri()
    code, out, err = run(capsys, "--pypi-index", str(tmp_path / "mirror"))
    assert code == 2 and out == "" and "Traceback" not in err
    said = f"error: The index {mirror} holds no torch release: {mirror}/torch/ lists no torch"
    assert said in err
    assert "nothing was written" in err and not data_dir.exists()


def test_a_directory_that_is_no_index_exits_4(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--pypi-index", str(tmp_path))
    assert code == 4 and out == ""
    assert f"error: Cannot read {tmp_path.as_uri()}/torch/: no such file" in err
    assert "--pypi-index takes the root of a PEP 503/691 simple index" in err
    assert not data_dir.exists()


def test_an_html_page_without_torch_exits_2(
    data_dir: Path, index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    index.add("/page/torch/", b"<html><body><p>Not an index</p></body></html>", "text/html")
    code, _, err = run(capsys, "--pypi-index", index.url + "/page")
    assert code == 2 and "holds no torch release" in err and not data_dir.exists()


def test_credentials_of_a_mirror_are_sent_and_kept_nowhere(
    data_dir: Path, index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    pypi, pytorch = add_pypi(index), add_pytorch_index(index)
    secret = "S3CRET-db-update"  # noqa: S105 - a test credential
    with_auth = pypi.replace("http://", f"http://alice:{secret}@", 1)
    code, out, err = run(capsys, "--pypi-index", with_auth, "--pytorch-index", pytorch, "--json")
    assert code == 0, err
    assert secret not in out + err  # neither in the report nor in the progress lines
    assert secret not in (data_dir / "torch.json").read_text()
    assert json.loads(out)["pypi_index"] == pypi  # the index, without its credentials
    # the server saw the credentials as HTTP basic authentication
    assert index.authorized, "no request carried the credentials"
