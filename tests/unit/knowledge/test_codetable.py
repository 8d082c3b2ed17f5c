"""PYTORCH_RELEASES_CODE_CC from torch/cuda/__init__.py: the recorded shapes of torch 2.11.0,
2.12.1 and 2.13.0, and hostile values that must be refused with a reason, never run."""

from __future__ import annotations

import time

import pytest

from indexserver import CODE_CC, RECORDED
from torchenv.knowledge.codetable import (
    MAX_NODES,
    MAX_SOURCE,
    CodeTableError,
    parse_code_cc,
)


def recorded(version: str) -> str:
    name = f"torch-{version}-cp311-cp311-manylinux_2_28_x86_64.whl.cuda_init.py"
    return (RECORDED / name).read_text()


@pytest.mark.parametrize("version", sorted(CODE_CC))
def test_recorded_tables(version: str) -> None:
    assert parse_code_cc(recorded(version)) == CODE_CC[version]


def test_forms_of_the_assignment() -> None:
    assert parse_code_cc("import torch\n") is None  # torch before 2.11
    assert parse_code_cc("# PYTORCH_RELEASES_CODE_CC is new in 2.11\n") is None
    assert parse_code_cc("def f():\n    PYTORCH_RELEASES_CODE_CC = {'1.0': {10}}\n") is None
    plain = "PYTORCH_RELEASES_CODE_CC = {'13.0': [120, 90, 90]}\n"
    assert parse_code_cc(plain) == {"13.0": {"linux_x86_64": ["sm_90", "sm_120"]}}
    # the last module-level assignment is the one in force
    twice = plain + "PYTORCH_RELEASES_CODE_CC = {'12.6': {50}}\n"
    assert parse_code_cc(twice) == {"12.6": {"linux_x86_64": ["sm_50"]}}
    # a host a later torch may add is not a platform recorded here; the others are kept
    hosts = "PYTORCH_RELEASES_CODE_CC = {'13.0': {'aarch64': {90}, 'riscv64': {90}}}"
    assert parse_code_cc(hosts) == {"13.0": {"linux_aarch64": ["sm_90"]}}


HUGE = "{'12.6': {'x86_64': {" + ",".join(["75"] * 10**6) + "}}}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("build_table()", "not a literal (it holds a call or a name)"),
        ("{'12.6': set(range(10**9))}", "not a literal"),
        ("{'12.6': {50}} | __import__('os').system('false')", "not a literal"),
        ("'12.6: 50 60'", "the value is a str, not a dict of CUDA versions"),
        ("{}", "the value is a dict, not a dict of CUDA versions"),
        ("None", "a NoneType"),
        ("{'12.6': 50}", "CUDA 12.6: a int, not a set of compute capabilities"),
        ("{'12.6': {True}}", "'True' is not a compute capability"),
        ("{'12.6': {'50'}}", "'50' is not a compute capability"),
        ("{'12.6': {5000}}", "'5000' is not a compute capability"),
        ("{12.6: {50}}", "a key is a float, not a CUDA version"),
        ("{'cu126': {50}}", "a key is a str, not a CUDA version"),
        ("{'12.6': {1: {50}}}", "CUDA 12.6: a host is a int"),
        ("{'12.6': {'ppc64le': {50}}}", "no CUDA version lists an x86_64 or aarch64 build"),
        ("{'12.6': {50,", "the file does not parse (SyntaxError"),
        ("{'12.6': " + "[" * 100_000 + "]" * 100_000 + "}", "the file does not parse"),
        ("-" * 100_000 + "1", "the file does not parse"),
        ("{'12.6': {" + ",".join(["75"] * (MAX_NODES + 1)) + "}}", "more than 4000 syntax nodes"),
        (HUGE, f"more than {MAX_SOURCE}"),
    ],
)
def test_hostile_values_are_refused_with_a_reason(value: str, reason: str) -> None:
    source = f"import os\n\nPYTORCH_RELEASES_CODE_CC: dict = {value}\n"
    started = time.monotonic()
    with pytest.raises(CodeTableError) as caught:
        parse_code_cc(source)
    assert reason in str(caught.value)
    assert len(str(caught.value)) < 200  # a reason, not the value
    assert time.monotonic() - started < 5


def test_nul_bytes_do_not_crash_the_parser() -> None:
    with pytest.raises(CodeTableError, match="does not parse"):
        parse_code_cc("PYTORCH_RELEASES_CODE_CC = {'12.6': {50}}\0\n")
