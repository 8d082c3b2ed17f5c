"""`db update`: release facts from recorded index pages and synthetic wheels, merging, the
incremental and --full runs, failures, the atomic write and what load_knowledge() sees after."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexserver import (
    FILLER,
    FIXTURES,
    IndexServer,
    add_pypi,
    add_pytorch_index,
    closed_port_url,
    pep503_tree,
    serve,
    torch_wheel,
)
from torchenv.commands.db_update import run_db_update
from torchenv.errors import ExitCode, UsageError
from torchenv.knowledge import merge
from torchenv.knowledge.indexes import parse_json_page
from torchenv.knowledge.releases import (
    glibc_of,
    index_facts,
    library_pins,
    parse_metadata,
    pick_wheel,
    resolved_pin,
    toolkit_pins,
    torch_pin,
    wheel_of,
)
from torchenv.knowledge.remote import Remote, RemoteError, RemoteFormatError
from torchenv.knowledge.store import SCHEMAS, load_knowledge, packaged_retrieved

RECORDED = FIXTURES / "wheels"
X86 = "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl"
OLD_X86 = "torch-1.13.1-cp311-cp311-manylinux1_x86_64.whl"
ARCHS_2_13 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


def recorded_files() -> list[Any]:
    return parse_json_page((FIXTURES / "pypi-torch.json").read_bytes(), "https://pypi.org/")


def metadata(name: str) -> Any:
    return parse_metadata((RECORDED / f"{name}.METADATA").read_text())


# --------------------------------------------------------------------------- pure facts
@pytest.mark.parametrize(
    ("tag", "glibc"),
    [
        ("manylinux1_x86_64", (2, 5)),
        ("manylinux2010_x86_64", (2, 12)),
        ("manylinux2014_aarch64", (2, 17)),
        ("manylinux_2_28_x86_64", (2, 28)),
        ("linux_x86_64", None),
        ("win_amd64", None),
    ],
)
def test_glibc_from_tags_follows_pep_600(tag: str, glibc: tuple[int, int] | None) -> None:
    assert glibc_of(tag) == glibc


def test_index_facts_of_recorded_releases() -> None:
    files = recorded_files()
    new = index_facts([f for f in files if "-2.13.0-" in f.filename])
    assert new["released"] == "2026-07-08" and new["yanked"] is False
    assert new["requires_python"] == ">=3.10" and new["glibc"] == "2.28"
    assert new["python"] == {
        "linux_x86_64": ["3.11", "3.14t"],
        "linux_aarch64": ["3.11"],
        "win_amd64": ["3.11"],
        "macos_arm64": ["3.11"],
    }
    old = index_facts([f for f in files if "-1.13.1-" in f.filename])
    assert old["glibc"] == "2.5"  # manylinux1, PEP 600
    assert list(old["python"]) == [
        "linux_x86_64",
        "linux_aarch64",
        "win_amd64",
        "macos_arm64",
        "macos_x86_64",
    ]
    only_new = [f for f in files if "-2.13.0-" in f.filename]
    picked = pick_wheel(only_new, "linux_x86_64")  # cp311 before the newer cp314t
    assert picked is not None and picked.file.filename == X86
    wheel = wheel_of(next(f for f in files if "cp314t" in f.filename))
    assert wheel is not None and wheel.pythons == {"3.14t"} and wheel.variant == "cpu"


def test_pins_from_recorded_metadata() -> None:
    assert library_pins(metadata(OLD_X86)) == {
        "cudnn": "8.5.0.96",
        "nccl": None,
        "cublas": "11.10.3.66",
        "cudart": "11.7.99",
    }
    pins = library_pins(metadata(X86))
    assert pins == {"cudnn": "9.20.0.48", "nccl": "2.29.7", "cublas": None, "cudart": None}
    toolkit = metadata("cuda_toolkit-13.0.3.0-py2.py3-none-any.whl")
    assert toolkit_pins(toolkit, {"cublas", "cudart"}) == {
        "cublas": "13.1.1.3",
        "cudart": "13.0.96",
    }
    assert toolkit_pins(toolkit, {"cudart"}) == {"cudart": "13.0.96"}
    vision = metadata("torchvision-0.28.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert torch_pin(vision) == "2.13.0"
    assert torch_pin(metadata("torchaudio-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl")) is None
    from packaging.requirements import Requirement

    # torch 2.12.0 bounds cublas instead of pinning it; a resolver installs the upper bound
    assert resolved_pin(Requirement("nvidia-cublas<=13.1.1.3,>=13.1.0.3")) == "13.1.1.3"
    assert resolved_pin(Requirement("nvidia-cublas>=13")) is None


def test_merge_keeps_what_it_does_not_regenerate() -> None:
    old = {"version": "2.0.0", "glibc": "2.17", "notes": ["n"], "extra": 1, "source": "S1,S4b"}
    same, changed = merge.merge_release(old, {"glibc": "2.17"}, ["S1", "S2"])
    assert same == old and changed == ()
    merged, changed = merge.merge_release(old, {"glibc": "2.28"}, ["S1", "S2"])
    assert changed == ("glibc",) and merged["notes"] == ["n"] and merged["extra"] == 1
    assert merged["source"] == "S1,S4b,S2" and list(merged)[-1] == "source"
    assert merge.add_sources("S4 (a note, S9)", ["S4", "S15"]) == "S4 (a note, S9),S15"


def test_a_partial_mirror_does_not_drop_platforms_it_lacks() -> None:
    old = {
        "version": "2.13.0",
        "python": {"linux_x86_64": ["3.11"], "win_amd64": ["3.11"]},
        "pypi_default": {"linux_x86_64": "cu130", "win_amd64": "cpu"},
        "source": "S1",
    }
    fresh = {
        "python": {"linux_x86_64": ["3.11", "3.12"]},
        "pypi_default": {"linux_x86_64": "cu130"},
    }
    merged, changed = merge.merge_release(old, fresh, ["S1"])
    assert changed == ("python",)
    assert merged["python"] == {"linux_x86_64": ["3.11", "3.12"], "win_amd64": ["3.11"]}
    assert merged["pypi_default"] == old["pypi_default"]


def test_arch_list_rows_split_when_one_minor_is_verified() -> None:
    rows = [
        {
            "torch": ["2.12", "2.13"],
            "variant": "cu126",
            "archs": ["sm_50"],
            "source": "S6",
            "verified": False,
        }
    ]
    assert merge.merge_arch_list(rows, "2.13", "cu126", ["sm_50", "sm_90"])
    assert rows[0]["torch"] == ["2.12"] and rows[1]["torch"] == ["2.13"]
    assert rows[1]["verified"] is True and rows[1]["source"] == merge.SOURCE_PYTORCH_INDEX
    assert not merge.merge_arch_list(rows, "2.13", "cu126", ["sm_50", "sm_90"])


# --------------------------------------------------------------------------- runs
def seed() -> dict[str, Any]:
    """Current data with one hand-edited 1.13.1 record: its note, extra field and the glibc
    read from the binaries (2.17, above manylinux1's 2.5) must survive an update."""
    return {
        "schema": SCHEMAS["torch.json"],
        "retrieved": packaged_retrieved("torch.json"),  # older would lose to the packaged file
        "pytorch_channel_last_version": "2.5.1",
        "releases": [
            {
                "version": "1.13.1",
                "released": "2022-12-15",
                "glibc": "2.17",
                "notes": ["keep me"],
                "torchvision": "0.14.1",
                "source": "S1,S2,S3,S14",
            }
        ],
        "minors": {
            "1.13": {
                "index_variants": ["cu117", "cpu"],
                "pypi_default_linux_x86_64": "cu117",
                "verified": False,
                "source": "S4",
            }
        },
        "arch_lists": [],
        "conda_forge": {"facts": ["untouched"]},
    }


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
    data["by_version"] = {r["version"]: r for r in data["releases"]}
    return data


def test_full_update_from_json_pages(data_dir: Path, index: IndexServer) -> None:
    result = update(index)
    assert result.added == ("2.13.0",) and result.failures == ()
    assert result.written and result.path == str(data_dir / "torch.json")
    data = written(data_dir)
    new = data["by_version"]["2.13.0"]
    assert new["pypi_linux_x86_64"] == {
        "variant": "cu130",
        "cuda": "13.0",
        "archs": ARCHS_2_13,
        "git_version": "cf30153c4c131c8164ee7798e5022d810682e2cb",
        "cudnn": "9.20.0.48",
        "nccl": "2.29.7",
        "cublas": "13.1.1.3",
        "cudart": "13.0.96",
    }
    assert new["pypi_default"] == {
        "linux_x86_64": "cu130",
        "linux_aarch64": "cu130",
        "win_amd64": "cpu",
        "macos_arm64": "cpu",
    }
    assert (new["released"], new["glibc"], new["torchvision"], new["torchaudio"]) == (
        "2026-07-08",
        "2.28",
        "0.28.0",
        None,
    )
    assert new["source"] == "S1,S2,S3,S13"
    old = data["by_version"]["1.13.1"]
    assert old["notes"] == ["keep me"] and old["glibc"] == "2.17" and "S14" in old["source"]
    assert old["pypi_default"]["linux_aarch64"] == "cpu"  # version.py '1.13.1', cuda None
    assert old["pypi_linux_x86_64"]["archs"][0] == "sm_37" and old["torchaudio"] == "0.13.1"
    assert data["minors"]["2.13"]["index_variants"] == [
        "cu126",
        "cu130",
        "cu132",
        "rocm7.1",
        "rocm7.2",
        "xpu",
        "cpu",
    ]
    assert data["minors"]["2.13"]["index_variants_by_platform"]["linux_aarch64"] == [
        "cu126",
        "cu130",
        "cu132",
        "cpu",
    ]
    assert data["minors"]["1.13"]["index_variants"][-1] == "cpu"  # cpu.cxx11.abi is cpu
    assert data["minors"]["1.13"]["verified"] is True
    assert data["minors"]["2.13"]["source"] == "S15,S3"
    assert data["conda_forge"] == {"facts": ["untouched"]}
    assert data["retrieved"] == datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert data["updated_from"]["pytorch"] == index.url + "/whl"
    # the x86 wheels: tail, directory, version.py, METADATA and the library up to the string
    for name in (X86, OLD_X86):
        assert index.bytes_for(name) < FILLER < len(torch_wheel(name)), name


def test_second_run_reads_no_wheel_and_full_reads_again(data_dir: Path, index: IndexServer) -> None:
    update(index)
    first = written(data_dir)
    index.served.clear()
    again = update(index)
    assert again.wheel_reads == 0 and index.wheel_bytes() == 0
    assert again.added == () and again.changed == () and not again.written
    assert written(data_dir) == first
    full = update(index, full=True)
    assert full.wheel_reads >= 6 and index.wheel_bytes() > 0 and full.changed == ()


def test_html_page_keeps_the_known_release_date(data_dir: Path, index: IndexServer) -> None:
    result = update(index, pypi_index=add_pypi(index, html_torch=True))
    data = written(data_dir)
    assert result.added == ("2.13.0",)
    assert data["by_version"]["2.13.0"]["released"] is None  # HTML has no upload time
    assert data["by_version"]["1.13.1"]["released"] == "2022-12-15"  # kept
    assert data["by_version"]["2.13.0"]["requires_python"] == ">=3.10"


def test_unreachable_pytorch_index_keeps_variants(data_dir: Path, index: IndexServer) -> None:
    dead = closed_port_url() + "/whl"
    result = update(index, pytorch_index=dead)
    assert [f.source for f in result.failures] == ["pytorch-index"]
    assert dead in result.failures[0].error and result.added == ("2.13.0",)
    data = written(data_dir)
    assert data["minors"]["1.13"]["index_variants"] == ["cu117", "cpu"]  # kept
    inferred = data["minors"]["2.13"]
    assert inferred["index_variants"] == ["cu130"] and inferred["verified"] is False
    assert "not read" in inferred["source"]
    assert data["updated_from"]["failed"] == ["pytorch-index"]


def test_unreachable_pypi_is_an_external_error(data_dir: Path, index: IndexServer) -> None:
    before = (data_dir / "torch.json").read_bytes()
    with pytest.raises(RemoteError) as caught:
        update(index, pypi_index=closed_port_url() + "/simple")
    assert caught.value.exit_code == ExitCode.EXTERNAL and "/simple/torch/" in caught.value.message
    assert (data_dir / "torch.json").read_bytes() == before


def test_a_mirror_without_torchaudio_or_cuda_toolkit(data_dir: Path, index: IndexServer) -> None:
    pypi = add_pypi(index)
    del index.routes["/simple/torchaudio/"], index.routes["/simple/cuda-toolkit/"]
    result = update(index, pypi_index=pypi)
    assert sorted(f.source for f in result.failures) == ["cuda-toolkit", "torchaudio"]
    new = written(data_dir)["by_version"]["2.13.0"]
    assert new["torchaudio"] is None and new["torchvision"] == "0.28.0"
    assert new["pypi_linux_x86_64"]["cublas"] is None  # behind the metapackage, not readable
    assert new["pypi_linux_x86_64"]["cudnn"] == "9.20.0.48" and new["source"] == "S1,S2,S3"


def test_a_failure_midway_leaves_the_old_file(data_dir: Path, index: IndexServer) -> None:
    pypi = add_pypi(index)
    broken = next(p for p in index.routes if p.endswith(X86))
    index.add(broken, b"PK" + b"\0" * 70_000)  # the 2.13.0 wheel is damaged
    before = (data_dir / "torch.json").read_bytes()
    with pytest.raises(RemoteFormatError, match="not a readable zip file"):
        update(index, pypi_index=pypi)
    assert (data_dir / "torch.json").read_bytes() == before
    assert sorted(p.name for p in data_dir.iterdir()) == ["torch.json"]  # no temp file left


def test_load_knowledge_sees_the_update(data_dir: Path, index: IndexServer) -> None:
    assert load_knowledge().pairing("2.13.0") is None  # not in the seed
    update(index)
    pairing = load_knowledge().pairing("2.13.0")  # run_db_update cleared the cache
    assert pairing is not None and pairing.torchvision == "0.28.0"
    assert load_knowledge().torch["_origin"] == str(data_dir / "torch.json")


def test_file_mirror(data_dir: Path, index: IndexServer, tmp_path: Path) -> None:
    mirror = pep503_tree(tmp_path / "mirror")
    result = run_db_update(
        pypi_index=mirror, pytorch_index=add_pytorch_index(index), remote=Remote(retries=0)
    )
    assert result.added == ("2.13.0",) and result.pypi_index == mirror
    new = written(data_dir)["by_version"]["2.13.0"]
    assert new["pypi_linux_x86_64"]["archs"] == ARCHS_2_13  # METADATA from the zip (no PEP 658)
    assert new["pypi_linux_x86_64"]["cublas"] == "13.1.1.3" and new["torchvision"] == "0.28.0"
    assert result.bytes_read < 3 * FILLER  # members only, from two large local wheels


def test_only_and_archs(data_dir: Path, index: IndexServer) -> None:
    result = update(index, versions=["2.13.0"], archs=True)
    data = written(data_dir)
    assert result.added == ("2.13.0",) and "pypi_linux_x86_64" not in data["by_version"]["1.13.1"]
    assert set(result.arch_lists_changed) == {"2.13 cu126", "2.13 cu130", "2.13 cu132"}
    rows = {r["variant"]: r for r in data["arch_lists"]}
    assert rows["cu126"]["archs"][-1] == "compute_90" and rows["cu126"]["verified"] is True
    assert rows["cu130"]["archs"] == ARCHS_2_13
    with pytest.raises(UsageError, match=r"9\.9\.9"):
        update(index, versions=["9.9.9"])
