"""`torchenv plan` end to end on the packaged knowledge base: the scenarios of issue 3, the JSON
contract, exit codes, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builders import FakeRunner, probe_context
from torchenv import cli
from torchenv.cli import common

MACHINES = Path(__file__).parents[2] / "fixtures" / "machines"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "plan", "--json", *args)
    assert out, err
    return code, json.loads(out)


def rejected(doc: dict[str, Any]) -> str:
    return "\n".join(f"{r['candidate']}: {'; '.join(r['reasons'])}" for r in doc["rejected"])


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(capsys, "--gpu", "H100", "--driver", "580.65.06", "--python", "3.12")
    assert code == 0
    assert next(iter(doc)) == "schema" and doc["schema"] == "torchenv.plan/1"
    stack = doc["stack"]
    assert {"torch", "variant", "cuda", "python", "torchvision", "torchaudio"} <= set(stack)
    assert (stack["torch"], stack["variant"], stack["python"]) == ("2.15.0", "cu132", "3.12")
    assert set(doc["install"]) == {"uv", "pip", "conda", "pixi"}
    assert "torch==2.15.0+cu132" in doc["install"]["pip"]["commands"][1]
    assert doc["rejected"] == []


def test_blackwell_consumer_gpu_with_a_570_driver(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(capsys, "--gpu", "RTX 5090", "--driver", "570.133.07")
    assert code == 0
    # CUDA 13 needs R580; 2.13's cu129 variant (S3c: its PYTORCH_RELEASES_CODE_CC) has sm_120
    # cubins and runs on R570 through minor-version compatibility
    assert (doc["stack"]["torch"], doc["stack"]["variant"]) == ("2.13.0", "cu129")
    assert "minor-version compatibility" in " ".join(doc["fits"][0]["caveats"])
    text = rejected(doc)
    assert "2.15.0+cu132: command line: driver 570.133.07 is older than 580.65.06" in text
    assert "2.14.1+cu126: command line: no kernels for" in text and "(12.0)" in text


def test_pascal_gpu_with_a_recent_torch_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(capsys, "--gpu", "GTX 1080", "--driver", "580.65.06", "--torch", ">=2.13")
    assert code == 0
    # 2.15's cu126 variant keeps sm_60 (PYTORCH_RELEASES_CODE_CC of the 2.15.0 wheel, S3c)
    assert (doc["stack"]["torch"], doc["stack"]["variant"]) == ("2.15.0", "cu126")
    assert "2.15.0+cu132: command line: no kernels for" in rejected(doc)
    code, doc = plan_json(capsys, "--gpu", "GTX 1080", "--driver", "580.65.06", "--torch", "2.15")
    assert code == 0 and doc["stack"]["variant"] == "cu126"
    code, doc = plan_json(
        capsys, "--gpu", "GTX 1080", "--driver", "580.65.06", "--torch", "2.15", "--cuda", "13.2"
    )
    assert code == 3 and doc["stack"] is None


def test_driver_too_old_for_any_supported_build(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--gpu", "H100", "--driver", "418.67")
    assert code == 3
    assert "No PyTorch build fits" in out
    assert "driver 418.67 is older than 450.80.02" in out


def test_python_version_without_wheels(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(
        capsys, "--gpu", "H100", "--driver", "580.65.06", "--python", "3.7", "--torch", ">=2.0"
    )
    assert code == 3
    assert "no wheels for Python 3.7" in rejected(doc)


def test_mixed_fleet_of_two_gpu_generations(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(
        capsys,
        "--for",
        str(MACHINES / "h100-node.json"),
        "--for",
        str(MACHINES / "pascal-node.json"),
    )
    assert code == 0
    # the 1080 Ti (6.1, named only) needs sm_60 cubins: the cu126 variant is the newest with them
    assert (doc["stack"]["torch"], doc["stack"]["variant"]) == ("2.14.1", "cu126")
    fits = {f["target"]: f for f in doc["fits"]}
    assert "NVIDIA GeForce GTX 1080 Ti (6.1): native" in fits["pascal-node.json"]["gpus"]
    assert any("minor-version compatibility" in c for c in fits["pascal-node.json"]["caveats"])


def test_cpu_only_machine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx, _ = probe_context(tmp_path, FakeRunner())
    monkeypatch.setattr(common, "context", lambda: ctx)
    code, doc = plan_json(capsys, "--python", "3.11")
    assert code == 0
    assert doc["stack"]["variant"] == "cpu" and doc["stack"]["cuda"] is None
    assert doc["targets"][0]["name"] == "this machine" and doc["targets"][0]["gpus"] == []
    assert "torch==2.15.0+cpu" in doc["install"]["uv"]["commands"][1]


def test_text_output_shows_stack_install_and_rejections(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--gpu", "sm_61", "--driver", "580.65.06")
    assert code == 0
    for piece in (
        "Stack",
        "torch        2.15.0+cu126",
        "Install with uv",
        "Not chosen",
        # torchaudio 2.11.1 is on PyPI: the variant's index is the extra one, tried first
        "--extra-index-url https://download.pytorch.org/whl/cu126",
        "--index-strategy unsafe-first-match",
        "knowledge: packaged",
    ):
        assert piece in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpu", "Voodoo 5"], 'GPU name (e.g. "H100"'),
        (["--gpu", "99.1"], "99.1"),
        (["--torch", "newest"], "PEP 440"),
        (["--cuda", "12"], "CUDA"),
        (["--python", "2.7"], "Python version"),
        (["--driver", "new"], "driver version"),
        (["--for", "/nonexistent/machine.json"], "Cannot read"),
    ],
)
def test_bad_input_is_exit_2_with_what_was_expected(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "plan", *args)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert out == ""


def test_machine_file_that_is_not_inspect_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doctor = tmp_path / "doctor.json"
    doctor.write_text('{"schema": "torchenv.doctor/1", "findings": []}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "torchenv.inspect/1", "machine": {"host": 3}}')
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff\xfe not json")
    for path, message in (
        (doctor, "not an inspect document"),
        (broken, "malformed"),
        (garbage, "not JSON"),
    ):
        code, _, err = run(capsys, "plan", "--for", str(path))
        assert code == 2 and message in err and "torchenv inspect --json" in err, err


def test_for_and_gpu_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "--for", str(MACHINES / "h100-node.json"), "--gpu", "A100")
    assert code == 2 and "one or the other" in err


def test_windows_uses_the_x86_64_lists_without_ptx(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(capsys, "--gpu", "H100", "--driver", "581.15", "--platform", "win_amd64")
    assert code == 0
    assert doc["fits"][0]["gpus"] == ["H100 (PCIe/SXM/NVL) (9.0): native"]
    assert not any(a.startswith("compute_") for a in doc["stack"]["archs"])


def test_conda_installer_plans_a_conda_forge_build(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(capsys, "--gpu", "H100", "--driver", "580.65.06", "--installer", "conda")
    assert code == 0
    assert doc["stack"]["channel"] == "conda-forge" and list(doc["install"]) == ["conda"]
    command = doc["install"]["conda"]["commands"][0]
    assert "-c conda-forge" in command and "-c pytorch" not in command
    assert f"'pytorch={doc['stack']['torch']}=cuda" in command


def test_python_is_chosen_where_torchvision_has_wheels_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # torch 2.5.1 has cp313 wheels but torchvision 0.20.1 and torchaudio 2.5.1 stop at cp312
    code, doc = plan_json(capsys, "--gpu", "A100", "--driver", "580.65.06", "--torch", "2.5")
    assert code == 0 and doc["stack"]["python"] == "3.12"
    assert doc["stack"]["torchvision"] == "0.20.1"
    code, doc = plan_json(
        capsys, "--gpu", "A100", "--driver", "580.65.06", "--torch", "2.5", "--python", "3.13"
    )
    assert code == 0 and doc["stack"]["torchvision"] is None
    assert "torchvision==" not in doc["install"]["pip"]["commands"][1]


def test_jetson_thor_gets_a_cuda_13_aarch64_build(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = plan_json(
        capsys,
        "--gpu",
        "Thor",
        "--driver",
        "580.95.05",
        "--platform",
        "linux_aarch64",
        "--python",
        "3.12",
    )
    assert code == 0, rejected(doc)
    assert doc["stack"]["variant"] in ("cu130", "cu132")
    assert doc["fits"][0]["gpus"][0].endswith("(11.0): native")


def test_machine_file_with_nonsense_values_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = json.loads((MACHINES / "h100-node.json").read_text())
    doc["machine"]["driver"]["version"] = "bogus"
    doc["machine"]["gpus"][0]["compute_capability"] = "abc"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(capsys, "plan", "--for", str(bad))
    assert code == 2
    assert '"bogus" is not an NVIDIA driver version' in err and '"abc" is not of the form' in err
