"""The packaged knowledge base: sourced records, and queries checked against NVIDIA's tables."""

from __future__ import annotations

import pytest

from torchenv.knowledge import load_knowledge
from torchenv.knowledge.store import load_gpus, load_sources
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
