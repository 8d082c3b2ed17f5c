"""`db update`'s newer inputs and outputs: PYTORCH_RELEASES_CODE_CC read from the wheel (hostile
values ignored with a message), the ``read`` provenance of each record, flat listings of wheels
(pip --find-links pages and folders) as either index, and the rebuild from a skeleton."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexserver import (
    CODE_CC,
    FIXTURES,
    PEP658,
    IndexServer,
    add_pypi,
    add_pytorch_index,
    build_zip,
    closed_port_url,
    recorded,
    serve,
    small_wheel,
    torch_wheel,
)
from torchenv import cli
from torchenv.commands.db_update import run_db_update
from torchenv.errors import UsageError
from torchenv.knowledge import merge
from torchenv.knowledge.remote import Remote
from torchenv.knowledge.store import SCHEMAS, load_knowledge
from torchenv.knowledge.update import UpdateOptions, skeleton, update_torch_data

X86 = "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl"
PROJECTS = ("torch", "torchvision", "torchaudio", "cuda-toolkit")
FILE_LIST = "file list: released, yanked, requires_python, python, glibc"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No user copy: every run starts from the packaged data."""
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    load_knowledge.cache_clear()
    yield tmp_path / "data"
    load_knowledge.cache_clear()


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with serve() as server:
        yield server


def scratch(pypi: str, pytorch: str, **options: Any) -> tuple[dict[str, Any], list[str]]:
    """update_torch_data from a skeleton: (the records by version, the progress lines)."""
    said: list[str] = []
    outcome = update_torch_data(
        Remote(retries=0), skeleton(), UpdateOptions(pypi, pytorch, **options), said.append
    )
    return {r["version"]: r for r in outcome.data["releases"]}, said


