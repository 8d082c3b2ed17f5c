"""The local-label rule and the index URLs: one definition for plan, lock and doctor."""

from __future__ import annotations

import pytest

from torchenv.models.indexes import PYTORCH_INDEX, local_label, pins, variant_index


@pytest.mark.parametrize(
    ("torch", "variant", "platforms", "label"),
    [
        ("2.13.0", "cu130", ["linux_x86_64"], "+cu130"),
        ("2.13.0", "cpu", ["macos_arm64"], ""),
        ("2.13.0", "cpu", ["linux_x86_64", "macos_arm64"], ""),  # one pin must fit both
        ("2.13.0", "cpu", ["linux_aarch64"], "+cpu"),  # 2.8.0+cpu onwards, read from wheels
        ("2.8.0", "cpu", ["linux_aarch64"], "+cpu"),
        ("2.7.1", "cpu", ["linux_aarch64"], ""),  # not inspected: no label pinned
        ("1.13.1", "cpu", ["linux_aarch64"], ""),  # its version.py says "1.13.1"
        ("2.7.1", "cu128", ["linux_aarch64"], "+cu128"),
        ("2.13.0", "cpu", ["win_amd64"], "+cpu"),
    ],
)
def test_local_label(torch: str, variant: str, platforms: list[str], label: str) -> None:
    assert local_label(torch, variant, platforms) == label


def test_pins_leave_out_libraries_without_a_version() -> None:
    assert pins("2.13.0", "+cu130", [("torchvision", "0.28.0"), ("torchaudio", None)]) == [
        "torch==2.13.0+cu130",
        "torchvision==0.28.0+cu130",
    ]


def test_variant_index_joins_once() -> None:
    assert variant_index("cu130") == f"{PYTORCH_INDEX}/cu130"
    assert variant_index("cpu", "https://mirror.example/whl/") == "https://mirror.example/whl/cpu"
