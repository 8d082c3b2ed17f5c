"""``[index] pytorch = false`` / ``--no-pytorch-index``: a team that reaches a PyPI mirror only
gets each release's PyPI build, pinned without a local label (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchenv import cli
from torchenv.backends.installers import Sources
from torchenv.backends.lockrecord import CHANNELS
from torchenv.commands.lock import cuda_of_lock, requirements, spec_plan
from torchenv.errors import UsageError
from torchenv.models.plan import Stack
from torchenv.models.spec import PYTORCH_INDEX
from torchenv.plan.request import parse_options
from torchenv.spec import load_spec, spec_hash
from torchenv.spec.parse import parse_spec_text
from torchenv.spec.write import render_spec

SPEC = """name = "mirror"
python = "3.11"
torch = "2.13"
libraries = ["torchvision", "torchaudio"]
[targets]
gpus = ["H100"]
driver = "580.65.06"
[index]
pypi = "https://mirrors.example.cn/pypi/simple"
pytorch = false
"""


def write(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "torchenv.toml"
    path.write_text(text)
    return path


def test_the_spec_says_pytorch_false_and_writes_it_back(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path), tmp_path)
    assert spec.index.pytorch is None and spec.index.pypi.startswith("https://mirrors.")
    again = parse_spec_text(render_spec(spec), tmp_path / "again.toml")
    assert again.index.pytorch is None and "pytorch = false" in render_spec(spec)
    assert spec_hash(again) == spec_hash(spec)
    with_index = load_spec(
        write(tmp_path, SPEC.replace("pytorch = false", "pytorch = true")), tmp_path
    )
    assert with_index.index.pytorch == PYTORCH_INDEX
    assert spec_hash(with_index) != spec_hash(spec)  # another lock: another source of torch


def test_a_wrong_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        load_spec(write(tmp_path, SPEC.replace("pytorch = false", "pytorch = 3")), tmp_path)
    assert "index.pytorch" in str(caught.value) and "or false" in str(caught.value)


def test_the_plan_takes_pypis_build_and_the_lock_pins_it_unlabeled(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path), tmp_path)
    plan = spec_plan(None, spec, tmp_path)
    stack = plan.stack
    assert stack is not None and (stack.torch, stack.variant, stack.channel) == (
        "2.13.0",
        "cu130",
        "pypi",
    )
    assert stack.archs[-1] == "sm_120" and stack.pins["cudnn"]  # read from the PyPI wheel (S3)
    assert requirements(spec, stack, ["linux_x86_64"]) == [
        "torch==2.13.0",
        "torchvision==0.28.0",
        "torchaudio==2.11.1",
    ]
    sources = Sources.for_variant(spec.index, stack.variant, macos=False)
    assert sources.pytorch is None and sources.urls == (spec.index.pypi,)
    assert "pypi" in CHANNELS  # the lock's record accepts the channel


def test_a_gpu_pypis_build_cannot_run_walks_back_and_names_the_index_that_would(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["plan", "--gpu", "GTX 1080", "--driver", "580.65.06", "--no-pytorch-index", "--json"]
    code = cli.main(args)
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["stack"]["channel"] == "pypi"
    # the newest PyPI build with sm_6x code is 2.7's cu126 default
    assert (doc["stack"]["torch"], doc["stack"]["variant"]) == ("2.7.1", "cu126")
    rejected = {r["candidate"]: r["reasons"] for r in doc["rejected"]}
    assert "no kernels for" in " ".join(rejected["2.13.0 from PyPI (cu130)"])
    note = next(n for n in doc["notes"] if n.startswith("with the PyTorch index"))
    assert "2.15.0+cu126" in note and "download.pytorch.org/whl/cu126" in note
    recipe = doc["install"]["uv"]["commands"][1]
    assert "torch==2.7.1 " in recipe + " " and "--index-url" not in recipe


def test_nothing_on_pypi_fits_says_what_the_pytorch_index_has(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Windows: PyPI's wheels are CPU builds; the PyTorch index has CUDA ones
    args = ["plan", "--gpu", "H100", "--driver", "580.65.06", "--platform", "win_amd64"]
    code = cli.main([*args, "--no-pytorch-index", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3 and doc["stack"] is None
    assert any(n.startswith("no PyPI build fits; with the PyTorch index") for n in doc["notes"])


def test_conda_and_pypi_only_do_not_mix() -> None:
    with pytest.raises(UsageError):
        parse_options(installer="conda", pytorch_index=False)


def test_init_writes_pytorch_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["init", "--gpu", "H100", "--driver", "580.65.06", "--python", "3.11"]
    assert cli.main([*args, "--no-pytorch-index"]) == 0
    text = (tmp_path / "torchenv.toml").read_text()
    assert "pytorch = false" in text and "--no-pytorch-index" in text
    assert load_spec(None, tmp_path).index.pytorch is None


def stack(cuda: str | None) -> Stack:
    variant = f"cu{cuda.replace('.', '')}" if cuda else "cpu"
    return Stack("2.13.0", variant, cuda, "3.11", None, None, "pypi")


def test_the_locks_cuda_comes_from_the_runtime_wheel() -> None:
    assert "CUDA 13.0 from PyPI's nvidia-* wheels (runtime 13.0.96)" in cuda_of_lock(
        stack("13.0"), {"torch": "2.13.0", "nvidia-cuda-runtime": "13.0.96"}
    )
    stale = cuda_of_lock(stack("13.0"), {"nvidia-cuda-runtime-cu12": "12.8.90"})
    assert "not the planned 13.0" in stale and "db update" in stale
    assert "not a CUDA build" in cuda_of_lock(stack("13.0"), {"torch": "2.13.0"})


def test_a_machine_without_gpu_gets_pypis_cuda_build_to_run_on_the_cpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a CI runner behind a PyPI mirror: PyPI's only Linux x86_64 build is a CUDA build
    code = cli.main(["plan", "--platform", "linux_x86_64", "--no-pytorch-index", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and (doc["stack"]["torch"], doc["stack"]["channel"]) == ("2.15.0", "pypi")
    assert "runs on the CPU only" in " ".join(doc["fits"][0]["caveats"])
    code = cli.main(["plan", "--platform", "linux_x86_64", "--no-pytorch-index", "--cuda", "cpu"])
    capsys.readouterr()
    assert code == 3  # asked for a CPU build: PyPI has none for Linux x86_64


def test_a_conda_spec_cannot_say_pytorch_false(tmp_path: Path) -> None:
    text = SPEC.replace('libraries = ["torchvision", "torchaudio"]', 'installer = "conda"')
    with pytest.raises(UsageError) as caught:
        load_spec(write(tmp_path, text), tmp_path)
    assert "index.pytorch" in str(caught.value) and "conda-forge" in str(caught.value)