def roles(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {row["what"].split(":")[0]: row for row in record["read"]}


# --------------------------------------------------------------------------- code table, read
def test_code_table_and_read_rows_of_a_full_run(index: IndexServer) -> None:
    pypi = add_pypi(index)
    records, _ = scratch(pypi, add_pytorch_index(index), full=True)
    new, old = records["2.13.0"], records["1.13.1"]
    assert new["cuda_code_cc"] == CODE_CC["2.13.0"]
    assert "cuda_code_cc" not in old  # torch before 2.11 has no table: nothing is recorded
    rows = roles(new)
    assert list(rows) == [
        "file list",
        "linux_x86_64 wheel",
        "cuda-toolkit wheel",
        "linux_aarch64 wheel",
        "win_amd64 wheel",
        "torchvision wheel",
    ]
    assert rows["file list"] == {"url": pypi + "/torch/", "what": FILE_LIST}
    x86 = rows["linux_x86_64 wheel"]
    assert x86["url"].startswith(index.url + "/") and x86["url"].endswith("/" + X86)
    assert x86["what"] == (
        "linux_x86_64 wheel: torch/version.py, CUDA_ARCH_FLAGS in torch/lib/libtorch_python.so, "
        "METADATA (its PEP 658 .metadata file), PYTORCH_RELEASES_CODE_CC in torch/cuda/__init__.py"
    )
    assert rows["cuda-toolkit wheel"]["what"].endswith(
        "METADATA (its PEP 658 .metadata file) of 13.0.3"  # torch's pin, ==13.0.3
    )
    assert rows["linux_aarch64 wheel"]["what"] == "linux_aarch64 wheel: torch/version.py"
    assert "0.28.0 (its torch requirement)" in rows["torchvision wheel"]["what"]
    assert "PYTORCH_RELEASES_CODE_CC" not in roles(old)["linux_x86_64 wheel"]["what"]
    assert roles(old)["linux_x86_64 wheel"]["what"].endswith(", METADATA")  # from the zip
    assert list(new)[-2:] == ["read", "source"]


def test_read_rows_survive_runs_that_read_less(data_dir: Path, index: IndexServer) -> None:
    pypi, pytorch = add_pypi(index), add_pytorch_index(index)
    run_db_update(pypi_index=pypi, pytorch_index=pytorch, full=True, remote=Remote(retries=0))
    first = json.loads((data_dir / "torch.json").read_text())
    again = run_db_update(pypi_index=pypi, pytorch_index=pytorch, remote=Remote(retries=0))
    assert not again.written and again.changed == ()  # the same rows: nothing to write
    # the same files behind another index URL: the file list row moves, no fact changes
    mirror = add_pypi(index, prefix="/mirror")
    moved = run_db_update(pypi_index=mirror, pytorch_index=pytorch, remote=Remote(retries=0))
    assert moved.written and moved.changed == () and moved.wheel_reads == 0
    data = json.loads((data_dir / "torch.json").read_text())
    before = {r["version"]: r for r in first["releases"]}["2.13.0"]
    after = {r["version"]: r for r in data["releases"]}["2.13.0"]
    assert roles(after)["file list"]["url"] == mirror + "/torch/"
    assert roles(after)["linux_x86_64 wheel"] == roles(before)["linux_x86_64 wheel"]  # kept
    assert after["source"] == before["source"] and after["cuda_code_cc"] == CODE_CC["2.13.0"]


def test_read_rows_carry_no_credentials(index: IndexServer) -> None:
    add_pypi(index)
    secret = index.url.replace("http://", "http://reader:s3cret@") + "/simple"
    records, _ = scratch(secret, add_pytorch_index(index), versions=frozenset({"2.13.0"}))
    rows = records["2.13.0"]["read"]
    assert rows[0]["url"] == index.url + "/simple/torch/"
    assert "s3cret" not in json.dumps(rows) and "reader" not in json.dumps(rows)


def test_merge_read_replaces_rows_by_role() -> None:
    old = [
        {"url": "u1", "what": "win_amd64 wheel: torch/version.py"},
        {"url": "u0", "what": "file list: a"},
        {"url": "x", "what": "a role of a later torchenv: kept, last"},
        "not a row",
    ]
    merged = merge.merge_read(old, [{"url": "u2", "what": "file list: b"}])
    assert [r["url"] for r in merged] == ["u2", "u1", "x"]
    assert merge.merge_read({"not": "a list"}, [{"url": "u", "what": "file list: c"}]) == [
        {"url": "u", "what": "file list: c"}
    ]


# --------------------------------------------------------------------------- hostile tables
def torch_folder(root: Path, cuda_init: bytes | None) -> str:
    """A folder holding one torch 2.13.0 Linux x86_64 wheel built here: the recorded
    version.py, a METADATA without pins and the given torch/cuda/__init__.py."""
    root.mkdir()
    metadata = b"Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0\nRequires-Python: >=3.10\n"
    members = [
        ("torch/__init__.py", b""),
        ("torch/version.py", recorded(X86, ".version.py") or b""),
        ("torch-2.13.0.dist-info/METADATA", metadata),
    ]
    if cuda_init is not None:
        members.append(("torch/cuda/__init__.py", cuda_init))
    (root / X86).write_bytes(build_zip(members))
    return root.as_uri()


# a nested literal of 10**6 elements, 5 MB of source that deflates to a few kB
HUGE = "{'12.6': {'x86_64': [" + ",".join(["[75]"] * 10**6) + "]}}"


def source_of(value: str) -> str:
    return f"import os\n\nPYTORCH_RELEASES_CODE_CC: dict = {value}\n"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("build_table()", "the value is not a literal (it holds a call or a name)"),
        ("'12.6: 50 60 70'", "the value is a str, not a dict of CUDA versions"),
        (HUGE, f"the file has {len(source_of(HUGE))} bytes, over the cap"),
        ("{'12.6': {50, 60,", "the file does not parse (SyntaxError"),
    ],
)
def test_a_hostile_table_is_ignored_with_a_message(tmp_path: Path, value: str, reason: str) -> None:
    folder = torch_folder(tmp_path / "wheels", source_of(value).encode())
    remote = Remote(retries=0)
    said: list[str] = []
    options = UpdateOptions(folder, closed_port_url(), full=True)
    outcome = update_torch_data(remote, skeleton(), options, said.append)
    record = outcome.data["releases"][0]
    assert record["version"] == "2.13.0" and "cuda_code_cc" not in record
    assert record["pypi_linux_x86_64"]["cuda"] == "13.0"  # the rest of the release is recorded
    ignored = "torch 2.13.0: PYTORCH_RELEASES_CODE_CC in torch/cuda/__init__.py ignored: "
    assert ignored + reason in "\n".join(said)
    assert "PYTORCH_RELEASES_CODE_CC" not in roles(record)["linux_x86_64 wheel"]["what"]
    assert remote.stats.bytes < 200_000  # the 5 MB member was never inflated


def test_a_wheel_without_the_table_records_none(tmp_path: Path) -> None:
    records, said = scratch(torch_folder(tmp_path / "w", None), closed_port_url())
    assert "cuda_code_cc" not in records["2.13.0"] and not any("ignored" in s for s in said)
    cuda_init = recorded(X86, ".cuda_init.py")
    records, _ = scratch(torch_folder(tmp_path / "w2", cuda_init), closed_port_url())
    assert records["2.13.0"]["cuda_code_cc"] == CODE_CC["2.13.0"]


# --------------------------------------------------------------------------- flat listings
def wheel_folder(root: Path) -> Path:
    """Every recorded PyPI file of the four projects in one folder, as `pip download` leaves
    them, with the PEP 658 files pypi.org serves written next to their wheels."""
    root.mkdir()
    for project in PROJECTS:
        for row in json.loads((FIXTURES / f"pypi-{project}.json").read_text())["files"]:
            name = row["filename"]
            body = torch_wheel(name) if project == "torch" else small_wheel(name)
            (root / name).write_bytes(body)
            metadata = recorded(name, ".METADATA")
            if name in PEP658 and metadata is not None:
                (root / f"{name}.metadata").write_bytes(metadata)
    (root / "notes").mkdir()  # a subfolder is no file of the listing
    return root


