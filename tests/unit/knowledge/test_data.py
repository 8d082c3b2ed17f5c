"""The packaged data files, checked record by record against data/README.md and each other."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from torchenv.knowledge.gpus import matching
from torchenv.knowledge.store import DATA, load_knowledge, source_ids
from torchenv.models.archs import parse_arch
from torchenv.models.compat import driver_key, minor_of, variant_cuda

KB = load_knowledge(packaged_only=True)


def read(name: str) -> dict[str, Any]:
    data = json.loads((Path(DATA) / name).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


TORCH, GPUS, SOURCES, DRIVERS = (
    read(n) for n in ("torch.json", "gpus.json", "sources.json", "cuda_drivers.json")
)
RELEASES: list[dict[str, Any]] = TORCH["releases"]
PLATFORMS = {"linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64"}
RELEASE_FIELDS = {
    "version",
    "released",
    "yanked",
    "requires_python",
    "python",
    "glibc",
    "pypi_default",
    "pypi_linux_x86_64",
    "torchvision",
    "torchaudio",
    "source",
}
BUILD_FIELDS = {"variant", "cuda", "archs", "git_version", "cudnn", "nccl", "cublas", "cudart"}


def vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def by_version(param: dict[str, Any]) -> str:
    return str(param["version"])


@pytest.mark.parametrize("release", RELEASES, ids=by_version)
def test_release_has_the_readme_fields(release: dict[str, Any]) -> None:
    assert release.keys() >= RELEASE_FIELDS
    assert release["pypi_linux_x86_64"].keys() >= BUILD_FIELDS
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", release["released"]) and not release["yanked"]
    assert release["released"] <= TORCH["retrieved"]
    assert release["glibc"] in {"2.17", "2.28"}
    assert re.fullmatch(r"[0-9a-f]{40}", release["pypi_linux_x86_64"]["git_version"])
    # a platform without wheels is absent from pypi_default
    assert set(release["pypi_default"]) == {p for p, v in release["python"].items() if v}
    assert set(release["python"]) <= PLATFORMS
    assert all(isinstance(note, str) and note for note in release.get("notes", []))
    build = release["pypi_linux_x86_64"]
    assert release["pypi_default"]["linux_x86_64"] == build["variant"]
    assert variant_cuda(build["variant"]) == build["cuda"]


def platform_cases() -> list[tuple[str, str, str]]:
    return [(r["version"], p, v) for r in RELEASES for p, v in r["pypi_default"].items()]


@pytest.mark.parametrize(("version", "platform", "variant"), platform_cases())
def test_pypi_default_is_on_the_index_where_the_list_is_verified(
    version: str, platform: str, variant: str
) -> None:
    verified, _ = KB.index_provenance(version, platform)
    variants = KB.platform_variants(version, platform)
    if verified:  # (no macOS lists yet: platform_variants answers () there)
        assert variant in variants


@pytest.mark.parametrize("release", RELEASES, ids=by_version)
def test_default_builds_have_the_archs_of_their_arch_list_row(release: dict[str, Any]) -> None:
    builds = [("linux_x86_64", release["pypi_linux_x86_64"])]
    if "pypi_linux_aarch64" in release:
        builds.append(("linux_aarch64", release["pypi_linux_aarch64"]))
    for platform, build in builds:
        if not build["variant"].startswith("cu"):
            assert build["archs"] == []
            continue
        row = KB.variant_archs(release["version"], build["variant"], platform)
        assert row is not None and row.archs == tuple(build["archs"]), platform
        assert row.verified  # the build's own files were read (S3)


def test_arch_list_rows_cover_each_variant_once_and_parse() -> None:
    seen: set[tuple[str, str, str]] = set()
    for row in TORCH["arch_lists"]:
        assert row["archs"] and all(parse_arch(a) for a in row["archs"]), row
        for minor in row["torch"]:
            slot = (row["variant"], row.get("platform", "linux_x86_64"), minor)
            assert slot not in seen, slot
            seen.add(slot)
            assert row["variant"] in KB.platform_variants(minor + ".0", slot[1]), slot


def test_every_cuda_variant_on_the_index_has_an_arch_list_on_linux() -> None:
    for minor, entry in TORCH["minors"].items():
        for platform in ("linux_x86_64", "linux_aarch64"):
            for variant in KB.platform_variants(minor + ".0", platform):
                if variant.startswith("cu"):
                    assert KB.variant_archs(minor + ".0", variant, platform), (minor, variant)
        assert entry["index_variants"][-1] == "cpu"


def test_release_dates_ascend_within_a_minor() -> None:
    minors: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for release in RELEASES:
        minors[minor_of(release["version"])].append(release)
    for releases in minors.values():
        ordered = sorted(releases, key=lambda r: vkey(r["version"]))
        dates = [r["released"] for r in ordered]
        assert dates == sorted(dates) and len(set(dates)) == len(dates), dates
    assert [r["version"] for r in RELEASES] == sorted(
        (r["version"] for r in RELEASES), key=vkey
    )  # oldest first, as README says


def cited(value: Any) -> set[str]:
    """Source ids in every "source" field and every note's "(S1,S2)" of a data document."""
    ids: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in {"source", "pytorch_channel_source"} and isinstance(v, str):
                ids.update(source_ids(v))
            else:
                ids |= cited(v)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item.endswith(")"):
                ids.update(source_ids(item.rsplit("(", 1)[-1]))
            else:
                ids |= cited(item)
    return ids


