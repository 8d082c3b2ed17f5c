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
