"""The verify layer on recorded answers of the check script: reading them (pass, fail, skip,
garbage, a timeout, a crash), judging CUDA and the arch list, the lock record, the peaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builders import FakeRunner
from torchenv.errors import ExitCode, ExternalError
from torchenv.knowledge.gpus import normalise
from torchenv.knowledge.peaks import load_peaks, peak_for
from torchenv.models.process import RunResult
from torchenv.models.verify import CheckStatus, PublishedPeak
from torchenv.verify.judge import GPU_CHECKS, NO_GPU, HostFacts, assemble, judge_arch, judge_cuda
from torchenv.verify.lockcheck import check_versions, parse_record, same_version
from torchenv.verify.script import SCRIPT, ScriptOutput, parse_output, run_script

PY = "/envs/demo/bin/python"
PASS, FAIL, SKIP = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.SKIP
H100 = {"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0", "memory": 85 << 30}
ARCH_CU130 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]


def check(check_id: str, gpu: int | None = None, status: str = "pass", detail: str = "ok") -> Any:
    return {"id": check_id, "status": status, "detail": detail, "seconds": 0.5, "gpu": gpu}


def cpu_payload(**facts: Any) -> dict[str, Any]:
    """What the script prints for torch 2.13.0+cpu on a machine without a GPU."""
    base = {
        "python": "3.11.7",
        "torch": "2.13.0+cpu",
        "cuda": None,
        "hip": None,
        "arch_list": [],
        "cuda_available": False,
        "devices": [],
        "cuda_seconds": 0.01,
    }
    checks = [
        check("import-torch", detail="torch 2.13.0+cpu (CPU build)"),
        check("domain-libraries-agree", status="skip", detail="not installed"),
        check("cpu-ops"),
        check("torch-compile"),
    ]
    return {"facts": {**base, **facts}, "checks": checks, "perf": [], "seconds": 3.0}


def gpu_payload(devices: tuple[dict[str, Any], ...] = (H100,)) -> dict[str, Any]:
    """torch 2.14.1+cu130 on H100s: every check passes; perf as measured on an H100 SXM."""
    payload = cpu_payload(
        torch="2.14.1+cu130", cuda="13.0", arch_list=ARCH_CU130, cuda_available=True
    )
    payload["facts"]["devices"] = list(devices)
    for device in devices:
        index = device["index"]
        payload["checks"] += [check(c, index) for c in GPU_CHECKS[1:]]
        payload["perf"] += [
            {"check": "perf-matmul-bf16", "gpu": index, "value": 781.2, "unit": "TFLOP/s"},
            {"check": "perf-memory-bandwidth", "gpu": index, "value": 3015.0, "unit": "GB/s"},
        ]
    payload["checks"].append(check("nccl-all-reduce"))
    return payload


def answering(payload: Any, stderr: str = "", code: int = 0) -> FakeRunner:
    runner = FakeRunner()

    def handler(argv: list[str]) -> RunResult:
        cookie = argv[2]
        out = f"noise from a .pth hook\n{cookie}\n{json.dumps(payload)}\n{cookie}\n"
        return RunResult(tuple(argv), code, out, stderr, 4.0)

    runner.on(lambda argv: argv[1] == str(SCRIPT), handler)
    return runner


def failing(result: RunResult) -> FakeRunner:
    runner = FakeRunner()
    runner.on(lambda argv: True, lambda argv: RunResult(tuple(argv), *_fields(result)))
    return runner


def _fields(result: RunResult) -> tuple[Any, ...]:
    return (result.returncode, result.stdout, result.stderr, result.seconds, result.error)


def run(runner: FakeRunner, quick: bool = False) -> ScriptOutput:
    return run_script(runner, PY, quick=quick, timeout=30, tmp="/tmp/x")


def by_id(checks: tuple[Any, ...]) -> dict[tuple[str, int | None], Any]:
    return {(c.id, c.gpu): c for c in checks}


def no_peak(_: str) -> PublishedPeak | None:
    return None


SKIPPED_LOCK = check_versions(None, {}, {}, "/envs/demo")


# --------------------------------------------------------------------------- the script's answer
def test_reads_the_answer_between_the_cookies() -> None:
    runner = answering(cpu_payload())
    out = run(runner, quick=True)
    assert out.facts["torch"] == "2.13.0+cpu" and out.seconds == 4.0
    assert [c.id for c in out.checks][:2] == ["import-torch", "domain-libraries-agree"]
    argv = runner.calls[0]
    assert argv[0] == PY and argv[1].endswith("verify_check.py")
    assert json.loads(argv[3]) == {"quick": True, "tmp": "/tmp/x"}


def test_an_answer_with_a_non_zero_exit_is_still_used() -> None:
    out = run(answering(cpu_payload(), stderr="Segmentation fault at exit", code=-11))
    assert out.checks[0].status is PASS


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            RunResult((), 1, "garbage\n", "Traceback ...\nImportError: libcudart.so.13", 1.0),
            ["ended without a result (exit code 1)", "ImportError: libcudart.so.13"],
        ),
        (
            RunResult((), -11, "", "torchenv-verify: running import-torch\nSegmentation fault"),
            [
                "(killed by SIGSEGV) while running import-torch",
                "Segmentation fault",
                "import torch",
            ],
        ),
        (
            RunResult(
                (),
                None,
                "",
                "torchenv-verify: running matmul on cuda:0\ntorchenv-verify: running "
                "nccl-all-reduce",
                30.0,
                "timed out after 30s",
            ),
            ["did not finish within 30s", "it was running nccl-all-reduce", "--timeout"],
        ),
    ],
    ids=["garbage", "crash", "timeout"],
)
def test_no_usable_answer_is_an_external_error(result: RunResult, expected: list[str]) -> None:
    with pytest.raises(ExternalError) as caught:
        run(failing(result))
    error = caught.value
    text = f"{error.message}\n{error.hint}"
    assert error.exit_code is ExitCode.EXTERNAL and PY in error.message
    for part in expected:
        assert part in text


def test_an_interpreter_that_cannot_start() -> None:
    with pytest.raises(ExternalError) as caught:
        run(failing(RunResult((), None, error="not found")))
    assert caught.value.reference == "verify-could-not-start"
    assert f"Could not start {PY}" in caught.value.message


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"facts": {}, "checks": "all fine"},
        {"facts": {}, "checks": [{"id": "matmul", "status": "great", "detail": "", "seconds": 1}]},
        {"facts": {}, "checks": [], "perf": [{"gpu": "zero", "value": 1}]},
        {"facts": {}, "checks": [], "perf": [{"check": "x", "gpu": 0, "value": 1, "unit": "?"}]},
        {
            "facts": {},
            "checks": [],
            "perf": [{"check": "perf-matmul-bf16", "gpu": 0, "value": 1, "unit": "GB/s"}],
        },
        {
            "facts": {},
            "checks": [],
            "perf": [{"check": ["perf-matmul-bf16"], "gpu": 0, "value": 1, "unit": "GB/s"}],
        },
        {"error": "Traceback ...\nNameError: name 'x' is not defined"},
    ],
    ids=[
        "list",
        "checks-not-a-list",
        "unknown-status",
        "bad-perf",
        "unknown-measurement",
        "wrong-unit",
        "check-not-a-string",
        "script-error",
    ],
)
def test_a_malformed_answer_is_an_external_error(payload: Any) -> None:
    with pytest.raises(ExternalError) as caught:
        run(answering(payload, stderr="some stderr"))
    assert "printed a result torchenv cannot read" in caught.value.message
    assert "some stderr" in caught.value.message


def test_parse_output_keeps_skips_and_failures() -> None:
    payload = cpu_payload()
    payload["checks"][2] = check("cpu-ops", status="fail", detail="conv2d differs")
    out = parse_output(payload, 1.0)
    assert [c.status for c in out.checks] == [PASS, SKIP, FAIL, PASS]


# --------------------------------------------------------------------------- judging
def test_cpu_build_without_gpu() -> None:
    out = parse_output(cpu_payload(), 1.0)
    checks, perf = assemble(out, HostFacts(gpu_visible=False), SKIPPED_LOCK, False, no_peak)
    found = by_id(checks)
    assert [c.id for c in checks[:6]] == [
        "import-torch",
        "versions-match-lock",
        "domain-libraries-agree",
        "cuda-available",
        "cpu-ops",
        "torch-compile",
    ]
    assert found["cuda-available", None].status is SKIP
    for check_id in (*GPU_CHECKS, "nccl-all-reduce"):
        assert found[check_id, None].status is SKIP and found[check_id, None].detail == NO_GPU
    assert perf == () and not any(c.status is FAIL for c in checks)


def test_quick_marks_what_it_left_out() -> None:
    payload = cpu_payload()
    payload["checks"] = payload["checks"][:3]  # --quick: no torch-compile
    checks, _ = assemble(parse_output(payload, 1.0), HostFacts(False), SKIPPED_LOCK, True, no_peak)
    found = by_id(checks)
    assert found["torch-compile", None].detail == "--quick"
    assert found["matmul", None].detail == NO_GPU  # no GPU wins over --quick


def test_gpu_checks_with_published_peaks() -> None:
    out = parse_output(gpu_payload((H100, {**H100, "index": 1})), 1.0)
    checks, perf = assemble(out, HostFacts(True), SKIPPED_LOCK, False, peak_for)
    found = by_id(checks)
    assert found["cuda-available", None].status is PASS
    assert "2 GPU(s)" in found["cuda-available", None].detail
    for index in (0, 1):
        for check_id in GPU_CHECKS:
            assert found[check_id, index].status is PASS, check_id
    arch = found["gpu-arch-in-build", 0]
    assert "compute capability 9.0 runs compiled code" in arch.detail
    matmul = next(p for p in perf if p.check == "perf-matmul-bf16" and p.gpu == 0)
    assert matmul.peak == 989.4 and matmul.percent == 79.0 and matmul.unit == "TFLOP/s"
    assert matmul.peak_source is not None and matmul.peak_source.startswith("H100 SXM: https://")
    copy = next(p for p in perf if p.check == "perf-memory-bandwidth" and p.gpu == 1)
    assert copy.peak == 3350 and copy.percent == 90.0
    assert "= 79% of the published 989.4 TFLOP/s" in found["perf-matmul-bf16", 0].detail
    assert found["nccl-all-reduce", None].status is PASS


def test_quick_on_a_gpu_keeps_the_arch_list_and_a_small_matmul() -> None:
    payload = gpu_payload()
    payload["checks"] = [c for c in payload["checks"] if c["id"] != "torch-compile"]
    payload["checks"] = [c for c in payload["checks"] if c["gpu"] is None or c["id"] == "matmul"]
    payload["checks"] = [c for c in payload["checks"] if c["id"] != "nccl-all-reduce"]
    payload["perf"] = []
    checks, _ = assemble(parse_output(payload, 1.0), HostFacts(True), SKIPPED_LOCK, True, no_peak)
    found = by_id(checks)
    assert found["gpu-arch-in-build", 0].status is PASS and found["matmul", 0].status is PASS
    for check_id in ("conv-cudnn", "memory-alloc", "perf-matmul-bf16", "torch-compile"):
        gpu = None if check_id == "torch-compile" else 0
        assert found[check_id, gpu].status is SKIP and found[check_id, gpu].detail == "--quick"
    assert found["nccl-all-reduce", None].detail == "--quick"


def test_unknown_gpu_has_no_percentage() -> None:
    device = {**H100, "name": "NVIDIA Imaginary 9000"}
    checks, perf = assemble(
        parse_output(gpu_payload((device,)), 1.0), HostFacts(True), SKIPPED_LOCK, False, peak_for
    )
    assert all(p.percent is None and p.peak is None for p in perf)
    assert (
        "no published peak known for NVIDIA Imaginary 9000"
        in by_id(checks)["perf-matmul-bf16", 0].detail
    )


def test_torch_that_does_not_import() -> None:
    payload = {
        "facts": {"python": "3.11.7", "import_error": "ImportError: libc10.so: cannot open"},
        "checks": [check("import-torch", status="fail", detail="ImportError: libc10.so")],
        "perf": [],
    }
    checks, _ = assemble(parse_output(payload, 1.0), HostFacts(True), SKIPPED_LOCK, False, no_peak)
    assert checks[0].status is FAIL
    rest = [c for c in checks[1:] if c.id != "versions-match-lock"]
    assert rest and all(c.status is SKIP and c.detail == "torch does not import" for c in rest)


BROKEN_SMI = "nvidia-smi on PATH did not run: exit code 9: no output"


@pytest.mark.parametrize(
    ("facts", "host", "status", "words"),
    [
        ({"cuda": "13.0"}, HostFacts(True), FAIL, "an NVIDIA GPU is visible"),
        # built for GPU machines on one without a GPU (CI, image builds): proven there, not here
        ({"cuda": "13.0"}, HostFacts(False, "13.0"), SKIP, "as the plan expects CUDA 13.0"),
        ({"cuda": "13.0"}, HostFacts(False), SKIP, f"{NO_GPU} on this machine"),
        ({}, HostFacts(False, "13.0"), FAIL, "is a CPU build"),
        ({}, HostFacts(True), FAIL, "cannot use the GPU"),
        ({}, HostFacts(True, None, "cpu"), SKIP, "as the plan chose"),
        ({}, HostFacts(False), SKIP, f"CPU build of torch and {NO_GPU}"),
        # a broken nvidia-smi on PATH is not a GPU; the skip says what it did
        ({}, HostFacts(False, no_gpu_why=BROKEN_SMI), SKIP, f"{NO_GPU} ({BROKEN_SMI})"),
        ({}, HostFacts(False, None, "cpu", BROKEN_SMI), SKIP, f"{NO_GPU} ({BROKEN_SMI})"),
        ({"cuda": "13.0"}, HostFacts(False, "13.0", "cu130", BROKEN_SMI), SKIP, BROKEN_SMI),
    ],
)
def test_cuda_available(
    facts: dict[str, Any], host: HostFacts, status: CheckStatus, words: str
) -> None:
    base = {"torch": "2.14.1", "cuda_available": False, "cuda_error": "no driver", **facts}
    result = judge_cuda(base, host)
    assert result.status is status and words in result.detail


@pytest.mark.parametrize(
    ("arch", "capability", "status", "words"),
    [
        (ARCH_CU130, "12.0", PASS, "runs compiled code"),
        (["sm_80", "compute_80"], "9.0", PASS, "driver's JIT of PTX"),
        (["sm_75", "sm_80", "sm_86", "sm_90"], "12.0", FAIL, "no kernel image"),
        (["sm_50", "sm_60"], "3.7", FAIL, "no kernel image"),
        ([], "9.0", SKIP, "empty"),
    ],
)
def test_arch_in_build(arch: list[str], capability: str, status: CheckStatus, words: str) -> None:
    facts = {"torch": "2.14.1+cu130", "cuda": "13.0", "arch_list": arch}
    result = judge_arch(facts, {"index": 0, "capability": capability})
    assert result.status is status and words in result.detail and result.gpu == 0


def test_pin_problems_fail_the_domain_check() -> None:
    out = parse_output(cpu_payload(), 1.0)
    problem = "torchvision 0.29.1 requires torch==2.14.1, torch 2.13.0+cpu is installed"
    checks, _ = assemble(out, HostFacts(False), SKIPPED_LOCK, False, no_peak, (problem,))
    domain = by_id(checks)["domain-libraries-agree", None]
    assert domain.status is FAIL and domain.detail == problem


# --------------------------------------------------------------------------- the lock record
def record(packages: dict[str, str], **plan: Any) -> str:
    return json.dumps({"schema": "torchenv.env/1", "lock": {"packages": packages}, "plan": plan})


def test_versions_match_the_lock() -> None:
    rec = parse_record("/e/torchenv-env.json", record({"torch": "2.13.0+cpu", "Filelock": "3.1"}))
    assert rec is not None and rec.plan_cuda is None
    installed = {"torch": "2.13.0+cpu", "filelock": "3.1.0", "pip": "25.0", "six": "1.17.0"}
    result = check_versions(rec, installed, {"torch": "2.13.0+cpu"}, "/e")
    assert result.status is PASS and "all 2 locked packages" in result.detail
    # named; the venv's own pip is not news
    assert result.detail.endswith("not in the lock but installed: six")


def test_versions_differ_from_the_lock() -> None:
    rec = parse_record("/e/torchenv-env.json", record({"torch": "2.13.0+cpu", "numpy": "2.1.0"}))
    result = check_versions(rec, {"torch": "2.12.0+cpu"}, {"torch": "2.11.0"}, "/e")
    assert result.status is FAIL and result.detail.startswith("3 difference(s)")
    assert "numpy 2.1.0 is missing" in result.detail
    assert "torch is 2.12.0+cpu, the lock has 2.13.0+cpu" in result.detail
    assert "import torch loads 2.11.0" in result.detail


def test_no_record_is_a_skip_and_a_bad_one_a_failure() -> None:
    assert check_versions(None, {}, {}, "/e").status is SKIP
    assert parse_record("/e/x", None) is None
    bad = parse_record("/e/torchenv-env.json", "{not json")
    assert bad is not None and check_versions(bad, {}, {}, "/e").status is FAIL
    shapeless = parse_record("/e/torchenv-env.json", json.dumps({"lock": {"packages": [1]}}))
    assert shapeless is not None and "has no" in (shapeless.error or "")


def test_the_plan_in_the_record() -> None:
    rec = parse_record("/e/r", record({}, cuda="13.0", variant="cu130"))
    assert rec is not None and (rec.plan_cuda, rec.plan_variant) == ("13.0", "cu130")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("2.13.0", "2.13", True),
        ("2.13.0+CPU", "2.13.0+cpu", True),
        ("2.13.0+cpu", "2.13.0+cu130", False),
        ("2.13.0", "2.13.0+cpu", False),
        ("1.0.0rc1", "1.0rc1", True),
        ("1.0.post1", "1.0", False),
        ("weird", "weird", True),
    ],
)
def test_same_version(a: str, b: str, same: bool) -> None:
    assert same_version(a, b) is same


# --------------------------------------------------------------------------- published peaks
@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("NVIDIA H200", "H200 SXM"),
        ("NVIDIA H200 NVL", "H200 NVL"),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100 40GB"),
        ("NVIDIA A100-PCIE-40GB", "A100 40GB"),
        ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA A10", "A10"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("NVIDIA B200", "B200"),
        ("NVIDIA A10G", None),
        ("NVIDIA GH200 480GB", None),
        ("NVIDIA GeForce RTX 4090 Laptop GPU", None),
        ("", None),
    ],
)
def test_peak_for_nvidia_smi_names(name: str, row: str | None) -> None:
    peak = peak_for(name)
    assert (peak.name if peak else None) == row


def test_peak_rows_are_sound() -> None:
    rows = load_peaks()
    assert len(rows) >= 12
    for _, peak in rows:
        # every row's own name finds that row: specific variants come before general ones
        assert peak_for(peak.name) == peak, peak.name
        assert 50 < peak.bf16_tflops < 5000 and 200 <= peak.memory_gbps <= 10000
        assert peak.source.startswith("https://") and peak.note
        assert normalise(peak.name)
    data = json.loads((Path(SCRIPT).parents[2] / "knowledge/data/gpu_peaks.json").read_text())
    assert data["schema"] == "torchenv.knowledge.gpu-peaks/1"
