"""`torchenv verify` through the CLI: exit codes 0/1/2/4, the torchenv.verify/1 contract and the
text report, with the check script's answers recorded in a fake runner."""

from __future__ import annotations

import json
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from builders import (
    FakeEnv,
    FakeRunner,
    add_torch,
    add_torchvision,
    fake_tool,
    make_venv,
    probe_context,
)
from torchenv import cli
from torchenv.cli import common
from torchenv.commands.verify import FULL_TIMEOUT, QUICK_TIMEOUT, read_record
from torchenv.models.findings import Target
from torchenv.models.process import RunResult
from torchenv.models.verify import (
    CheckStatus,
    VerifyCheck,
    VerifyPerfTable,
    VerifyReport,
    VerifySummary,
)
from torchenv.report.render_junit import junit_xml

GPU = ("matmul", "conv-cudnn", "bf16-autocast", "memory-alloc")
PERF = ("perf-matmul-bf16", "perf-memory-bandwidth")


def payload(gpu: bool = False, failing: str | None = None) -> dict[str, Any]:
    """A recorded answer of verify_check.py: torch 2.13.0+cpu, or 2.14.1+cu130 on an H100."""
    facts: dict[str, Any] = {
        "python": "3.11.7",
        "torch": "2.13.0+cpu",
        "cuda": None,
        "arch_list": [],
        "cuda_available": False,
        "devices": [],
    }
    ids = ["import-torch", "domain-libraries-agree", "cpu-ops", "torch-compile"]
    perf: list[dict[str, Any]] = []
    if gpu:
        facts.update(torch="2.14.1+cu130", cuda="13.0", arch_list=["sm_90"], cuda_available=True)
        facts["devices"] = [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}]
        perf = [
            {"check": PERF[0], "gpu": 0, "value": 790.0, "unit": "TFLOP/s"},
            {"check": PERF[1], "gpu": 0, "value": 3000.0, "unit": "GB/s"},
        ]
    checks = [
        {"id": i, "status": "fail" if i == failing else "pass", "detail": i, "seconds": 0.1}
        for i in ids
    ]
    if gpu:
        checks += [
            {"id": i, "status": "pass", "detail": i, "seconds": 0.2, "gpu": 0} for i in GPU + PERF
        ]
        checks.append({"id": "nccl-all-reduce", "status": "pass", "detail": "ok", "seconds": 1})
    answer = {"facts": facts, "checks": checks, "perf": perf, "seconds": 2.0}
    if gpu:  # what verify_gpu.allocator_state read after the H100's checks
        answer["allocator"] = [ALLOCATOR_H100]
    return answer


ALLOCATOR_H100 = {
    "gpu": 0,
    "allocated_bytes": 0,
    "reserved_bytes": 2 << 30,
    "peak_allocated_bytes": 20 << 30,
    "peak_reserved_bytes": 20 << 30,
    "inactive_split_bytes": 512 << 20,
    "alloc_retries": 0,
    "ooms": 0,
}


class Recorder:
    """A runner that answers the interpreter probe and the check script, and keeps timeouts."""

    def __init__(self, env: FakeEnv, answer: Any) -> None:
        self.fake = FakeRunner()
        self.fake.on_interpreter(env)
        self.answer = answer
        self.timeouts: list[float] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> RunResult:
        args = list(argv)
        if args[1].endswith("verify_check.py"):
            self.timeouts.append(timeout)
            self.fake.calls.append(args)
            if isinstance(self.answer, RunResult):
                return self.answer
            cookie = args[2]
            out = f"{cookie}\n{json.dumps(self.answer)}\n{cookie}\n"
            return RunResult(tuple(args), 0, "\n" + out, "", 2.5)
        return self.fake(argv, timeout=timeout, env=env, cwd=cwd)


@pytest.fixture
def env(tmp_path: Path) -> FakeEnv:
    venv = make_venv(tmp_path)
    add_torch(venv.site, "2.13.0+cpu", cuda=None, arch=None, installer="uv")
    return venv


