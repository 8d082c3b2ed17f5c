"""`db update` against the real pypi.org (marker ``network``: skipped where it cannot be reached).

One release updated into a copy of the packaged data (torch 2.13.0's wheels by HTTP range
requests, about 14 MB of 0.5-0.9 GB wheels), and two rebuilt from nothing (``--from-scratch``):
both are checked against the packaged records, which were read from the same files (S1-S3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexserver import CODE_CC
from torchenv.commands.db_update import run_db_update
from torchenv.knowledge.merge import WHEEL_FIELDS
from torchenv.knowledge.store import load_knowledge

pytestmark = [pytest.mark.integration, pytest.mark.network]

VERSION = "2.13.0"
PYPI = "https://pypi.org/simple"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    load_knowledge.cache_clear()


def test_one_release_from_pypi(capsys: pytest.CaptureFixture[str]) -> None:
    packaged = {r["version"]: r for r in load_knowledge(packaged_only=True).releases()}[VERSION]
    result = run_db_update(pypi_index=PYPI, versions=[VERSION], full=True)
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
    assert record["cuda_code_cc"] == CODE_CC[VERSION]
    assert result.bytes_read < 40e6  # ranges only: the wheels themselves are 0.1-0.5 GB


SCRATCH = ["2.12.1", "2.13.0"]
# what PyPI publishes and the packaged records hold; torchaudio 2.11.1 pairs with both by its
# Requires-Dist (torch>=2.11) and upload date (knowledge/pairing.py)
PUBLISHED = (
    "released",
    "yanked",
    "requires_python",
    "python",
    "glibc",
    "pypi_default",
    "torchvision",
    "torchaudio",
)


def test_from_scratch_rebuilds_what_pypi_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packaged = {r["version"]: r for r in load_knowledge(packaged_only=True).releases()}
    out = tmp_path / "scratch" / "torch.json"
    result = run_db_update(
        pypi_index=PYPI, versions=SCRATCH, full=True, from_scratch=True, output=out
    )
    with capsys.disabled():
        print(
            f"\ndb update --from-scratch --full --only {' --only '.join(SCRATCH)}: "
            f"{result.seconds:.1f} s, {result.bytes_read / 1e6:.1f} MB in {result.requests} "
            f"requests, {result.wheel_reads} wheel reads"
        )
    assert result.written and result.started_from == "nothing" and result.path == str(out)
    assert all(f.source == "pytorch-index" for f in result.failures)  # reachable or reported
    assert not (tmp_path / "data").exists()  # the data torchenv uses is not touched
    data = json.loads(out.read_text())
    records = {r["version"]: r for r in data["releases"]}
    assert sorted(records) == SCRATCH and data["arch_lists"] == []
    for version in SCRATCH:
        record, known = records[version], packaged[version]
        for key in PUBLISHED:
            assert record[key] == known[key], (version, key)
        for key in WHEEL_FIELDS:
            assert record["pypi_linux_x86_64"][key] == known["pypi_linux_x86_64"][key], key
        assert record["cuda_code_cc"] == CODE_CC[version], version
        rows = {row["what"].split(":")[0]: row["url"] for row in record["read"]}
        assert rows["file list"] == PYPI + "/torch/"
        assert rows["linux_x86_64 wheel"].startswith("https://files.pythonhosted.org/")
        assert "torchvision wheel" in rows
    assert result.bytes_read < 60e6  # ranges only: the wheels themselves are 0.1-0.9 GB