def test_a_folder_of_wheels_as_the_pypi_index(
    data_dir: Path, index: IndexServer, tmp_path: Path
) -> None:
    folder = wheel_folder(tmp_path / "wheelhouse")
    result = run_db_update(
        pypi_index=str(folder),
        pytorch_index=add_pytorch_index(index),
        full=True,
        remote=Remote(retries=0),
    )
    assert result.failures == () and result.pypi_index == folder.as_uri()
    new = {r["version"]: r for r in json.loads((data_dir / "torch.json").read_text())["releases"]}
    record = new["2.13.0"]
    assert record["torchvision"] == "0.28.0" and record["pypi_linux_x86_64"]["cublas"] == "13.1.1.3"
    assert record["cuda_code_cc"] == CODE_CC["2.13.0"]
    assert record["read"][0] == {"url": folder.as_uri() + "/", "what": FILE_LIST}
    assert "PEP 658" in roles(record)["linux_x86_64 wheel"]["what"]  # the .metadata beside it


def flat_page(server: IndexServer, path: str, links: list[str]) -> None:
    rows = [f'<a href="{h}">{urllib.parse.unquote(h)}</a><br>' for h in links]
    server.add(
        path, ("<html><body>\n" + "\n".join(rows) + "\n</body></html>").encode(), "text/html"
    )


def torch_stable(server: IndexServer) -> str:
    """The variants of pytorch-torch.html in the flat format of torch_stable.html: links
    relative to /whl/ whose text starts with the variant's folder; a torchvision wheel too."""
    add_pytorch_index(server)  # the variant wheels at /whl/<variant>/...
    del server.routes["/whl/torch/"]
    page = (FIXTURES / "pytorch-torch.html").read_text()
    hrefs = [line.split('"')[1].split("#")[0] for line in page.splitlines() if "<a href" in line]
    links = [h.removeprefix("/whl/") for h in hrefs]
    links.append("cu130/torchvision-0.28.0%2Bcu130-cp311-cp311-manylinux_2_28_x86_64.whl")
    flat_page(server, "/whl/torch_stable.html", links)
    return server.url + "/whl/torch_stable.html"


def test_find_links_pages_as_both_indexes(index: IndexServer) -> None:
    simple, _ = scratch(add_pypi(index), add_pytorch_index(index), archs=True)
    # the recorded PyPI files listed on one page at /flat/ (no /flat/torch/ page)
    links = []
    for project in PROJECTS:
        rows = json.loads((FIXTURES / f"pypi-{project}.json").read_text())["files"]
        links += [urllib.parse.urlsplit(r["url"].replace("https://", "http://")).path for r in rows]
    flat_page(index, "/flat/", [f"{index.url}{link}" for link in links])
    index.requests.clear()
    flat, said = scratch(index.url + "/flat", torch_stable(index), archs=True)
    assert flat.keys() == simple.keys()
    for version, record in flat.items():
        expected = {k: v for k, v in simple[version].items() if k not in ("released", "read")}
        assert {k: v for k, v in record.items() if k not in ("released", "read")} == expected
        assert record["released"] is None  # HTML carries no upload time
    assert flat["2.13.0"]["read"][0]["url"] == index.url + "/flat/"
    pages = [path for path, _ in index.requests if not path.endswith((".whl", ".metadata"))]
    # each listing read once; a missing project page is not asked for again
    assert pages == [
        "/flat/torch/",
        "/flat/",
        "/whl/torch_stable.html/torch/",
        "/whl/torch_stable.html",
    ]
    assert not any("failed" in s or "Cannot read" in s for s in said)


def test_the_variants_of_a_flat_pytorch_index(index: IndexServer) -> None:
    pypi = add_pypi(index)
    runs = {}
    for name, make in (("simple", add_pytorch_index), ("flat", torch_stable)):
        pytorch = make(index)  # torch_stable removes the simple page
        outcome = update_torch_data(
            Remote(retries=0), skeleton(), UpdateOptions(pypi, pytorch, archs=True), lambda _: None
        )
        assert outcome.failures == (), name
        runs[name] = outcome
    simple, flat = runs["simple"], runs["flat"]
    assert flat.data["minors"] == simple.data["minors"]
    assert flat.data["arch_lists"] == simple.data["arch_lists"]
    assert set(flat.arch_lists_changed) >= {"2.13 cu126", "2.13 cu130", "2.13 cu132"}
    minors = flat.data["minors"]
    assert minors["2.13"]["index_variants"][:3] == ["cu126", "cu130", "cu132"]
    assert minors["2.13"]["verified"] is True and minors["1.13"]["index_variants"][-1] == "cpu"


