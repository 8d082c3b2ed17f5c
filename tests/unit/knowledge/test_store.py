"""The packaged knowledge base: sourced records, and queries checked against NVIDIA's tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from torchenv.knowledge import load_knowledge
from torchenv.knowledge.store import (
    DATA,
    load_data,
    load_gpus,
    load_sources,
    packaged_retrieved,
    source_ids,
    take_unusable_user_data,
    user_data_dir,
)
from torchenv.models.archs import parse_arch
from torchenv.models.compat import driver_at_least, driver_key

KB = load_knowledge()


def test_every_record_cites_a_known_source() -> None:
    sources = load_sources()
    cited = [r["source"] for r in KB.drivers["toolkit_drivers"]]
    cited += [r["source"] for r in KB.drivers["minor_version_compatibility"]]
    cited += [r["source"] for r in KB.torch["releases"]]
    cited += [r["source"] for r in KB.torch["arch_lists"]]
    cited += [g["source"] for g in load_gpus()]
    for text in cited:
        for source in text.replace(" ", "").split(","):
            assert source.split("(")[0] in sources, text


@pytest.mark.parametrize(
    ("cuda", "hard", "release"),
    [
        ("13.0", "580.65.06", "580.65.06"),
        ("13.2", "580.65.06", "595.45.04"),
        ("12.8", "525.60.13", "570.26"),
        ("12.6", "525.60.13", "560.28.03"),
        ("11.8", "450.80.02", "520.61.05"),
    ],
)
def test_driver_requirements(cuda: str, hard: str, release: str) -> None:
    req = KB.driver_requirement(cuda)
    assert req is not None and (req.hard_floor, req.release_floor) == (hard, release)


def test_windows_and_unknown() -> None:
    req = KB.driver_requirement("12.8", os="windows")
    assert req is not None and (req.hard_floor, req.release_floor) == ("527.41", "570.65")
    assert KB.driver_requirement("10.2") is None
    assert KB.driver_requirement("cpu") is None


@pytest.mark.parametrize("release", KB.releases(), ids=lambda r: r["version"])
def test_release_records_are_consistent(release: dict[str, object]) -> None:
    pypi = release["pypi_linux_x86_64"]
    assert isinstance(pypi, dict)
    if pypi["variant"]:
        assert str(pypi["variant"]).startswith("cu")
        assert pypi["variant"] in KB.index_variants(str(release["version"])) or release[
            "version"
        ] in ("2.15.0",)
    for arch in pypi["archs"]:
        assert parse_arch(arch) is not None


def test_pairings_from_the_blog_claims() -> None:
    # torchvision 0.17.0 is NOT for torch 2.6.0 (compat-matrix section 8); 0.21.0 is.
    pairing = KB.pairing("2.6.0+cu124")
    assert pairing is not None and pairing.torchvision == "0.21.0" and pairing.torchaudio == "2.6.0"
    assert (
        KB.pairing("2.0.0") is not None and KB.pairing("2.0.0").torchvision == "0.15.1"
    )  # 0.15.0 yanked
    assert KB.pairing("9.9.9") is None
    assert KB.last_pytorch_channel_version() == "2.5.1"


def test_variants_and_archs() -> None:
    assert KB.index_variants("2.13.0") == (
        "cu126",
        "cu129",
        "cu130",
        "cu132",
        "rocm7.1",
        "rocm7.2",
        "xpu",
        "cpu",
    )
    archs = KB.variant_archs("2.14.1", "cu126")
    assert archs is not None and "sm_60" in archs.archs
    assert KB.variant_archs("2.14.1", "cu999") is None


def test_driver_versions_order_numerically() -> None:
    assert driver_key("580.65.06") > driver_key("580.9")
    assert driver_at_least("595.45.04", "580.65.06")
    assert not driver_at_least("570.124.06", "580.65.06")


# --- typed queries of PlanKnowledge ---------------------------------------------------------


def test_torch_releases_are_typed_oldest_first_and_built_once() -> None:
    releases = KB.torch_releases()
    assert releases is KB.torch_releases()  # cached on the instance
    assert [r.version for r in releases][:2] == ["1.13.0", "1.13.1"]
    assert releases[-1].version == "2.15.0"
    r213 = next(r for r in releases if r.version == "2.13.0")
    assert r213.released == "2026-07-08" and r213.requires_python == ">=3.10"
    assert r213.glibc == "2.28" and not r213.yanked
    assert r213.python["linux_x86_64"][-1] == "3.14t"
    assert r213.pypi_default == {
        "linux_x86_64": "cu130",
        "linux_aarch64": "cu130",
        "win_amd64": "cpu",
        "macos_arm64": "cpu",
    }
    build = r213.default_build
    assert build is not None
    assert (build.variant, build.cuda, build.cudnn, build.nccl) == (
        "cu130",
        "13.0",
        "9.20.0.48",
        "2.29.7",
    )
    assert (build.cublas, build.cudart) == ("13.1.1.3", "13.0.96")
    assert build.archs == ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")


def test_release_facts_a_user_must_know() -> None:
    releases = {r.version: r for r in KB.torch_releases()}
    assert releases["2.0.0"].torchvision == "0.15.1"
    assert any("0.15.0 is yanked" in n for n in releases["2.0.0"].notes)
    assert releases["1.13.0"].glibc == "2.17" and "macos_x86_64" in releases["1.13.0"].pypi_default
    assert "macos_x86_64" not in releases["2.3.0"].pypi_default  # no Intel-mac wheels after 2.2
    assert releases["2.10.0"].pypi_default["linux_aarch64"] == "cpu"
    assert releases["2.15.0"].pypi_default["linux_aarch64"] == "cu132"
    assert releases["2.11.0"].torchaudio == "2.11.0"
    for version in ("2.12.0", "2.13.0", "2.14.1", "2.15.0"):
        # torchaudio 2.11.1: py3-none wheels, Requires-Dist torch>=2.11 (its METADATA, S2)
        assert releases[version].torchaudio == "2.11.1"
    assert any("inferred" in n for n in releases["2.15.0"].notes)
    build = releases["2.12.1"].default_build
    assert build is not None and build.cublas == "13.1.1.3"  # upper pin of the range
    assert any("range" in n for n in releases["2.12.1"].notes)


def test_platform_variants() -> None:
    assert KB.platform_variants("2.13.0", "linux_x86_64") == KB.index_variants("2.13.0")
    assert KB.platform_variants("2.7.1", "linux_aarch64") == ("cu128", "cpu")
    assert KB.platform_variants("2.8.0", "linux_aarch64") == ("cu129", "cpu")
    assert KB.platform_variants("2.10.0", "linux_aarch64") == ("cu126", "cu128", "cu130", "cpu")
    assert KB.platform_variants("2.12.0", "linux_aarch64") == ("cu126", "cu130", "cu132", "cpu")
    assert KB.platform_variants("2.13.0", "win_amd64") == (
        *("cu126", "cu129", "cu130", "cu132"),
        *("xpu", "cpu"),
    )
    assert KB.platform_variants("2.13.0", "macos_arm64") == ()
    assert KB.platform_variants("9.9.0", "linux_x86_64") == ()
    assert KB.index_provenance("2.13.0", "linux_aarch64") == (True, "S4; cu129 from S3c,S16")
    assert KB.index_provenance("2.13.0", "win_amd64")[0] is False


def test_aarch64_arch_lists() -> None:
    sbsa = ("sm_80", "sm_90", "sm_100", "sm_110", "sm_120")
    for version, variant in (("2.11.0", "cu130"), ("2.14.1", "cu130"), ("2.15.0", "cu132")):
        row = KB.variant_archs(version, variant, "linux_aarch64")
        assert row is not None and row.archs == sbsa and row.verified
    cu126 = KB.variant_archs("2.13.0", "cu126", "linux_aarch64")
    assert cu126 is not None and cu126.archs == ("sm_80", "sm_90") and not cu126.verified
    cu129 = KB.variant_archs("2.8.0", "cu129", "linux_aarch64")
    assert cu129 is not None and "sm_70" not in cu129.archs and "sm_80" in cu129.archs


def test_conda_forge() -> None:
    builds = KB.conda_forge_builds()
    assert builds is KB.conda_forge_builds()
    b213 = [b for b in builds if b.torch == "2.13.0"]
    assert {(b.platform, b.cuda) for b in b213} == {
        ("linux_x86_64", ("12.9", "13.0")),
        ("linux_aarch64", ("12.9", "13.0")),
        ("win_amd64", ("12.8", "13.0")),
    }
    assert not any(b.torch.startswith("2.2.") for b in builds)  # never on the feedstock
    archs = KB.conda_forge_archs("12.9", "linux_x86_64")
    assert archs is not None and archs.archs[0] == "sm_50" and archs.archs[-1] == "compute_120"
    sbsa = KB.conda_forge_archs("cu130", "linux_aarch64")
    assert sbsa is not None and sbsa.variant == "cu130" and "sm_87" in sbsa.archs
    assert KB.conda_forge_archs("11.8", "linux_x86_64") is None


def test_gpu_models_are_typed() -> None:
    models = KB.gpu_models()
    assert models is KB.gpu_models()
    h100 = next(m for m in models if m.name.startswith("H100"))
    assert (h100.cc, h100.arch, h100.source) == ("9.0", "Hopper", "S12") and h100.match


def test_source_ids() -> None:
    assert source_ids("S1,S2,S3") == ["S1", "S2", "S3"]
    assert source_ids("S4 (unverified: snapshot (2026-08-21); copy (S7b). T)") == ["S4", "S7b", "T"]
    assert source_ids("S3,S6,S7b,T") == ["S3", "S6", "S7b", "T"]


# --- where the data comes from ------------------------------------------------------------


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path))
    load_knowledge.cache_clear()
    take_unusable_user_data()
    yield tmp_path
    load_knowledge.cache_clear()
    take_unusable_user_data()


def packaged(name: str) -> dict[str, Any]:
    data = json.loads((DATA / name).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_packaged_origin() -> None:
    assert KB.describe_origin() == "packaged data retrieved 2026-11-23"
    assert load_knowledge(packaged_only=True).describe_origin() == KB.describe_origin()


def test_updated_copy_is_preferred_and_described(user_dir: Path) -> None:
    torch = packaged("torch.json")
    torch["retrieved"] = "2026-12-01"
    torch["releases"] = torch["releases"][:3]
    (user_dir / "torch.json").write_text(json.dumps(torch), "utf-8")
    kb = load_knowledge()
    assert [r.version for r in kb.torch_releases()] == ["1.13.0", "1.13.1", "2.0.0"]
    assert kb.describe_origin() == (
        f"updated data in {user_dir}, retrieved 2026-12-01 (packaged data for the rest)"
    )
    assert load_knowledge(packaged_only=True).describe_origin().startswith("packaged")


def test_updated_copy_without_the_new_fields_still_loads(user_dir: Path) -> None:
    torch = packaged("torch.json")
    for row in torch["releases"]:
        for key in ("released", "yanked", "glibc", "pypi_default", "notes"):
            row.pop(key, None)
    (user_dir / "torch.json").write_text(json.dumps(torch), "utf-8")
    release = load_knowledge().torch_releases()[-1]
    assert release.released is None and release.pypi_default == {"linux_x86_64": "cu132"}


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("torch.json", lambda d: d.update(releases={"2.13.0": {}})),
        ("torch.json", lambda d: d["releases"].append({"version": 213})),
        ("torch.json", lambda d: d["releases"].append("2.16.0")),
        ("torch.json", lambda d: d.pop("minors")),
        ("cuda_drivers.json", lambda d: d.update(toolkit_drivers=[{"cuda": 13.0}])),
        ("gpus.json", lambda d: d.update(gpus=[{"name": "H100"}])),
    ],
)
def test_broken_records_fall_back_to_the_packaged_file(
    user_dir: Path, name: str, damage: Callable[[dict[str, Any]], None]
) -> None:
    data = packaged(name)
    data["retrieved"] = "2026-12-01"
    damage(data)
    (user_dir / name).write_text(json.dumps(data), "utf-8")
    kb = load_knowledge()
    assert kb.describe_origin() == "packaged data retrieved 2026-11-23"
    assert kb.torch_releases()[-1].version == "2.15.0"
    assert kb.driver_requirement("13.0") is not None and kb.gpu_models()
    assert take_unusable_user_data() == [
        (str(user_dir / name), "its records do not have the expected fields")
    ]


def test_unreadable_or_foreign_copies_fall_back(user_dir: Path) -> None:
    (user_dir / "torch.json").write_text("{not json", "utf-8")
    (user_dir / "gpus.json").write_text(json.dumps({"schema": "other/1", "gpus": []}), "utf-8")
    kb = load_knowledge()
    assert kb.describe_origin().startswith("packaged") and len(kb.gpu_models()) > 30
    assert dict(take_unusable_user_data()) == {
        str(user_dir / "torch.json"): "it is not valid JSON",
        str(user_dir / "gpus.json"): ("its schema is 'other/1', not 'torchenv.knowledge.gpus/1'"),
    }
    # once per process: the next load of the same files says nothing more
    load_knowledge.cache_clear()
    load_knowledge()
    assert take_unusable_user_data() == []


def test_missing_or_older_copies_are_not_worth_a_warning(user_dir: Path) -> None:
    older = packaged("gpus.json")
    older["retrieved"] = "2020-01-01"  # packaged data newer: torchenv was upgraded since
    (user_dir / "gpus.json").write_text(json.dumps(older), "utf-8")
    load_knowledge()
    assert take_unusable_user_data() == []


def test_a_copy_that_cannot_be_read_or_has_no_date_is_named(user_dir: Path) -> None:
    (user_dir / "torch.json").mkdir()
    undated = packaged("gpus.json")
    del undated["retrieved"]
    (user_dir / "gpus.json").write_text(json.dumps(undated), "utf-8")
    load_knowledge()
    reasons = dict(take_unusable_user_data())
    assert reasons[str(user_dir / "torch.json")].startswith("it cannot be read: ")
    assert reasons[str(user_dir / "gpus.json")] == (
        "it has no retrieval date, so it cannot be shown to be newer"
    )


# --- a user copy only wins when it is not older than the packaged file ----------------------


@pytest.mark.parametrize("name", ["torch.json", "gpus.json", "cuda_drivers.json", "sources.json"])
def test_packaged_retrieved_reads_the_head_as_a_full_parse_would(name: str) -> None:
    assert packaged_retrieved(name) == packaged(name)["retrieved"] == "2026-11-23"


def test_packaged_retrieved_falls_back_to_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "retrieved" not right after "schema": the whole file is parsed
    (tmp_path / "gpus.json").write_text(json.dumps({"gpus": [], "retrieved": "2027-01-02"}))
    (tmp_path / "torch.json").write_text("[]")
    monkeypatch.setattr("torchenv.knowledge.store.DATA", tmp_path)
    assert packaged_retrieved("gpus.json") == "2027-01-02"
    assert packaged_retrieved("torch.json") == packaged_retrieved("missing.json") == ""


@pytest.mark.parametrize(
    ("retrieved", "wins"),
    [("2026-11-23", True), ("2026-12-01", True), ("2026-11-22", False), ("2025-01-01", False)],
)
def test_an_older_user_copy_loses_to_newer_packaged_data(
    user_dir: Path, retrieved: str, wins: bool
) -> None:
    # after a torchenv upgrade the packaged data may be newer than what `db update` wrote
    torch = packaged("torch.json")
    torch["retrieved"] = retrieved
    torch["releases"] = torch["releases"][:3]
    (user_dir / "torch.json").write_text(json.dumps(torch), "utf-8")
    kb = load_knowledge()
    assert (len(kb.torch_releases()) == 3) is wins
    assert kb.describe_origin().startswith("updated" if wins else "packaged")
    data = load_data("torch.json")
    assert data["_origin"] == (str(user_dir / "torch.json") if wins else "packaged")


@pytest.mark.parametrize("retrieved", [None, 20261201, "soon", "2026-12"])
def test_an_undated_user_copy_loses(user_dir: Path, retrieved: object) -> None:
    gpus = packaged("gpus.json")
    gpus["retrieved"] = retrieved
    gpus["gpus"] = gpus["gpus"][:1]
    (user_dir / "gpus.json").write_text(json.dumps(gpus), "utf-8")
    assert len(load_knowledge().gpu_models()) > 1
    assert load_data("gpus.json")["_origin"] == "packaged"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
@pytest.mark.parametrize("xdg", [None, "/srv/data", "relative/data", "  "])
def test_user_data_dir_on_linux_is_where_platformdirs_puts_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None
) -> None:
    import platformdirs

    monkeypatch.delenv("TORCHENV_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    expected = Path(platformdirs.user_data_dir("torchenv", appauthor=False)) / "knowledge"
    if xdg == "relative/data":  # the XDG spec ignores a relative path; platformdirs takes it
        expected = tmp_path / ".local/share/torchenv/knowledge"
    assert user_data_dir() == expected


def test_a_copy_written_anew_is_not_reported(user_dir: Path) -> None:
    from torchenv.knowledge.store import forget_unusable

    (user_dir / "torch.json").write_text("{not json", "utf-8")
    load_knowledge()
    forget_unusable(user_dir / "torch.json")  # what db update does after writing it
    assert take_unusable_user_data() == []
