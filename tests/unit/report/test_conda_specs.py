from __future__ import annotations

import pytest

from torchenv.report.rules.conda import pin_wants_newer


@pytest.mark.parametrize(
    ("pin", "expected"),
    [
        ("pytorch=2.6", True),
        ("pytorch==2.6.0", True),
        ("pytorch::pytorch 2.6.0", True),
        ("pytorch>=2.6", True),
        ("pytorch=2.5", False),  # 2.5.* includes 2.5.1, the channel's last release
        ("pytorch=2.5.1=py3.11_cuda12.4_cudnn9.1.0_0", False),
        ("pytorch", False),
        ("pytorch>=2.0,<2.6", False),
        ("pytorch-cuda=12.1", False),
        ("pytorch >=garbage", False),
    ],
)
def test_pin_wants_a_release_the_channel_never_had(pin: str, expected: bool) -> None:
    assert pin_wants_newer(pin, "2.5.1") is expected


@pytest.mark.parametrize(
    ("spec", "version"),
    [
        (">=3.10", "3.11.7"),
        (">=3.10", "3.9.18"),
        (">=3.10.0", "3.10"),
        (">= 2.3", "2.2.2"),
        (">=2.14.0", "2.14.0"),
        ("<2.3", "2.2.2"),
        (">=3.10,!=3.14.1", "3.14.1"),
    ],
)
def test_fast_floor_check_agrees_with_packaging(spec: str, version: str) -> None:
    from packaging.specifiers import SpecifierSet

    from torchenv.report.rules.versions import in_spec

    assert in_spec(spec, version) == SpecifierSet(spec).contains(version, prereleases=True)
