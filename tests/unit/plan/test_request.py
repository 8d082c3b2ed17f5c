"""What the user types becomes a request, or a UsageError that says what was expected."""

from __future__ import annotations

import pytest

from torchenv.errors import ExitCode, UsageError
from torchenv.plan.request import (
    build_request,
    parse_cuda,
    parse_driver,
    parse_platform,
    parse_python,
    parse_torch,
    release_matches,
)


@pytest.mark.parametrize(
    ("text", "spec", "cuda"),
    [
        (None, None, None),
        ("2.13", "==2.13.*", None),
        ("2.13.0", "==2.13.0", None),
        ("2.13.0+cu126", "==2.13.0", "12.6"),
        ("2.13.0+cpu", "==2.13.0", "cpu"),
        (">=2.8,<2.12", ">=2.8,<2.12", None),
        ("torch>=2.8", ">=2.8", None),
        ("~=2.10.0", "~=2.10.0", None),
        # the forms of conda and the source documents (issue 13)
        ("2.11.*", "==2.11.*", None),
        ("2.11.0.*", "==2.11.0.*", None),
        ("=2.11", "==2.11.*", None),
        ("=2.11.0", "==2.11.0", None),
        ("pytorch>=2.8", ">=2.8", None),
        ("pytorch=2.11", "==2.11.*", None),
        (">= 2.8, < 2.12", ">= 2.8, < 2.12", None),
    ],
)
def test_torch_forms(text: str | None, spec: str | None, cuda: str | None) -> None:
    assert parse_torch(text) == (spec, cuda)


@pytest.mark.parametrize("text", ["latest", "2.13.0+rocm6.2", ">>2", "2.x", "=>2.8"])
def test_bad_torch_says_what_a_specifier_looks_like(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_torch(text)
    assert err.value.exit_code == ExitCode.USAGE
    assert text in err.value.message and "PEP 440" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("text", "value"),
    [(None, "auto"), ("auto", "auto"), ("CPU", "cpu"), ("12.6", "12.6"), ("cu130", "13.0")],
)
def test_cuda_forms(text: str | None, value: str) -> None:
    assert parse_cuda(text) == value


@pytest.mark.parametrize("text", ["12", "cuda12.6", "cu12", "gpu", "12.6.3"])
def test_bad_cuda(text: str) -> None:
    with pytest.raises(UsageError, match="not a CUDA choice"):
        parse_cuda(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3.12", "3.12"),
        ("3.12.4", "3.12"),
        ("python3.11", "3.11"),
        ("cp313", "3.13"),
        ("3.14t", "3.14t"),
    ],
)
def test_python_forms(text: str, value: str) -> None:
    assert parse_python(text) == value


@pytest.mark.parametrize("text", ["2.7", "three", "3", "4.0"])
def test_bad_python(text: str) -> None:
    with pytest.raises(UsageError, match="not a Python version"):
        parse_python(text)


def test_driver_and_platform() -> None:
    assert parse_driver("570.133.07") == "570.133.07"
    with pytest.raises(UsageError, match="names a driver branch"):
        parse_driver("580")
    for bad in ("latest", "12.8", "570.x"):
        with pytest.raises(UsageError, match="not an NVIDIA driver version"):
            parse_driver(bad)
    assert parse_platform("linux") == "linux_x86_64"
    assert parse_platform("linux-aarch64") == "linux_aarch64"
    with pytest.raises(UsageError, match="not a platform"):
        parse_platform("solaris")


def test_local_label_and_cuda_must_agree() -> None:
    assert build_request("2.13.0+cu126", None, None, None).cuda == "12.6"
    assert build_request("2.13.0+cu126", None, "cu126", None).cuda == "12.6"
    with pytest.raises(UsageError, match=r"names a 12\.6 build but --cuda says 13\.0"):
        build_request("2.13.0+cu126", None, "13.0", None)


def test_release_matching() -> None:
    assert release_matches("==2.13.*", "2.13.0")
    assert not release_matches(">=2.14", "2.13.0")
    assert release_matches(None, "1.13.1")
