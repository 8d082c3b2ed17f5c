"""`db update` against the real pypi.org for one release (opt-in: TORCHENV_TEST_PYPI=1).

It reads torch 2.13.0's wheels by HTTP range requests (about 14 MB of 0.5-0.9 GB wheels) and
checks the result against the packaged record, which was read from the same files (S1-S3).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torchenv.commands.db_update import run_db_update
from torchenv.knowledge.store import load_knowledge

pytestmark = pytest.mark.integration

VERSION = "2.13.0"


@pytest.fixture(autouse=True)
def _opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("TORCHENV_TEST_PYPI") != "1":
        pytest.skip("opt-in: set TORCHENV_TEST_PYPI=1 (reads ~14 MB from pypi.org)")
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    load_knowledge.cache_clear()


def test_one_release_from_pypi(capsys: pytest.CaptureFixture[str]) -> None:
    packaged = {r["version"]: r for r in load_knowledge(packaged_only=True).releases()}[VERSION]
    result = run_db_update(pypi_index="https://pypi.org/simple", versions=[VERSION], full=True)
    with capsys.disabled():
        print(
            f"\ndb update --only {VERSION} --full: {result.seconds:.1f} s, "
            f"{result.bytes_read / 1e6:.1f} MB in {result.requests} requests, "
            f"{result.wheel_reads} wheel reads"
        )
    assert result.written and VERSION not in result.added
    assert all(f.source == "pytorch-index" for f in result.failures)  # reachable or reported
    load_knowledge.cache_clear()
    record = {r["version"]: r for r in load_knowledge().releases()}[VERSION]
    build = record["pypi_linux_x86_64"]
    assert record["pypi_default"]["linux_x86_64"] == "cu130" and build["variant"] == "cu130"
    assert build["archs"] == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    assert (build["cudnn"], build["nccl"]) == ("9.20.0.48", "2.29.7")
    assert record["torchvision"] == "0.28.0" and record["released"] == "2026-07-08"
    for key in ("released", "yanked", "requires_python", "glibc", "torchvision", "torchaudio"):
        assert record.get(key) == packaged.get(key), key
    for key in ("variant", "cuda", "archs", "git_version", "cudnn", "nccl", "cublas", "cudart"):
        assert build.get(key) == packaged["pypi_linux_x86_64"].get(key), key
    assert record["python"] == packaged["python"]
    assert result.bytes_read < 40e6  # ranges only: the wheels themselves are 0.1-0.5 GB