def use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: FakeEnv, answer: Any, gpu: bool = False
) -> Recorder:
    runner = Recorder(env, answer)
    ctx, host = probe_context(tmp_path, runner.fake)
    ctx.runner = runner
    if gpu:
        host.device_nodes("nvidia0")
    monkeypatch.setattr(common, "context", lambda: ctx)
    return runner


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_and_exit_0(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    runner = use(tmp_path, monkeypatch, env, payload())
    code, out, err = run(capsys, "--prefix", str(env.prefix), "--json")
    doc = json.loads(out)
    assert code == 0 and list(doc)[:2] == ["schema", "target"]
    assert doc["schema"] == "torchenv.verify/1" and doc["target"]["selected_by"] == "--prefix"
    checks = {(c["id"], c["gpu"]): c for c in doc["checks"]}
    assert set(checks["import-torch", None]) == {"id", "status", "detail", "seconds", "gpu"}
    assert checks["versions-match-lock", None]["status"] == "skip"
    assert checks["matmul", None] == {
        "id": "matmul",
        "status": "skip",
        "detail": "no NVIDIA GPU",
        "seconds": 0.0,
        "gpu": None,
    }
    assert doc["summary"]["failed"] == 0 and doc["summary"]["passed"] == 4
    assert doc["perf"] == {"entries": []} and doc["torch"] == "2.13.0+cpu"
    assert err == "" and runner.timeouts == [FULL_TIMEOUT]  # --json: no progress lines


def test_a_failing_check_exits_1(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    use(tmp_path, monkeypatch, env, payload(failing="cpu-ops"))
    code, out, _ = run(capsys, "--prefix", str(env.prefix))
    assert code == 1 and "FAIL" in out and "1 failed" in out


def test_text_report_with_gpu_and_peaks(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    use(tmp_path, monkeypatch, env, payload(gpu=True), gpu=True)
    code, out, _ = run(capsys, "--prefix", str(env.prefix))
    assert code == 0, out
    assert "PASS  matmul [cuda:0]" in out and "SKIP  versions-match-lock" in out
    assert "bf16 matmul 790 TFLOP/s = 80% of peak" in out
    assert "memory bandwidth 3000 GB/s = 90% of peak" in out
    assert "Memory allocator" in out
    assert (
        "cuda:0: 2.0 GiB reserved (peak 20.0 GiB), 0 B allocated (peak 20.0 GiB), fragmentation 25%"
    ) in out
    assert out.rstrip().splitlines()[-1].startswith("OK ") and "\x1b[" not in out
    code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json")
    state = json.loads(out)["allocator"]
    assert code == 0 and state == [{**ALLOCATOR_H100, "fragmentation": 0.25, "error": None}]


def test_quick_and_timeout_reach_the_script(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    runner = use(tmp_path, monkeypatch, env, payload())
    assert run(capsys, "--prefix", str(env.prefix), "--quick", "--json")[0] == 0
    assert run(capsys, "--prefix", str(env.prefix), "--timeout", "7")[0] == 0
    script_calls = [c for c in runner.fake.calls if c[1].endswith("verify_check.py")]
    assert [json.loads(c[3])["quick"] for c in script_calls] == [True, False]
    assert runner.timeouts == [QUICK_TIMEOUT, 7.0]


def test_cpu_build_on_a_gpu_host_fails(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    use(tmp_path, monkeypatch, env, payload(), gpu=True)
    code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json")
    checks = {c["id"]: c for c in json.loads(out)["checks"]}
    assert code == 1 and checks["cuda-available"]["status"] == "fail"
    assert checks["matmul"]["detail"] == "CPU build of torch"


def test_lock_record_in_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    env = make_venv(tmp_path)
    # wheels from download.pytorch.org carry the local label in their METADATA Version
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, dist_version="2.13.0+cpu")
    use(tmp_path, monkeypatch, env, payload())

    def lock_check(packages: dict[str, str]) -> tuple[int, dict[str, Any]]:
        record = {"lock": {"packages": packages}, "plan": {"variant": "cpu"}}
        (env.prefix / "torchenv-env.json").write_text(json.dumps(record))
        code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json")
        checks = json.loads(out)["checks"]
        return code, next(c for c in checks if c["id"] == "versions-match-lock")

    code, lock = lock_check({"torch": "2.13.0+cpu"})
    assert code == 0 and lock["status"] == "pass", lock
    code, lock = lock_check({"torch": "2.12.0+cpu", "numpy": "2.1.0"})
    assert code == 1 and lock["status"] == "fail"
    assert "torch is 2.13.0+cpu, the lock has 2.12.0+cpu" in lock["detail"]
    assert "numpy 2.1.0 is missing" in lock["detail"]
    assert "import torch loads 2.13.0+cpu" in lock["detail"]


def test_plan_expecting_cuda_fails_a_cpu_build(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    use(tmp_path, monkeypatch, env, payload())
    record = {"lock": {"packages": {}}, "plan": {"cuda": "13.0", "variant": "cu130"}}
    (env.prefix / "torchenv-env.json").write_text(json.dumps(record))
    code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json")
    cuda = next(c for c in json.loads(out)["checks"] if c["id"] == "cuda-available")
    assert code == 1 and cuda["status"] == "fail" and "plan expects CUDA 13.0" in cuda["detail"]


def test_torchvision_pin_is_checked_from_outside(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    add_torchvision(env.site, "0.29.1+cpu", requires_torch="==2.14.1")
    use(tmp_path, monkeypatch, env, payload())
    code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json")
    domain = next(c for c in json.loads(out)["checks"] if c["id"] == "domain-libraries-agree")
    assert code == 1 and domain["status"] == "fail"
    assert "torchvision 0.29.1+cpu requires torch==2.14.1" in domain["detail"]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (RunResult((), 0, "hello, no cookies here\n", "Warning: numpy\n", 1.0), "without a result"),
        (
            RunResult(
                (), None, "", "torchenv-verify: running torch-compile", 9, "timed out after 9s"
            ),
            "it was running torch-compile",
        ),
        (RunResult((), -6, "", "free(): invalid pointer\nAborted", 1.0), "Aborted"),
    ],
    ids=["garbage", "timeout", "abort"],
)
def test_script_failures_exit_4_without_traceback(
    tmp_path: Path,
    env: FakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    answer: RunResult,
    words: str,
) -> None:
    use(tmp_path, monkeypatch, env, answer)
    code, out, err = run(capsys, "--prefix", str(env.prefix))
    assert code == 4 and out == ""
    assert f"{env.prefix}/bin/python" in err and words in err and "Traceback" not in err
    assert "hint:" in err


def test_an_interpreter_that_does_not_run_exits_4(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    runner = FakeRunner()  # the interpreter probe is not answered: the python does not run
    ctx, _ = probe_context(tmp_path, runner)
    monkeypatch.setattr(common, "context", lambda: ctx)
    code, _, err = run(capsys, "--prefix", str(env.prefix))
    assert code == 4 and "has no interpreter that runs" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys: Any) -> None:
    assert run(capsys, "--python", "/x", "--prefix", "/y")[0] == 2
    assert run(capsys, "--prefix", "/does/not/exist")[0] == 2
    assert run(capsys, "--timeout", "0")[0] == 2
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--quick" in out and "--timeout" in out


# --------------------------------------------------------------------------- is there a GPU?
H100_LINE = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-8c35f4c9-4dff-c9a2-866f-afb5d82e1dd7)\n"


def cuda_check(capsys: Any, env: FakeEnv) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json")
    return code, next(c for c in json.loads(out)["checks"] if c["id"] == "cuda-available")


@pytest.mark.parametrize(
    ("stdout", "returncode", "words"),
    [
        ("", 9, "nvidia-smi on PATH did not run: exit code 9"),
        ("", 0, "nvidia-smi -L lists no GPU"),
    ],
    ids=["exits-9", "lists-nothing"],
)
def test_cpu_build_with_a_broken_nvidia_smi_is_skipped(
    tmp_path: Path,
    env: FakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    stdout: str,
    returncode: int,
    words: str,
) -> None:
    runner = use(tmp_path, monkeypatch, env, payload())
    fake_tool(tmp_path, "nvidia-smi")
    runner.fake.on_program("nvidia-smi", stdout, returncode)
    code, cuda = cuda_check(capsys, env)
    assert code == 0 and cuda["status"] == "skip"
    assert (
        cuda["detail"].startswith("CPU build of torch and no NVIDIA GPU (")
        and words in (cuda["detail"])
    )
    assert [c[1:] for c in runner.fake.calls if c[0].endswith("nvidia-smi")] == [["-L"]]


def test_cpu_build_with_nvidia_smi_listing_a_gpu_fails(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    runner = use(tmp_path, monkeypatch, env, payload())
    fake_tool(tmp_path, "nvidia-smi")
    runner.fake.on_program("nvidia-smi", H100_LINE)
    code, cuda = cuda_check(capsys, env)
    assert code == 1 and cuda["status"] == "fail" and "cannot use the GPU" in cuda["detail"]


def test_a_device_node_needs_no_nvidia_smi(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    runner = use(tmp_path, monkeypatch, env, payload(), gpu=True)
    fake_tool(tmp_path, "nvidia-smi")
    code, cuda = cuda_check(capsys, env)
    assert code == 1 and cuda["status"] == "fail"
    assert not [c for c in runner.fake.calls if c[0].endswith("nvidia-smi")]


def test_a_cpu_plan_skips_cuda_on_a_gpu_host(
    tmp_path: Path, env: FakeEnv, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    runner = use(tmp_path, monkeypatch, env, payload())
    fake_tool(tmp_path, "nvidia-smi")
    runner.fake.on_program("nvidia-smi", H100_LINE)
    record = {"lock": {"packages": {}}, "plan": {"variant": "cpu"}}
    (env.prefix / "torchenv-env.json").write_text(json.dumps(record))
    _, cuda = cuda_check(capsys, env)
    assert cuda["status"] == "skip" and "as the plan chose" in cuda["detail"]


# --------------------------------------------------------------------------- hostile record
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge-sparse", "nested"])
def test_an_env_record_that_cannot_be_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "torchenv-env.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge-sparse":
        path.write_bytes(b"")
        os.truncate(path, 16 << 30)
    else:
        path.write_text("[" * 100_000 + "]" * 100_000)
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(record=read_record(tmp_path)), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "reading the record hung"
    record = box["record"]
    assert record is not None and record.error
    assert record.error.startswith("is not JSON" if kind == "nested" else "cannot be read: it is")


# --- verify --junit FILE ----------------------------------------------------------------------


def cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()  # noqa: S314  (our own output)
    assert root.tag == "testsuites"
    return {c.get("name", ""): c for c in root.iter("testcase")}


def test_a_gpu_run_with_a_failure(
    tmp_path: Path,
    env: FakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    use(tmp_path, monkeypatch, env, payload(gpu=True, failing="cpu-ops"), gpu=True)
    report = tmp_path / "out" / "verify.xml"
    report.parent.mkdir()
    code, _, err = run(capsys, "--prefix", str(env.prefix), "--junit", str(report))
    assert code == 1, err
    found = cases(report)
    assert found["cpu-ops"].find("failure") is not None
    assert found["cpu-ops"].find("failure").get("message") == "cpu-ops"  # type: ignore[union-attr]
    assert "matmul[gpu0]" in found and found["matmul[gpu0]"].find("failure") is None
    assert found["versions-match-lock"].find("skipped") is not None
    suite = ET.parse(report).getroot().find("testsuite")  # noqa: S314
    assert suite is not None and suite.get("failures") == "1"
    assert int(suite.get("tests", "0")) == len(found)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["torch"] == "2.14.1+cu130" and props["cuda"] == "13.0"
    out = suite.find("system-out")
    assert out is not None and "perf-matmul-bf16 gpu0" in (out.text or "")
    assert "allocator gpu0: 2.0 GiB reserved" in (out.text or "")


def test_junit_beside_json_and_never_over_a_non_file(
    tmp_path: Path,
    env: FakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    use(tmp_path, monkeypatch, env, payload())
    target = tmp_path / "verify.xml"
    code, out, _ = run(capsys, "--prefix", str(env.prefix), "--json", "--junit", str(target))
    assert code == 0 and out.startswith("{") and cases(target)["import-torch"] is not None
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "--prefix", str(env.prefix), "--junit", str(fifo))
    assert code == 2 and "left as it is" in err and "Traceback" not in err


def test_hostile_details_stay_well_formed_xml() -> None:
    nasty = "a\x00b\x1b[31m]]></failure><x/>\ud800 & <script>\u2028"
    report = VerifyReport(
        "torchenv.verify/1",
        Target("/env\x07", "venv", "--prefix", None),
        (
            VerifyCheck("x\x01y", CheckStatus.FAIL, nasty, 0.1),
            VerifyCheck("skipped", CheckStatus.SKIP, "", 0.0, gpu=3),
        ),
        VerifyPerfTable(),
        VerifySummary(0, 1, 1, 0.5),
        torch=nasty,
    )
    root = ET.fromstring(junit_xml(report))  # noqa: S314
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "<script>" in (failure.text or "")  # text, not markup
    assert "\x00" not in (failure.text or "") and root.find("testsuite/testcase/x") is None
    assert [c.get("name") for c in root.iter("testcase")] == ["x\ufffdy", "skipped[gpu3]"]


def test_junit_when_verify_cannot_run(tmp_path: Path, capsys: Any) -> None:
    """No environment to check (exit 2): the report still appears, with the error as its one
    case, so a CI job that publishes it says why."""
    report = tmp_path / "verify.xml"
    missing = tmp_path / "no-such-env\x1b]"
    code, _, err = run(capsys, "--prefix", str(missing), "--junit", str(report))
    assert code == 2 and "Traceback" not in err
    found = cases(report)
    assert list(found) == ["verify"]
    error = found["verify"].find("error")
    assert error is not None and error.get("type")
    assert "no-such-env" in (error.text or "") and "\x1b" not in (error.text or "")
    suite = ET.parse(report).getroot().find("testsuite")  # noqa: S314
    assert suite is not None and suite.get("errors") == "1" and suite.get("tests") == "1"


def test_junit_error_report_unwritable_is_a_warning_not_a_traceback(
    tmp_path: Path, capsys: Any
) -> None:
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "--prefix", str(tmp_path / "missing"), "--junit", str(fifo))
    assert code == 2 and "warning: Cannot write the JUnit report" in err
    assert "Traceback" not in err and fifo.is_fifo()
