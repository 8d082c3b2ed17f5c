"""Loose pairings from Requires-Dist and upload dates (knowledge/pairing.py), with the real
requirements and first-upload dates of PyPI (S1, S2; read 2026-12-07)."""

from __future__ import annotations

from torchenv.knowledge.pairing import DomainRelease, admits, exact_version, loose_pairs

TORCH_RELEASED = {
    "2.11.0": "2026-03-23",
    "2.12.0": "2026-05-13",
    "2.12.1": "2026-06-17",
    "2.13.0": "2026-07-08",
    "2.14.0": "2026-09-02",
    "2.14.1": "2026-09-30",
    "2.15.0": "2026-10-28",
}
VISION = [
    DomainRelease("0.28.0", "==2.13.0", "2026-07-08"),
    DomainRelease("0.29.0", "==2.14.0", "2026-09-02"),
    DomainRelease("0.29.1", ">=2.14.0", "2026-09-30"),
    DomainRelease("0.29.2", ">=2.14.0", "2026-10-28"),
]
AUDIO = [
    DomainRelease("2.10.0", "==2.10.0", "2026-01-21"),
    DomainRelease("2.11.0", "", "2026-03-23"),  # names no torch
    DomainRelease("2.11.1", ">=2.11", "2026-10-28"),
]


def test_torchvision_pairs_by_requirement_and_date() -> None:
    pairs = loose_pairs({"2.14.1": "2026-09-30", "2.15.0": "2026-10-28"}, VISION)
    assert pairs == {"2.14.1": "0.29.1", "2.15.0": "0.29.2"}


def test_torchaudio_2_11_1_pairs_with_2_12_and_later_and_2_11_0_with_its_own() -> None:
    pairs = loose_pairs(TORCH_RELEASED, AUDIO)
    assert pairs["2.11.0"] == "2.11.0"
    for version in ("2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.14.1", "2.15.0"):
        assert pairs[version] == "2.11.1"


def test_no_dates_no_loose_pairing() -> None:
    undated = [DomainRelease(d.version, d.requires, None) for d in AUDIO]
    assert loose_pairs(TORCH_RELEASED, undated) == {}
    assert loose_pairs({"2.13.0": None}, AUDIO) == {}


def test_requirement_forms() -> None:
    assert exact_version("==2.13.0") == "2.13.0" and exact_version("2.13.0") == "2.13.0"
    assert exact_version(">=2.11") is None and exact_version("") is None
    assert exact_version("==2.13.*") is None and exact_version("==not") is None
    assert admits(">=2.11", "2.15.0") and admits("", "1.13.0")
    assert not admits(">=2.14.0", "2.13.0") and not admits("<<bad", "2.13.0")


def test_variant_glibc_from_the_pytorch_index_file_tags() -> None:
    # 2.6.0: PyPI's wheels are manylinux1 (2.17 by their symbols, S14); the cu126 wheels on the
    # PyTorch index are manylinux_2_28 (S16), cu124's keep a legacy tag
    from packaging.version import Version

    from torchenv.knowledge.indexes import IndexFile
    from torchenv.knowledge.update import variant_glibc

    def wheel(name: str) -> IndexFile:
        return IndexFile(name, f"https://example/{name}", None, False, None, None)

    index = {
        "2.6": {
            "linux_x86_64": {
                "cu126": [wheel("torch-2.6.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl")],
                "cu124": [wheel("torch-2.6.0+cu124-cp311-cp311-manylinux1_x86_64.whl")],
                "cu118": [wheel("torch-2.6.0+cu118-cp311-cp311-manylinux_2_17_x86_64.whl")],
            }
        }
    }
    releases = [
        {"version": "2.6.0", "glibc": "2.17"},
        {"version": "2.5.1", "glibc": "2.17", "glibc_by_variant": {"cu124": "2.28"}},
    ]
    variant_glibc(releases, index, [Version("2.6.0"), Version("2.5.1")])
    assert releases[0]["glibc_by_variant"] == {"cu126": "2.28"}
    assert "glibc_by_variant" not in releases[1]  # read again: no stricter variant listed
