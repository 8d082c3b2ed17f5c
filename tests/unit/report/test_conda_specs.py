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