def test_a_flat_listing_without_torch_or_a_project(index: IndexServer, tmp_path: Path) -> None:
    flat_page(index, "/numpy/", ["/f/numpy-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl"])
    with pytest.raises(UsageError) as caught:
        scratch(index.url + "/numpy", closed_port_url())
    assert (
        f"holds no torch release: {index.url}/numpy/ lists no torch files (1 other link)"
        in caught.value.message
    )
    only_torch = torch_folder(tmp_path / "torch-only", None)
    outcome = update_torch_data(
        Remote(retries=0), skeleton(), UpdateOptions(only_torch, only_torch), lambda _: None
    )
    failed = {f.source: f.error for f in outcome.failures}
    assert "is a flat listing without torchvision files" in failed["torchvision"]
    assert "pytorch-index" not in failed  # the folder lists a torch wheel: variant cpu
    assert outcome.data["minors"]["2.13"]["index_variants"] == ["cpu"]


def test_a_simple_index_root_is_never_read(index: IndexServer) -> None:
    pypi = add_pypi(index)
    del index.routes["/simple/torchaudio/"]
    index.add("/simple/", b"<a href='/f/torch-2.0.0-cp311-cp311-linux_x86_64.whl'>x</a>")
    records, _ = scratch(pypi, add_pytorch_index(index), versions=frozenset({"2.13.0"}))
    assert ("/simple/", None) not in index.requests and records["2.13.0"]["torchaudio"] is None


def test_a_local_folder_page_lists_regular_files(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "a b#1.whl").write_bytes(b"x")
    (folder / "sub").mkdir()
    (folder / "link.whl").symlink_to(folder / "a b#1.whl")
    # left out, without refusing the folder: a link loop, a FIFO, a name that is not UTF-8
    (folder / "loop1").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop1")
    os.mkfifo(folder / "fifo.whl")
    (folder / os.fsdecode(b"bad\xff.whl")).write_bytes(b"x")
    page = Remote().get(folder.as_uri())
    assert page.url == folder.as_uri() + "/"
    assert page.body.count(b"<a ") == 2
    assert b'href="a%20b%231.whl">a b#1.whl<' in page.body and b"link.whl" in page.body


@pytest.mark.parametrize("name", ["links.html", "torch_stable.lst"])
def test_a_find_links_page_saved_as_a_file(
    data_dir: Path, index: IndexServer, tmp_path: Path, name: str
) -> None:
    folder = wheel_folder(tmp_path / "links")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".whl"))
    page = folder / name  # a saved page is read as a page, whatever its name
    page.write_text("".join(f'<a href="{urllib.parse.quote(n)}">{n}</a>\n' for n in names))
    result = run_db_update(
        pypi_index=str(page),
        pytorch_index=add_pytorch_index(index),
        versions=["2.13.0"],
        remote=Remote(retries=0),
    )
    assert result.added == () and result.failures == () and result.pypi_index == page.as_uri()


# --------------------------------------------------------------------------- from scratch
def test_from_scratch_writes_to_output_only(
    data_dir: Path, index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pypi, pytorch = add_pypi(index), add_pytorch_index(index)
    with pytest.raises(UsageError, match="--from-scratch rebuilds only"):
        run_db_update(pypi_index=pypi, pytorch_index=pytorch, from_scratch=True)
    out = tmp_path / "out" / "torch.json"
    args = ["db", "update", "--pypi-index", pypi, "--pytorch-index", pytorch, "--only", "2.13.0"]
    assert cli.main([*args, "--from-scratch"]) == 2
    err = capsys.readouterr().err
    assert "writes to --output FILE" in err and "Traceback" not in err
    code = cli.main([*args, "--from-scratch", "--output", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["path"] == str(out) and doc["started_from"] == "nothing" and doc["written"]
    assert doc["added"] == ["2.13.0"] and not data_dir.exists()  # the user copy is untouched
    data = json.loads(out.read_text())
    assert data["schema"] == SCHEMAS["torch.json"] and data["arch_lists"] == []
    assert [r["version"] for r in data["releases"]] == ["2.13.0"]
    assert data["minors"]["2.13"]["verified"] is True
    assert data["releases"][0]["cuda_code_cc"] == CODE_CC["2.13.0"]


def test_a_platform_whose_variants_equal_linuxs_is_kept() -> None:
    # the store reads a platform missing from index_variants_by_platform as one without builds
    from torchenv.knowledge import merge

    same = {"cu130", "cpu"}
    record = merge.minor_record(None, {"linux_x86_64": same, "linux_aarch64": same}, "cu130")
    assert record["index_variants_by_platform"] == {"linux_aarch64": ["cu130", "cpu"]}
