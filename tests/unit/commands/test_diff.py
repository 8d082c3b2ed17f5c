"""`torchenv diff`'s orchestration: each kind of side read from disk (fake prefixes with
dist-info, sealed locks, inspect documents), and every bad input a UsageError."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

from builders import FIXTURES, add_dist, add_torch, conda_record, make_venv, probe_context
from ship_project import set_in_lock, ship_project
from torchenv.backends.tools import BackendError
from torchenv.commands.diff import run_diff, torch_of_build
from torchenv.errors import ExitCode, UsageError
from torchenv.models import TorchBuild
from torchenv.models.diff import PackageChange, PackageVersion, TorchSummary
from torchenv.probe.context import ProbeContext

H100 = FIXTURES / "machines" / "h100-node.json"
PASCAL = FIXTURES / "machines" / "pascal-node.json"


@pytest.fixture
def ctx(tmp_path: Path) -> ProbeContext:
    context, _ = probe_context(tmp_path)  # the fake pythons do not run: read from files
    return context


def venv(tmp_path: Path, name: str, packages: dict[str, str], torch: str | None = None) -> Path:
    env = make_venv(tmp_path, name)
    for dist, version in packages.items():
        add_dist(env.site, dist, version)
    if torch is not None:
        local = torch.partition("+")[2]
        cuda = f"{local[2:-1]}.{local[-1]}" if local.startswith("cu") else None
        add_torch(env.site, torch, cuda=cuda, dist_version=torch)
    return env.prefix


# --------------------------------------------------------------------------- prefixes
def test_two_prefixes(tmp_path: Path, ctx: ProbeContext) -> None:
    a = venv(tmp_path, "a", {"numpy": "1.26.4", "six": "1.16.0"}, torch="2.12.0+cu126")
    b = venv(tmp_path, "b", {"NumPy": "2.1.0", "Requests": "2.32.3"}, torch="2.13.0+cu130")
    report = run_diff(ctx, str(a), str(b))
    assert not report.same and report.packages == "python"
    assert report.a.kind == "prefix" and report.a.path == str(a)
    assert report.a.detail == "venv, Python 3.11.7, read from its files"
    assert report.added == (PackageVersion("requests", "2.32.3"),)
    assert report.removed == (PackageVersion("six", "1.16.0"),)
    assert report.changed == (
        PackageChange("numpy", "1.26.4", "2.1.0"),
        PackageChange("torch", "2.12.0+cu126", "2.13.0+cu130"),
    )
    assert report.torch is not None
    assert report.torch.a == TorchSummary("2.12.0+cu126", "cu126", "12.6")
    assert report.torch.b == TorchSummary("2.13.0+cu130", "cu130", "13.0")
    assert report.torch.changed == ("version", "variant", "cuda")


def test_a_prefix_against_itself_is_the_same(tmp_path: Path, ctx: ProbeContext) -> None:
    a = venv(tmp_path, "a", {"numpy": "2.1.0"}, torch="2.13.0+cpu")
    report = run_diff(ctx, str(a), str(a))
    assert report.same and report.changed == () and report.torch is not None
    assert report.torch.a == TorchSummary("2.13.0+cpu", "cpu", None)


def test_a_directory_that_is_no_environment(tmp_path: Path, ctx: ProbeContext) -> None:
    (tmp_path / "empty").mkdir()
    a = venv(tmp_path, "a", {})
    with pytest.raises(UsageError, match="is a directory, but not a Python environment"):
        run_diff(ctx, str(a), str(tmp_path / "empty"))


@pytest.mark.parametrize(
    ("build", "variant"),
    [
        (TorchBuild("2.14.1", "/t", local=None, cuda="13.0", has_cuda_library=True), "cu130"),
        (TorchBuild("2.13.0+cpu", "/t", local="cpu"), "cpu"),
        (TorchBuild("2.13.0", "/t"), "cpu"),  # no CUDA library, no label: macOS's wheel
        (TorchBuild("2.9.0+rocm6.4", "/t", local="rocm6.4", hip="6.4.43482"), "rocm6.4"),
        (TorchBuild("2.9.0+git1234", "/t", local="git1234", hip="6.4.43482"), "rocm6.4"),
    ],
)
def test_torch_variant_of_a_build(build: TorchBuild, variant: str) -> None:
    summary = torch_of_build(build)
    assert summary is not None and summary.variant == variant


# --------------------------------------------------------------------------- pylock
def write_sealed_lock(root: Path, variant: str = "cpu", packages: tuple[str, ...] = ()) -> Path:
    """pylock.toml as `torchenv lock` seals it, beside the spec it was made from."""
    ship_project(root, variant=variant, packages=packages)
    return root / "pylock.toml"


def test_a_prefix_against_its_lock(tmp_path: Path, ctx: ProbeContext) -> None:
    lock = write_sealed_lock(tmp_path / "project", packages=("typing_extensions",))
    installed = {"Typing-Extensions": "4.6.0"}
    # the lock's triton has marker platform_machine == 'x86_64': an installer puts it only there
    if platform.machine() == "x86_64":
        installed["triton"] = "3.6.0"
    prefix = venv(tmp_path, "env", installed, torch="2.13.0+cpu")
    report = run_diff(ctx, str(prefix), str(lock))
    assert report.b.kind == "pylock" and report.b.detail == "Python 3.11, linux_x86_64"
    assert report.same, report
    assert report.torch is not None
    assert report.torch.b == TorchSummary("2.13.0+cpu", "cpu", None)


def test_two_locks_of_other_variants(tmp_path: Path, ctx: ProbeContext) -> None:
    cpu = write_sealed_lock(tmp_path / "cpu")
    cuda = write_sealed_lock(tmp_path / "cuda", variant="cu130", packages=("six",))
    report = run_diff(ctx, str(cpu), str(cuda))
    assert report.added == (PackageVersion("six", "4.6.0"),)
    assert report.changed == (PackageChange("torch", "2.13.0+cpu", "2.13.0+cu130"),)
    assert report.torch is not None
    assert report.torch.b == TorchSummary("2.13.0+cu130", "cu130", "13.0")
    assert report.torch.changed == ("version", "variant", "cuda")
    assert run_diff(ctx, str(cpu), str(cpu)).same


def test_an_edited_lock_is_noted(tmp_path: Path, ctx: ProbeContext) -> None:
    lock = write_sealed_lock(tmp_path / "p")
    other = write_sealed_lock(tmp_path / "q")
    assert set_in_lock(other, ("packages", 1, "version"), "3.7.0", seal=False)
    report = run_diff(ctx, str(lock), str(other))
    assert report.changed == (PackageChange("triton", "3.6.0", "3.7.0"),)
    assert any("lock-hash does not match" in note for note in report.notes)


def test_a_lock_with_an_escape_in_a_name(tmp_path: Path, ctx: ProbeContext) -> None:
    lock = write_sealed_lock(tmp_path / "p")
    assert set_in_lock(lock, ("packages", 0, "name"), "torch\x1b]0;pwned\x07")
    with pytest.raises(UsageError) as caught:
        run_diff(ctx, str(lock), str(lock))
    assert "\x1b" not in caught.value.message and "\\x1b" in caught.value.message


# --------------------------------------------------------------------------- inspect documents
def test_two_machines(ctx: ProbeContext) -> None:
    report = run_diff(ctx, str(H100), str(PASCAL))
    assert report.packages is None and not report.same
    assert report.machine is not None
    changes = {c.field: (c.a, c.b) for c in report.machine.changed}
    assert changes["driver"] == ("580.65.06", "535.183.01")
    assert changes["libc"] == ("glibc 2.36", "glibc 2.35")
    assert changes["gpus"] == (
        "2 x NVIDIA H100 80GB HBM3 (CC 9.0)",
        "1 x NVIDIA GeForce GTX 1080 Ti (CC ?)",
    )
    assert run_diff(ctx, str(H100), str(H100)).same


def inspect_document(tmp_path: Path, packages: dict[str, str], **machine: Any) -> Path:
    doc = json.loads(H100.read_text())
    doc["environment"]["distributions"] = [
        {"name": n, "version": v, "location": "/s", "metadata_dir": f"/s/{n}.dist-info"}
        for n, v in packages.items()
    ]
    doc["machine"].update(machine)
    path = tmp_path / f"machine-{len(packages)}.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_machine_with_packages_against_a_prefix(tmp_path: Path, ctx: ProbeContext) -> None:
    document = inspect_document(tmp_path, {"numpy": "2.1.0", "six": "1.17.0"})
    prefix = venv(tmp_path, "env", {"numpy": "2.1.0"})
    report = run_diff(ctx, str(document), str(prefix))
    assert report.packages == "python" and report.machine is None
    assert report.removed == (PackageVersion("six", "1.17.0"),)


def test_a_machine_without_packages_against_a_lock(tmp_path: Path, ctx: ProbeContext) -> None:
    lock = write_sealed_lock(tmp_path / "p")
    with pytest.raises(UsageError) as caught:
        run_diff(ctx, str(H100), str(lock))
    assert caught.value.reference == "diff-nothing-in-common"
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ('{"schema": "torchenv.plan/1"}', "not an inspect document (schema: 'torchenv.plan/1')"),
        ('{"schema": "torchenv.inspect/1", "machine": {"host": 1}}', "is malformed"),
        ('{"schema": "torchenv.inspect/1", "machine"', "is not JSON"),
    ],
)
def test_bad_json(tmp_path: Path, ctx: ProbeContext, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UsageError) as caught:
        run_diff(ctx, str(path), str(H100))
    assert message in caught.value.message


def test_the_sidecar_of_a_conda_lock_given_as_a_side(tmp_path: Path, ctx: ProbeContext) -> None:
    path = tmp_path / "conda.lock.torchenv.json"
    path.write_text('{"schema": "torchenv.conda-lock/1"}')
    with pytest.raises(UsageError) as caught:
        run_diff(ctx, str(path), str(H100))
    assert caught.value.hint is not None and "give the lock beside it" in caught.value.hint


# --------------------------------------------------------------------------- what is not a side
def test_files_that_are_no_side(tmp_path: Path, ctx: ProbeContext) -> None:
    fifo, huge, text = tmp_path / "fifo", tmp_path / "huge.toml", tmp_path / "notes.txt"
    os.mkfifo(fifo)
    with huge.open("wb") as handle:
        handle.truncate(3 << 30)  # sparse: refused on its size, never read
    text.write_text("hello\n")
    cases = {
        str(fifo): "it is a FIFO (named pipe), not a regular file",
        str(huge): "it is larger than 64 MiB",
        str(text): "is not an environment directory, a lock or an inspect document",
        str(tmp_path / "absent"): "does not exist",
        "": "An empty path was given",  # not the working directory
        "a\x00b": "embedded null byte",
    }
    for path, message in cases.items():
        with pytest.raises(UsageError) as caught:
            run_diff(ctx, path, str(H100))
        assert message in caught.value.message, path
        assert caught.value.hint is not None and "pylock.toml" in caught.value.hint


# --------------------------------------------------------------------------- conda
def conda_lock(directory: Path, packages: dict[str, tuple[str, str]], variant: str) -> Path:
    rattler = pytest.importorskip("rattler")
    from torchenv.backends.conda import render_meta
    from torchenv.backends.conda_rattler import Solved, host_subdir, write_lock

    subdir = host_subdir()
    records = []
    for name, (version, build) in packages.items():
        record = rattler.PackageRecord(name, version, rattler.BuildString(build), 0, subdir)
        file = f"{name}-{version}-{build}.conda"
        url = f"https://conda.anaconda.org/conda-forge/{subdir}/{file}"
        channel = "https://conda.anaconda.org/conda-forge/"
        records.append(rattler.RepoDataRecord(record, file, url, channel))
    directory.mkdir(parents=True)
    lock = directory / "conda.lock"
    write_lock(
        lock, ["https://conda.anaconda.org/conda-forge/"], [Solved(subdir, (), tuple(records))]
    )
    tool = {
        "spec": "torchenv.toml",
        "spec-hash": "ab" * 32,
        "torch": "2.13.0",
        "variant": variant,
        "python": "3.11",
        "platforms": ["linux_x86_64"],
        "channel": "conda-forge",
    }
    if variant != "cpu":
        tool["cuda"] = f"{variant[2:-1]}.{variant[-1]}"
    (directory / "conda.lock.torchenv.json").write_text(render_meta(tool, lock.read_bytes()))
    return lock


def test_a_conda_lock_against_a_conda_prefix(tmp_path: Path, ctx: ProbeContext) -> None:
    lock = conda_lock(
        tmp_path / "p",
        {"pytorch": ("2.13.0", "cuda130_generic_py311_0"), "numpy": ("2.1.0", "py311h0")},
        "cu130",
    )
    prefix = venv(tmp_path, "env", {})
    conda_record(prefix, "pytorch", "2.13.0", "cuda130_generic_py311_0", "conda-forge")
    conda_record(prefix, "numpy", "2.0.0", "py311h0", "conda-forge")
    report = run_diff(ctx, str(lock), str(prefix))
    assert report.packages == "conda" and report.a.kind == "conda-lock"
    assert report.changed == (PackageChange("numpy", "2.1.0", "2.0.0"),)
    assert report.torch is not None
    assert report.torch.a == TorchSummary("2.13.0", "cu130", "13.0")
    assert run_diff(ctx, str(lock), str(lock)).same
    # a venv has no conda records: nothing in common with a conda lock
    with pytest.raises(UsageError, match="Nothing to compare"):
        run_diff(ctx, str(lock), str(venv(tmp_path, "plain", {"numpy": "2.1.0"})))


def test_a_conda_lock_without_py_rattler(
    tmp_path: Path, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "conda.lock"
    lock.write_text("version: 6\n")
    monkeypatch.setitem(sys.modules, "rattler", None)  # import rattler raises ImportError
    with pytest.raises(BackendError, match=r"pip install 'torchenv\[conda\]'"):
        run_diff(ctx, str(lock), str(lock))
