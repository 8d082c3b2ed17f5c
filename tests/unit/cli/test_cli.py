"""The CLI: JSON contracts, exit codes, and no tracebacks for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import FakeRunner, add_torch, h100, make_venv, probe_context
from torchenv import cli
from torchenv.cli import common
from torchenv.models import Machine, from_data
from torchenv.probe.nvml import NvmlReading


@pytest.fixture
def fake_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CPU-build environment on a fake host with two H100s and driver 580."""
    env = make_venv(tmp_path)
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, installer="uv")
    runner = FakeRunner()
    runner.on_interpreter(env)
    reading = NvmlReading("580.159.03", 13000, (h100(0), h100(1)))
    ctx, _ = probe_context(tmp_path, runner, nvml=reading)
    monkeypatch.setattr(common, "context", lambda: ctx)
    return env.prefix


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_json_contract(fake_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", "--json", "--prefix", str(fake_host))
    assert code == 0
    doc = json.loads(out)
    assert list(doc)[:2] == ["schema", "target"] and doc["schema"] == "torchenv.inspect/1"
    assert doc["target"]["selected_by"] == "--prefix"
    assert doc["environment"]["torch"]["version"] == "2.13.0+cpu"
    assert doc["environment"]["torch"]["cuda"] is None
    assert [g["compute_capability"] for g in doc["machine"]["gpus"]] == ["9.0", "9.0"]
    assert from_data(Machine, doc["machine"]).driver.version == "580.159.03"


def test_doctor_json_and_exit_code(fake_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--json", "--prefix", str(fake_host))
    doc = json.loads(out)
    assert code == 1 and next(iter(doc)) == "schema" and doc["schema"] == "torchenv.doctor/1"
    assert doc["findings"][0]["id"] == "cpu-build-on-gpu-host"
    assert doc["outlook"]["cuda_expected"] is False
    assert doc["summary"]["failed"] is True


def test_doctor_text(fake_host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--prefix", str(fake_host))
    assert code == 1
    assert "cpu-build-on-gpu-host" in out and "FAIL" in out and "\x1b[" not in out


def test_fail_on_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None)
    runner = FakeRunner()
    runner.on_interpreter(env, has_python_h=False)
    ctx, _ = probe_context(tmp_path, runner)
    (tmp_path / "bin/cc").write_text("")
    (tmp_path / "bin/cc").chmod(0o755)
    (tmp_path / "bin/c++").write_text("")
    (tmp_path / "bin/c++").chmod(0o755)
    monkeypatch.setattr(common, "context", lambda: ctx)
    assert run(capsys, "doctor", "--prefix", str(env.prefix))[0] == 0
    assert run(capsys, "doctor", "--prefix", str(env.prefix), "--fail-on", "warning")[0] == 1


def test_bad_prefix_is_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "doctor", "--prefix", "/does/not/exist")
    assert code == 2 and out == ""
    assert "The prefix /does/not/exist does not exist" in err and "hint:" in err
    assert "Traceback" not in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "doctor", "--fail-on", "sometimes")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "--version")[0] == 0


def test_internal_errors_hide_the_traceback_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(common, "context", boom)
    code, _, err = run(capsys, "inspect")
    assert code == 70 and "internal error: RuntimeError: kaboom" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "inspect"])


def test_list_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--list-rules")
    line = next(row for row in out.splitlines() if "driver-too-old-for-build" in row)
    assert code == 0 and line.split()[1:3] == ["error", "A3"]
    code, out, _ = run(capsys, "doctor", "--list-rules", "--json")
    doc = json.loads(out)
    assert doc["schema"] == "torchenv.doctor-rules/1" and len(doc["rules"]) >= 20


def test_explain_prints_the_rules_entry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--explain", "driver-too-old-for-build")
    assert code == 0 and out.startswith("driver-too-old-for-build  error")
    sections = ["What it means", "How torchenv detects it", "How to fix it", "Sources"]
    assert [line for line in out.splitlines() if line in sections] == sections
    assert "  uv:" in out and "  conda:" in out and "failure-catalog.md §4 A3" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--explain", "driver-to-old"], "did you mean driver-too-old-for-build?"),
        (["--explain", "\x1b]0;x\x07"], "no rule"),
        (["--explain", "A3", "--json"], "--explain prints text"),
    ],
)
def test_explain_of_an_unknown_rule_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, out, err = run(capsys, "doctor", *args)
    assert code == 2 and out == "" and words in err and "\x07" not in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--help")
    assert code == 0 and "--deep" in out and "--fail-on" in out


def test_text_output_keeps_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fix commands contain [brackets] (capabilities [gpu], cuda-toolkit[cudart]) that rich
    markup would eat."""
    env = make_venv(tmp_path)
    add_torch(env.site)
    runner = FakeRunner()
    runner.on_interpreter(env)
    ctx, host = probe_context(tmp_path, runner)
    host.write("/.dockerenv", "")
    monkeypatch.setattr(common, "context", lambda: ctx)
    _, out, _ = run(capsys, "doctor", "--prefix", str(env.prefix))
    assert "capabilities [gpu]" in out
    assert "cuda-toolkit[cublas," in out  # the unmet requirement, shown verbatim


def test_bad_timeouts_are_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TORCHENV_TOOL_TIMEOUT", "inf")
    code, _, err = run(capsys, "inspect")
    assert code == 2 and "TORCHENV_TOOL_TIMEOUT='inf'" in err
    monkeypatch.delenv("TORCHENV_TOOL_TIMEOUT")
    assert run(capsys, "doctor", "--deep", "--deep-timeout", "0")[0] == 2


def test_a_corrupt_updated_knowledge_file_is_named_once_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from torchenv.knowledge.store import load_knowledge, take_unusable_user_data

    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path))
    (tmp_path / "torch.json").write_text('{"schema": "torchenv.knowledge.torch/1", "rel')
    load_knowledge.cache_clear()
    take_unusable_user_data()
    try:
        code = cli.main(["plan", "--gpu", "H100", "--driver", "580.65", "--json"])
        out, err = capsys.readouterr()
        assert code == 0 and json.loads(out)["schema"] == "torchenv.plan/1"  # JSON unchanged
        assert err.count("warning: the updated knowledge file") == 1
        assert f"{tmp_path / 'torch.json'} was not used (it is not valid JSON)" in err
        assert "hint: run `torchenv db update` to write it again, or delete it" in err
    finally:
        load_knowledge.cache_clear()


def test_the_knowledge_warning_neither_outlives_a_closed_stderr_nor_an_interrupt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def closed(text: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_main", lambda argv: 0)
    monkeypatch.setattr(
        "torchenv.commands.knowledge_warnings", lambda: [("/data/torch.json", "not JSON")]
    )
    monkeypatch.setattr(common, "error_line", closed)
    assert cli.main(["plan"]) == 0  # the command's own code, not a crash
    shown: list[str] = []
    monkeypatch.setattr(common, "error_line", shown.append)
    monkeypatch.setattr(cli, "_main", lambda argv: 130)
    assert cli.main(["plan"]) == 130 and shown == []
