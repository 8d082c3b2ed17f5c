"""`db update`'s inputs: the data it starts from is what the store loads (a copy the store
ignores is not merged into), and an index that holds no torch release writes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexserver import IndexServer, add_pypi, add_pytorch_index, serve
from torchenv.commands.db_update import run_db_update
from torchenv.errors import ExitCode, UsageError
from torchenv.knowledge.remote import Remote, RemoteError
from torchenv.knowledge.store import DATA, load_knowledge, packaged_retrieved
from torchenv.knowledge.update import current_data


def seed() -> dict[str, Any]:
    """A user copy the store uses: the packaged data of torch 1.13 only, dated as the packaged
    file (an older date would lose to it)."""
    data = json.loads((DATA / "torch.json").read_text("utf-8"))
    data["releases"] = [r for r in data["releases"] if r["version"].startswith("1.13.")]
    data["minors"] = {"1.13": data["minors"]["1.13"]}
    return dict(data)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "torch.json").write_text(json.dumps(seed()))
    load_knowledge.cache_clear()
    yield tmp_path / "data"
    load_knowledge.cache_clear()


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with serve() as server:
        yield server


def update(server: IndexServer, **kwargs: Any) -> Any:
    pypi = kwargs.pop("pypi_index", None) or add_pypi(server)
    pytorch = kwargs.pop("pytorch_index", None) or add_pytorch_index(server)
    return run_db_update(pypi_index=pypi, pytorch_index=pytorch, remote=Remote(retries=0), **kwargs)


def written(data_dir: Path) -> dict[str, Any]:
    data = json.loads((data_dir / "torch.json").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    "copy_text",
    [
        None,
        "{broken",
        '{"schema": "torchenv.knowledge.torch/1"}',
        # the store's shape checks: without arch_lists the store ignores the copy, so an update
        # must not merge into it either (the update had laxer checks of its own)
        json.dumps({k: v for k, v in seed().items() if k != "arch_lists"}),
        # older than the packaged data (a torchenv upgrade since the last update)
        json.dumps({**seed(), "retrieved": "2026-01-01"}),
    ],
)
def test_starts_from_the_packaged_data_without_a_usable_user_copy(
    data_dir: Path, index: IndexServer, copy_text: str | None
) -> None:
    if copy_text is None:
        (data_dir / "torch.json").unlink()
    else:
        (data_dir / "torch.json").write_text(copy_text)
    result = update(index, versions=["2.13.0"])
    assert result.started_from == "packaged" and result.written
    data = written(data_dir)
    packaged = copy.deepcopy(load_knowledge(packaged_only=True).torch)
    assert len(data["releases"]) == len(packaged["releases"])
    assert data["arch_lists"] == packaged["arch_lists"]


def test_the_update_starts_from_what_the_store_loads(data_dir: Path, index: IndexServer) -> None:
    current, origin = current_data()
    assert origin == str(data_dir / "torch.json") and "_origin" not in current
    assert current == seed()
    (data_dir / "torch.json").write_text(json.dumps({**seed(), "retrieved": "2026-01-01"}))
    assert load_knowledge().describe_origin().startswith("packaged")
    current, origin = current_data()
    assert origin == "packaged" and current["retrieved"] == packaged_retrieved("torch.json")
    messages: list[str] = []
    update(index, versions=["2.13.0"], progress=messages.append)
    assert any("is not used (older than the packaged data" in m for m in messages)
    assert load_knowledge().torch["_origin"] == str(data_dir / "torch.json")  # now used


# --------------------------------------------------------------------------- no torch at all
def empty_torch_page(server: IndexServer, body: bytes, kind: str = "text/html") -> str:
    server.add("/empty/torch/", body, kind)
    return server.url + "/empty"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html><body><h1>Welcome</h1></body></html>", "lists no torch files (0 other links)"),
        (
            b'<a href="numpy-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl">numpy</a>',
            "lists no torch files (1 other link)",
        ),
        (
            b'<a href="/f/torch-1.12.0-cp310-cp310-manylinux1_x86_64.whl"></a>'
            b'<a href="/f/torch-2.14.0rc1-cp311-cp311-manylinux_2_28_x86_64.whl"></a>',
            "lists 2 torch files but no final release from 1.13.0 on",
        ),
        (b'{"meta": {"api-version": "1.1"}, "files": []}', "lists no torch files"),
    ],
)
def test_an_index_without_torch_releases_writes_nothing(
    data_dir: Path, index: IndexServer, body: bytes, said: str
) -> None:
    before = (data_dir / "torch.json").read_bytes()
    pypi = empty_torch_page(index, body)
    with pytest.raises(UsageError) as caught:
        update(index, pypi_index=pypi)
    error = caught.value
    assert error.exit_code == ExitCode.USAGE and error.reference == "db-update-no-torch"
    assert f"The index {pypi} holds no torch release: {pypi}/torch/ {said}" in error.message
    assert "nothing was written" in error.message and "https://pypi.org/simple" in str(error.hint)
    assert (data_dir / "torch.json").read_bytes() == before


def test_an_index_without_a_torch_page_cannot_be_read(data_dir: Path, index: IndexServer) -> None:
    with pytest.raises(RemoteError) as caught:
        update(index, pypi_index=index.url + "/nothing")
    error = caught.value
    assert error.exit_code == ExitCode.EXTERNAL and "404" in error.message
    assert error.url == index.url + "/nothing/torch/" and "simple index" in str(error.hint)


def test_a_pytorch_index_without_torch_wheels_keeps_the_variants(
    data_dir: Path, index: IndexServer
) -> None:
    pytorch = empty_torch_page(index, b"<html><body></body></html>")
    result = update(index, pytorch_index=pytorch)
    assert [(f.source, f.url) for f in result.failures] == [("pytorch-index", pytorch)]
    assert "lists no torch wheel from 1.13.0 on" in result.failures[0].error
    data = written(data_dir)
    assert data["minors"]["1.13"] == seed()["minors"]["1.13"]  # kept, not emptied
    assert data["minors"]["2.13"]["verified"] is False


def test_a_clock_behind_the_packaged_data_is_reported(
    data_dir: Path, index: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the copy is dated today: dated before the packaged file, the store would not use it
    monkeypatch.setattr("torchenv.commands.db_update.packaged_retrieved", lambda _: "2999-01-01")
    messages: list[str] = []
    update(index, versions=["2.13.0"], progress=messages.append)
    assert any("the packaged data is dated 2999-01-01, after today" in m for m in messages)