@pytest.mark.parametrize("document", [TORCH, GPUS, DRIVERS], ids=["torch", "gpus", "drivers"])
def test_every_cited_source_exists(document: dict[str, Any]) -> None:
    known = {row["id"] for row in SOURCES["sources"]}
    found = cited(document)
    assert found and found <= known, found - known
    for row in SOURCES["sources"]:
        assert row["what"] and row["url"].startswith("https://") and row["retrieved"]


def test_driver_floors_are_consistent() -> None:
    floors = {str(row["major"]): row["linux"] for row in DRIVERS["minor_version_compatibility"]}
    by_major: dict[int, str] = {}
    for release in RELEASES:
        cuda = release["pypi_linux_x86_64"]["cuda"]
        req = KB.driver_requirement(cuda)
        assert req is not None, cuda
        assert req.hard_floor == floors[cuda.split(".")[0]]
        assert req.release_floor is not None
        assert driver_key(req.release_floor) >= driver_key(req.hard_floor)
        by_major[int(cuda.split(".")[0])] = req.hard_floor
    majors = sorted(by_major)
    assert [driver_key(by_major[m]) for m in majors] == sorted(
        driver_key(by_major[m]) for m in majors
    )
    for entry in TORCH["minors"].values():
        for variant in entry["index_variants"]:
            cuda = variant_cuda(variant)
            assert cuda is None or KB.driver_requirement(cuda) is not None, variant


def test_minor_records() -> None:
    minors = TORCH["minors"]
    assert {minor_of(r["version"]) for r in RELEASES} == set(minors)
    for release in RELEASES:
        entry = minors[minor_of(release["version"])]
        assert entry["pypi_default_linux_x86_64"] == release["pypi_default"]["linux_x86_64"]
    for entry in minors.values():
        by_platform = entry["index_variants_by_platform"]
        assert set(by_platform) == set(entry["platform_variants_verified"]) <= PLATFORMS
        assert all(variants[-1] == "cpu" for variants in by_platform.values())
        assert not any(v.startswith("rocm") for v in by_platform["win_amd64"])


def test_conda_forge_records() -> None:
    cf = TORCH["conda_forge"]
    versions = {r["version"] for r in RELEASES}
    for build in cf["builds"]:
        assert set(build["torch"]) <= versions and build["platform"] in PLATFORMS
        assert all(re.fullmatch(r"\d+\.\d", c) for c in build["cuda"])
    for row in cf["arch_lists"]:
        assert all(parse_arch(a) for a in row["archs"]) and not row["verified"]
    assert cf["facts"] and cf["source"] == "S8"


@pytest.mark.parametrize("gpu", GPUS["gpus"], ids=lambda g: str(g["name"]))
def test_gpu_rows(gpu: dict[str, Any]) -> None:
    major, _, minor = gpu["cc"].partition(".")
    assert 3 <= int(major) <= 12 and minor.isdigit() and len(minor) == 1
    assert gpu["segment"] in {"datacenter", "workstation", "consumer", "embedded", "desktop"}
    assert gpu["match"] and all(re.compile(p) for p in gpu["match"])
    assert gpu["source"] in {"S12", "S12b"}  # S12b: a one-table copy of NVIDIA's list
    # a row's own display name resolves to GPUs of its compute capability only
    assert {m.cc for m in matching(gpu["name"], KB.gpu_models())} == {gpu["cc"]}


def test_the_original_gpu_rows_are_kept() -> None:
    assert len(GPUS["gpus"]) >= 32
    assert "not readable" in GPUS["note"]  # the S12 caveat


def test_aarch64_cuda_variants_start_at_2_4() -> None:
    # the audit of 2026-12-06 read aarch64 CUDA wheels for Grace Hopper (sm_90) in the
    # download.pytorch.org listing from 2.4 on (S16); the survey had started them at 2.7
    assert KB.platform_variants("2.4.1", "linux_aarch64") == ("cu124", "cpu")
    assert KB.platform_variants("2.5.1", "linux_aarch64") == ("cu124", "cpu")
    assert KB.platform_variants("2.6.0", "linux_aarch64") == ("cu126", "cpu")
    assert KB.platform_variants("2.3.1", "linux_aarch64") == ("cpu",)
    assert KB.platform_variants("2.7.0", "linux_aarch64") == ("cu128", "cpu")
    note = TORCH["minors"]["2.6"]["platform_variants_note"]
    assert note.startswith("linux_aarch64: cu126 (sm_90, Grace Hopper) and cpu") and "S16" in note
    assert "win_amd64: inferred" in note
    assert "from 2.7 on" in TORCH["minors"]["1.13"]["platform_variants_note"]


def seed_script() -> Any:
    path = Path(__file__).parents[3] / "scripts" / "seed_knowledge.py"
    spec = importlib.util.spec_from_file_location("seed_knowledge", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_seed_script_reproduces_the_gpu_rows_and_minor_notes() -> None:
    # rerunning scripts/seed_knowledge.py must keep the rows added by hand and give these notes
    seed = seed_script()
    gpus = copy.deepcopy(GPUS)
    seed.seed_gpus(gpus)
    assert gpus == GPUS
    del gpus["gpus"][-3:]  # a gpus.json from before the rows were added gets them back
    seed.seed_gpus(gpus)
    assert gpus == GPUS
    for minor, entry in TORCH["minors"].items():
        again = copy.deepcopy(entry)
        seed.seed_minor(minor, again)
        seed.knowledge_audit.apply_aarch64({**copy.deepcopy(TORCH["minors"]), minor: again})
        assert again == entry, minor
