"""Choosing a backend (backends/choice.py) and the micromamba backend's reading of conda.lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchenv.backends import conda_embedded
from torchenv.backends.choice import choose_backend
from torchenv.backends.conda_embedded import CondaEmbeddedBackend
from torchenv.backends.conda_exe import CondaExecutableBackend, explicit_list, read_records
from torchenv.backends.pip import PipBackend
from torchenv.backends.tools import BackendError
from torchenv.backends.uv import UvBackend
from torchenv.errors import ExitCode, UsageError
from torchenv.models.spec import Spec

UV, CONDA = Spec(name="a"), Spec(name="a", installer="conda")
MD5 = "21fdf24ef06ba528b70380f7619ee32b"


def nothing(_: str) -> str | None:
    return None


def micromamba(name: str) -> str | None:
    return "/opt/bin/micromamba" if name == "micromamba" else None


def test_the_spec_installer_chooses_unless_told() -> None:
    assert isinstance(choose_backend(None, UV, nothing), UvBackend)
    assert isinstance(choose_backend("pip", UV, nothing), PipBackend)
    assert choose_backend("pip", UV, nothing).name == "pip"


@pytest.mark.parametrize(("requested", "spec"), [("uv", CONDA), ("conda", UV), ("micromamba", UV)])
def test_a_backend_of_the_other_lock_family_is_refused(requested: str, spec: Spec) -> None:
    with pytest.raises(UsageError) as caught:
        choose_backend(requested, spec, nothing)
    assert caught.value.reference == "backend-mismatch"


def test_conda_is_embedded_rattler_first_then_micromamba(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(choose_backend(None, CONDA, nothing), CondaEmbeddedBackend)
    monkeypatch.setattr(
        conda_embedded.CondaEmbeddedBackend, "unavailable", lambda self, which: "no rattler"
    )
    chosen = choose_backend(None, CONDA, micromamba)
    assert isinstance(chosen, CondaExecutableBackend) and chosen.name == "conda"
    with pytest.raises(BackendError) as caught:
        choose_backend(None, CONDA, nothing)
    assert caught.value.reference == "conda-backend-missing"
    assert caught.value.exit_code is ExitCode.EXTERNAL and "micromamba" in (caught.value.hint or "")


def test_micromamba_asked_for_and_missing_says_why() -> None:
    with pytest.raises(BackendError, match="no micromamba on PATH"):
        choose_backend("micromamba", CONDA, nothing)
    conda_only = CondaExecutableBackend().unavailable(lambda n: "/x" if n == "conda" else None)
    assert conda_only is not None and "--relocate-prefix" in conda_only


def lock_text(location: str, md5: str = MD5) -> bytes:
    return f"""version: 7
platforms:
- name: linux-64
  virtual-packages: [__unix=0=0, __glibc=2.28=0]
environments:
  default:
    channels: [{{url: "file:///c/"}}]
    packages:
      linux-64:
      - conda: "{location}"
packages:
- conda: "{location}"
  sha256: {"0" * 64}
  md5: {md5}
""".encode()


def test_records_of_this_platform_become_an_explicit_list() -> None:
    url = "https://conda.anaconda.org/conda-forge/linux-64/pytorch-2.13.0-cpu_generic_py311_0.conda"
    records = read_records(lock_text(url), "conda.lock", "linux-64")
    assert records.virtual_packages == ("__unix=0=0", "__glibc=2.28=0")
    (record,) = records.records
    assert (record.name, record.version, record.build) == (
        "pytorch",
        "2.13.0",
        "cpu_generic_py311_0",
    )
    assert explicit_list(records).splitlines()[1:] == ["@EXPLICIT", f"{url}#{MD5}"]
    local = read_records(lock_text("/c/linux-64/python-3.11.9-h0_0.tar.bz2"), "l", "linux-64")
    assert local.records[0].location == "file:///c/linux-64/python-3.11.9-h0_0.tar.bz2"


@pytest.mark.parametrize(
    ("location", "md5"),
    [
        ("https://x/linux-64/a-1-0.conda\\n@EXPLICIT\\nhttps://evil/b-1-0.conda", MD5),
        ("https://x/linux-64/a-1-0.conda#frag", MD5),
        ("https://x/linux-64/a-1-0.conda", "not-an-md5"),
        ("https://x/linux-64/setup.py", MD5),
        ("ftp://x/linux-64/a-1-0.conda", MD5),
    ],
)
def test_a_location_or_digest_that_could_bend_the_explicit_file_is_refused(
    location: str, md5: str
) -> None:
    with pytest.raises(UsageError) as caught:
        read_records(lock_text(location, md5), "conda.lock", "linux-64")
    assert caught.value.reference == "lock-malformed"


@pytest.mark.parametrize("data", [b"\xff\xfe", b"- [", b"version: 7\n", b"[]"])
def test_a_lock_that_is_not_one_is_a_usage_error(data: bytes) -> None:
    with pytest.raises(UsageError):
        read_records(data, "conda.lock", "linux-64")


def test_a_lock_without_this_platform(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        read_records(lock_text("/c/linux-64/a-1-0.conda"), "conda.lock", "osx-arm64")
    assert caught.value.reference == "lock-platform"


@pytest.mark.parametrize(
    "text",
    [
        b"version: 7\nenvironments: {default: {packages: {linux-64: 5}}}\npackages: []\n",
        b"version: 7\nplatforms: [{name: linux-64, virtual-packages: 5}]\n"
        b"environments: {default: {packages: {linux-64: []}}}\npackages: []\n",
    ],
)
def test_a_lock_with_values_of_the_wrong_kind_is_a_usage_error(text: bytes) -> None:
    with pytest.raises(UsageError) as caught:
        read_records(text, "conda.lock", "linux-64")
    assert caught.value.reference == "lock-malformed"
