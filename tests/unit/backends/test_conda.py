"""The conda backend's pure parts: match specs, virtual packages, the lock's sidecar, the Python
distributions of installed conda packages, and what happens without py-rattler."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from torchenv.backends import conda
from torchenv.backends.conda_rattler import _run, _sync
from torchenv.backends.tools import BackendError
from torchenv.errors import ExitCode, UsageError
from torchenv.models.plan import Stack

CUDA = Stack("2.13.0", "cu130", "13.0", "3.11", "0.28.0", None, "conda-forge")
CPU = Stack("2.13.0", "cpu", None, "3.12", "0.28.0", None, "conda-forge")


def test_match_specs_of_a_cuda_stack() -> None:
    assert conda.match_specs(CUDA, ["torchvision"], ["numpy<3", "Pillow>=10,!=10.1"]) == [
        "python 3.11.*",
        "pytorch ==2.13.0 cuda130*",
        "cuda-version 13.0.*",
        "torchvision",
        "numpy <3",
        "pillow !=10.1,>=10",
    ]


def test_match_specs_of_a_cpu_stack_have_no_cuda_version() -> None:
    assert conda.match_specs(CPU, [], ["six"]) == ["python 3.12.*", "pytorch ==2.13.0 cpu*", "six"]
    threaded = Stack("2.13.0", "cpu", None, "3.14t", None, None, "conda-forge")
    assert conda.match_specs(threaded, [], [])[0] == "python 3.14.*"


def test_match_specs_refuse_what_conda_cannot_say() -> None:
    with pytest.raises(UsageError, match="no torchaudio release is paired"):
        conda.match_specs(CUDA, ["torchaudio"], [])
    for requirement in ("numpy<3; sys_platform == 'linux'", "requests[socks]"):
        with pytest.raises(UsageError) as caught:
            conda.match_specs(CUDA, [], [requirement])
        assert caught.value.reference == "conda-package-spec"


def test_rattler_parses_the_match_specs() -> None:
    rattler = pytest.importorskip("rattler")
    for spec in conda.match_specs(CUDA, ["torchvision"], ["numpy<3"]):
        # strict: how rattler.solve parses strings
        assert str(rattler.MatchSpec(spec, strict=True)) == spec


def test_virtual_packages_take_cuda_from_the_plan() -> None:
    assert conda.virtual_packages("linux_x86_64", "13.0") == (
        "__unix=0=0",
        "__linux=4.18=0",
        "__glibc=2.28=0",
        "__archspec=1=x86_64",
        "__cuda=13.0=0",
    )
    # a CPU plan assumes no GPU, whatever this machine has
    assert not any(v.startswith("__cuda") for v in conda.virtual_packages("linux_x86_64", None))
    aarch64 = conda.virtual_packages("linux_aarch64", "12.9", glibc="2.35")
    assert "__glibc=2.35=0" in aarch64 and "__archspec=1=aarch64" in aarch64
    assert conda.virtual_packages("win_amd64", "13.0") == (
        "__win=0=0",
        "__archspec=1=x86_64",
        "__cuda=13.0=0",
    )
    assert conda.virtual_packages("macos_arm64", "13.0") == (
        "__unix=0=0",
        "__osx=13.0=0",
        "__archspec=1=aarch64",
    )
    assert conda.parse_virtual("__cuda=13.0=0") == ("__cuda", "13.0", "0")
    assert conda.parse_virtual("__unix") == ("__unix", "", "0")


def test_platforms_and_glibc() -> None:
    assert conda.conda_subdir("linux_x86_64") == "linux-64"
    with pytest.raises(UsageError, match="no conda platform"):
        conda.conda_subdir("linux_riscv64")
    assert conda.oldest_glibc(["2.35", None, "2.28", "2.9", "weird"]) == "2.9"
    assert conda.oldest_glibc([None]) is None


def test_the_sidecar_round_trips(tmp_path: Path) -> None:
    lock = tmp_path / conda.CONDA_LOCK_FILE
    assert conda.meta_path(lock) == tmp_path / "conda.lock.torchenv.json"
    table = {
        "spec-hash": "ab" * 32,
        "torch": "2.13.0",
        "python": "3.11",
        "platforms": ["linux_x86_64"],
        "variant": "cu130",
        "cuda": "13.0",
        "archs": ["sm_90"],
    }
    text = conda.render_meta(table, b"version: 7\n")
    sha, record, sealed = conda.parse_meta(text.encode(), "meta.json")
    assert record.cuda == "13.0" and sha == conda.content_hash(b"version: 7\n") and sealed
    assert {k: v for k, v in record.table.items() if k != "lock-hash"} == table
    assert json.loads(text)["schema"] == conda.META_SCHEMA
    edited = text.replace('"13.0"', '"12.8"')
    assert conda.parse_meta(edited.encode(), "meta.json")[2] is False


@pytest.mark.parametrize(
    ("data", "reference"),
    [
        (b"{not json", "lock-unreadable"),
        (b'{"schema": "other/1"}', "lock-malformed"),
        (b'{"schema": "torchenv.conda-lock/1", "tool": {}}', "lock-malformed"),
    ],
)
def test_a_bad_sidecar_is_a_usage_error(data: bytes, reference: str) -> None:
    with pytest.raises(UsageError) as caught:
        conda.parse_meta(data, "meta.json")
    assert caught.value.reference == reference and "torchenv lock" in (caught.value.hint or "")


def test_python_distributions_of_installed_conda_packages(tmp_path: Path) -> None:
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    site = "lib/python3.11/site-packages"
    (meta / "pytorch-2.13.0-cuda130_0.json").write_text(
        json.dumps(
            {
                "name": "pytorch",
                "files": [
                    f"{site}/torch/__init__.py",
                    f"{site}/torch-2.13.0.dist-info/METADATA",
                    f"{site}/torch-2.13.0.dist-info/RECORD",
                ],
            }
        )
    )
    (meta / "typing_extensions-4.15.0-0.json").write_text(
        json.dumps({"files": ["Lib/site-packages/typing_extensions-4.15.0.dist-info/METADATA"]})
    )
    (meta / "libstdcxx-15.1.0-0.json").write_text(json.dumps({"files": ["lib/libstdc++.so.6"]}))
    (meta / "broken.json").write_text("{")
    (meta / "history").write_text("")
    assert conda.python_distributions(tmp_path) == {
        "torch": "2.13.0",
        "typing_extensions": "4.15.0",
    }
    assert conda.python_distributions(tmp_path / "nowhere") == {}


def test_without_py_rattler_the_message_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "rattler", None)  # makes `import rattler` fail
    with pytest.raises(BackendError) as caught:
        conda.require_rattler()
    assert (
        caught.value.message == "the conda backend needs py-rattler: pip install 'torchenv[conda]'"
    )
    assert caught.value.exit_code == ExitCode.EXTERNAL


def test_lock_without_py_rattler_stops_before_planning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchenv.commands.lock import run_lock

    monkeypatch.setitem(sys.modules, "rattler", None)
    (tmp_path / "torchenv.toml").write_text('name = "a"\ninstaller = "conda"\ncuda = "cpu"\n')
    with pytest.raises(BackendError, match=r"needs py-rattler: pip install 'torchenv\[conda\]'"):
        run_lock(None, None, tmp_path)
    assert not (tmp_path / conda.CONDA_LOCK_FILE).exists()


def test_rattler_failures_become_backend_errors_after_the_loop() -> None:
    async def fails() -> int:
        raise RuntimeError("unsolvable: pytorch ==2.13.0 cuda130*")

    with pytest.raises(BackendError) as caught:
        _run("solve", "solve pytorch", "a hint", fails)
    assert caught.value.reference == "conda-solve-failed"
    assert "RuntimeError: unsolvable" in caught.value.message
    assert asyncio.run(_async_one()) == 1  # the loop was closed cleanly; a new one runs

    def panics() -> int:
        raise BaseException("rust panic")  # how pyo3's PanicException arrives

    with pytest.raises(UsageError) as usage:
        _sync("lock-read", "read the lock", "hint", panics, usage=True)
    assert "BaseException: rust panic" in usage.value.message
    with pytest.raises(KeyboardInterrupt):
        _sync("x", "x", "hint", _interrupt)


async def _async_one() -> int:
    return 1


def _interrupt() -> int:
    raise KeyboardInterrupt
