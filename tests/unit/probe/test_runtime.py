from __future__ import annotations

import json
from pathlib import Path

from builders import FakeRunner, probe_context
from torchenv.probe.runner import RunResult
from torchenv.probe.runtime import parse_runtime, run_runtime_check


def test_parse_a_gpu_answer() -> None:
    check = parse_runtime(
        {
            "torch_version": "2.14.1+cu130",
            "cuda_available": True,
            "device_count": 1,
            "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}],
            "cudnn_version": 92400,
            "op_ok": True,
            "warnings": [],
            "seconds": 99.0,
        },
        2.5,
    )
    assert check.ran and check.seconds == 2.5 and check.devices[0].capability == "9.0"


def test_malformed_answers_become_errors() -> None:
    assert parse_runtime([1, 2], 1.0).error == "the check printed odd data: $: not an object"
    bad = parse_runtime({"devices": [{"index": "zero", "name": "x", "capability": "9.0"}]}, 1.0)
    assert bad.ran is False and "devices[0].index" in (bad.error or "")


def test_crash_before_the_answer(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on(lambda a: True, lambda a: RunResult(tuple(a), -11, "", "Segmentation fault"))
    ctx, _ = probe_context(tmp_path, runner)
    check = run_runtime_check(ctx, "/env/bin/python", 10)
    assert check.ran and check.error == "Segmentation fault"


def test_timeout(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on(lambda a: True, lambda a: RunResult(tuple(a), None, error="timed out after 10s"))
    ctx, _ = probe_context(tmp_path, runner)
    check = run_runtime_check(ctx, "/env/bin/python", 10)
    assert check.timed_out


def test_answer_between_cookies(tmp_path: Path) -> None:
    runner = FakeRunner()

    def answer(argv: list[str]) -> RunResult:
        cookie = argv[2]
        payload = json.dumps({"torch_version": "2.13.0+cpu", "cuda_available": False})
        return RunResult(tuple(argv), 0, f"warning noise\n{cookie}\n{payload}\n{cookie}\n", "", 1.5)

    runner.on(lambda a: True, answer)
    ctx, _ = probe_context(tmp_path, runner)
    check = run_runtime_check(ctx, "/env/bin/python", 10)
    assert check.torch_version == "2.13.0+cpu" and check.cuda_available is False
