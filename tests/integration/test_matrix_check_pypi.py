"""`matrix --check --only 2.13.0` against the real pypi.org: the packaged record of 2.13.0 was
read from the same files (S1-S3), so PyPI must not contradict any of it. It reads torch 2.13.0's
wheels by HTTP range requests (about 14 MB of 0.5-0.9 GB wheels) and prints time and bytes;
tests/conftest.py skips it, with the reason, where pypi.org cannot be reached."""

from __future__ import annotations

import json
import time

import pytest

from torchenv import cli

pytestmark = pytest.mark.network

VERSION = "2.13.0"


def test_pypi_does_not_contradict_the_packaged_release(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = cli.main(["matrix", "--check", "--only", VERSION, "--json"])
    out, err = capsys.readouterr()
    assert out, err
    doc = json.loads(out)
    with capsys.disabled():
        print(
            f"\nmatrix --check --only {VERSION}: {time.monotonic() - started:.1f} s, "
            f"{doc['bytes_read'] / 1e6:.1f} MB in {doc['requests']} requests"
        )
    assert code in (0, 1), err
    assert doc["read"] == [VERSION] and doc["missing"] == doc["absent"] == []
    sources = {s["id"]: s for s in doc["sources"]}
    for source in ("pypi", "pypi-wheels", "torchvision", "torchaudio", "cuda-toolkit"):
        assert sources[source]["checked"], sources[source]
    # every difference PyPI could publish: the release's facts and the minor's PyPI build
    from_pypi = [
        d
        for d in doc["differences"]
        if d["where"] == f"release {VERSION}" or d["field"] == "pypi_default_linux_x86_64"
    ]
    assert from_pypi == []
    pytorch = sources["pytorch-index"]
    if not pytorch["checked"]:  # download.pytorch.org cannot be reached from every machine
        assert pytorch["why"].startswith("Cannot read https://download.pytorch.org/whl/torch/")
        assert not sources["pytorch-wheels"]["checked"]
        assert doc["differences"] == []  # its facts are not compared, not counted against it
        assert code == 0
    else:
        with capsys.disabled():
            print(f"download.pytorch.org was read: {len(doc['differences'])} differences there")
    assert doc["bytes_read"] < 40e6  # ranges only: the wheels themselves are 0.5-0.9 GB
