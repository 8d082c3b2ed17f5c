"""Arch coverage, checked on the worked examples of the failure catalog (section 3.4)."""

from __future__ import annotations

import pytest

from torchenv.models.archs import cc_to_int, coverage, describe, parse_arch, unified_tegra

CU124 = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
CU128_28 = ("sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
CU126 = CU124
CU132 = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")


@pytest.mark.parametrize(
    ("archs", "cc", "expected"),
    [
        (CU124, "12.0", None),  # RTX 5090 on 2.6.0+cu124 (C1)
        (CU128_28, "6.1", None),  # GTX 1080 on 2.8.0+cu128 (C2)
        (CU126, "6.1", "native"),  # GTX 1080 on 2.7.1+cu126
        (CU132, "12.1", "native"),  # DGX Spark on 2.15.0+cu132
        (CU132, "8.9", "native"),  # sm_86 runs on 8.9 (RTX 40xx, L4)
        (CU132, "10.3", "native"),  # sm_100 runs on B300
        (CU132, "8.7", None),  # Jetson Orin is excluded from sm_80/sm_86
        (("sm_87",), "8.7", "native"),
        (("sm_110",), "11.0", "native"),  # Thor
        (("sm_101",), "11.0", "native"),  # "101 was renamed to 110"
        (("sm_100",), "10.1", None),
        (("sm_90a",), "9.0", "native"),
        (("sm_90a",), "9.1", None),
        (("sm_100f",), "10.3", "native"),
        (("sm_80", "compute_80"), "9.0", "ptx"),  # PTX JITs to a newer major
        (("sm_80", "compute_80"), "7.5", None),  # but never to an older one
        (CU132, "7.0", None),  # V100 on cu13x
        (CU132, "garbage", None),
    ],
)
def test_coverage(archs: tuple[str, ...], cc: str, expected: str | None) -> None:
    assert coverage(archs, cc) == expected


def test_parse_and_describe() -> None:
    assert parse_arch("compute_120") is not None
    assert parse_arch("sm_x") is None
    assert cc_to_int("12.1") == 121
    assert describe(("sm_75", "sm_90", "sm_120", "compute_120")) == "7.5, 9.0, 12.0+PTX"


def test_family_ptx_and_the_jetson_unification() -> None:
    assert coverage(("compute_100f",), "10.3") == "ptx"
    assert coverage(("compute_100f",), "12.0") is None
    cu132 = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")
    assert coverage(cu132, "8.7") is None  # Orin, before the unification
    assert coverage(cu132, "8.7", unified=True) == "native"  # torch 2.15, CUDA 13.2
    assert unified_tegra("2.15.0+cu132", "13.2") and not unified_tegra("2.15.0+cu130", "13.0")
    assert not unified_tegra("2.14.1+cu132", "13.2")
