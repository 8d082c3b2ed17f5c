"""Which local files a conda lock may carry into an image (backends/condalocal.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from torchenv.backends.condalocal import local_packages
from torchenv.errors import UsageError


def part(subdir: str, *records: Any) -> Any:
    return SimpleNamespace(subdir=subdir, records=records)


def record(path: Path, subdir: str = "linux-64", sha: bytes | None = None) -> Any:
    digest = sha if sha is not None else hashlib.sha256(path.read_bytes()).digest()
    return SimpleNamespace(url=path.as_uri(), subdir=subdir, sha256=digest)


def test_only_checked_archives_of_linux_platforms_are_carried(tmp_path: Path) -> None:
    package = tmp_path / "pytorch-2.13.0-cpu_generic_py311_0.conda"
    package.write_bytes(b"archive")
    mac = tmp_path / "python-3.11.9-h0_0.tar.bz2"
    mac.write_bytes(b"other")
    remote = SimpleNamespace(url="https://conda.anaconda.org/x.conda", subdir="linux-64")
    found = local_packages(
        "conda.lock",
        [part("linux-64", record(package), remote), part("osx-arm64", record(mac, "osx-arm64"))],
    )
    assert [p.context_path for p in found] == [f"conda-pkgs/linux-64/{package.name}"]


@pytest.mark.parametrize(
    ("name", "subdir", "reason"),
    [
        ("id_ed25519", "linux-64", "not a conda package"),
        ("pytorch-2.13.0-0.conda", "../../etc", "not a conda package"),
        ("pytorch-2.13.0-0.whl", "linux-64", "not a conda package"),
    ],
)
def test_what_is_no_conda_archive_is_refused(
    tmp_path: Path, name: str, subdir: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"PRIVATE")
    with pytest.raises(UsageError, match=reason):
        local_packages("conda.lock", [part("linux-64", record(path, subdir))])


def test_a_hash_mismatch_a_missing_file_and_no_hash_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pytorch-2.13.0-0.conda"
    path.write_bytes(b"archive")
    with pytest.raises(UsageError, match="does not have the sha256"):
        local_packages("conda.lock", [part("linux-64", record(path, sha=b"\0" * 32))])
    unhashed = SimpleNamespace(url=path.as_uri(), subdir="linux-64", sha256=None)
    with pytest.raises(UsageError, match="without a sha256"):
        local_packages("conda.lock", [part("linux-64", unhashed)])
    gone = record(path)
    path.unlink()
    with pytest.raises(UsageError, match="not on this machine"):
        local_packages("conda.lock", [part("linux-64", gone)])
    fifo = tmp_path / "python-3.11.9-0.conda"
    os.mkfifo(fifo)
    named = SimpleNamespace(url=fifo.as_uri(), subdir="linux-64", sha256=b"\0" * 32)
    with pytest.raises(UsageError, match="cannot be read"):
        local_packages("conda.lock", [part("linux-64", named)])
