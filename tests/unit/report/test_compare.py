"""`torchenv diff`'s comparison: pure functions over name -> version maps and Machine models."""

from __future__ import annotations

from dataclasses import replace

import pytest

from builders import h100, machine
from torchenv.errors import ExitCode, UsageError
from torchenv.models import Gpu, Toolkit
from torchenv.models.diff import DiffInput, PackageChange, PackageVersion, TorchSummary
from torchenv.report.compare import (
    compare_machines,
    compare_packages,
    compare_torch,
    diff_inputs,
    normalized,
    same_version,
)
from torchenv.report.render_diff import render_diff, torch_line


def test_names_are_compared_in_their_pep503_form() -> None:
    assert normalized({"Typing_Extensions": "4.12", "zope.interface": "7.0"}) == {
        "typing-extensions": "4.12",
        "zope-interface": "7.0",
    }
    added, removed, changed = compare_packages(
        {"Typing_Extensions": "4.12.2", "PyYAML": "6.0.2"},
        {"typing-extensions": "4.12.2", "pyyaml": "6.0.2"},
    )
    assert (added, removed, changed) == ((), (), ())


def test_first_of_two_names_that_normalize_alike_wins() -> None:
    # in a prefix the first distribution on sys.path is the one Python imports
    assert normalized({"Foo": "1.0", "foo": "2.0"}) == {"foo": "1.0"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("1.0", "1.0.0", True),
        ("2.13.0+cu130", "2.13.0+cu130", True),
        ("2.13.0+cu130", "2.13.0+cpu", False),  # local labels are part of the version
        ("2.13.0+cu130", "2.13.0", False),
        ("not a version", "not a version", True),
        ("not a version", "1.0", False),
        (None, None, True),
        (None, "1.0", False),
    ],
)
def test_versions(a: str | None, b: str | None, same: bool) -> None:
    assert same_version(a, b) is same


def test_added_removed_changed_sorted_by_name() -> None:
    added, removed, changed = compare_packages(
        {"torch": "2.12.0+cu126", "six": "1.16.0", "numpy": "1.26.4", "Pillow": "10.0"},
        {"torch": "2.13.0+cu130", "requests": "2.32.3", "numpy": "1.26.4", "idna": None,
         "pillow": "11.0"},
    )  # fmt: skip
    assert added == (PackageVersion("idna", None), PackageVersion("requests", "2.32.3"))
    assert removed == (PackageVersion("six", "1.16.0"),)
    assert changed == (
        PackageChange("pillow", "10.0", "11.0"),
        PackageChange("torch", "2.12.0+cu126", "2.13.0+cu130"),
    )


def test_conda_names_are_not_pep503_normalized() -> None:
    # conda keeps "_" and "-" apart (_libgcc_mutex is not -libgcc-mutex)
    added, _, _ = compare_packages({}, {"_libgcc_mutex": "0.1"}, pep503=False)
    assert added == (PackageVersion("_libgcc_mutex", "0.1"),)


def test_torch_variant_and_cuda_change() -> None:
    diff = compare_torch(
        TorchSummary("2.12.0+cu126", "cu126", "12.6"), TorchSummary("2.13.0+cu130", "cu130", "13.0")
    )
    assert diff is not None and diff.changed == ("version", "variant", "cuda")
    assert torch_line(diff) == "torch 2.12.0+cu126 -> 2.13.0+cu130: CUDA 12.6 -> 13.0"
    cpu = compare_torch(
        TorchSummary("2.13.0+cu130", "cu130", "13.0"), TorchSummary("2.13.0+cpu", "cpu", None)
    )
    assert (
        cpu is not None and torch_line(cpu) == "torch 2.13.0+cu130 -> 2.13.0+cpu: CUDA 13.0 -> none"
    )
    rocm = compare_torch(
        TorchSummary("2.13.0+cpu", "cpu", None), TorchSummary("2.13.0+rocm6.4", "rocm6.4", None)
    )
    assert rocm is not None
    assert torch_line(rocm) == "torch 2.13.0+cpu -> 2.13.0+rocm6.4: variant cpu -> rocm6.4"


def test_torch_same_absent_and_one_sided() -> None:
    same = TorchSummary("2.13.0+cpu", "cpu", None)
    assert compare_torch(same, same) is not None
    assert compare_torch(same, same).changed == ()  # type: ignore[union-attr]
    assert compare_torch(None, None) is None
    added = compare_torch(None, TorchSummary("2.13.0+cu130", "cu130", "13.0"))
    assert added is not None and added.changed == ("version", "variant", "cuda")
    assert torch_line(added) == "torch not installed -> 2.13.0+cu130: CUDA none -> 13.0"


def test_two_machines() -> None:
    a = machine([h100(0), h100(1)], "580.65.06", toolkits=(Toolkit("/usr/local/cuda", "x",
                version="13.0.88"),))  # fmt: skip
    pascal = Gpu(0, "NVIDIA GeForce GTX 1080 Ti", None, "6.1", 11264, "00000000:01:00.0")
    b = machine([pascal], "535.183.01")
    b = replace(b, host=replace(b.host, libc="glibc 2.35", arch="aarch64"))
    diff = compare_machines(a, b)
    changes = {c.field: (c.a, c.b) for c in diff.changed}
    assert changes == {
        "platform": ("linux-x86_64", "linux-aarch64"),
        "libc": ("glibc 2.36", "glibc 2.35"),
        "driver": ("580.65.06", "535.183.01"),
        "gpus": ("2 x NVIDIA H100 80GB HBM3 (CC 9.0)", "1 x NVIDIA GeForce GTX 1080 Ti (CC 6.1)"),
        "toolkits": ("13.0.88", None),
    }
    assert diff.a.gpus[0].count == 2 and diff.b.toolkits == ()


def test_gpu_order_does_not_matter_but_count_does() -> None:
    other = h100(1, "NVIDIA A100-SXM4-80GB", "8.0")
    assert compare_machines(machine([h100(0), other]), machine([other, h100(0)])).changed == ()
    fewer = compare_machines(machine([h100(0), h100(1)]), machine([h100(0)]))
    assert [c.field for c in fewer.changed] == ["gpus"]


def side(kind: str = "prefix", path: str = "a", **fields: object) -> DiffInput:
    return DiffInput(kind, path, **fields)  # type: ignore[arg-type]


def test_identical_sides_are_the_same() -> None:
    torch = TorchSummary("2.13.0+cpu", "cpu", None)
    a = side(python={"torch": "2.13.0+cpu"}, torch=torch)
    report = diff_inputs(a, replace(a, path="b"))
    assert report.same and report.packages == "python" and report.schema == "torchenv.diff/1"
    assert report.torch is not None and report.torch.changed == ()


def test_python_distributions_are_preferred_to_conda_records() -> None:
    a = side(python={"numpy": "2.1.0"}, conda={"numpy": "2.1.0"})
    b = side("conda-lock", "b", conda={"numpy": "2.2.0"})
    report = diff_inputs(a, b)
    assert report.packages == "conda" and report.changed == (
        PackageChange("numpy", "2.1.0", "2.2.0"),
    )
    both = diff_inputs(a, side(path="c", python={"numpy": "2.1.0"}, conda={"numpy": "9"}))
    assert both.packages == "python" and both.same


def test_nothing_in_common_is_a_usage_error() -> None:
    lock = side("pylock", "pylock.toml", python={"torch": "2.13.0+cpu"})
    bare_machine = side("machine", "h100.json", machine=machine([h100()], "580.65.06"))
    with pytest.raises(UsageError) as caught:
        diff_inputs(bare_machine, lock)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "h100.json (machine) holds machine facts and no package list" in caught.value.message
    with pytest.raises(UsageError, match="locked conda packages"):
        diff_inputs(side(python={}), side("conda-lock", "conda.lock", conda={}))


def test_machines_without_package_lists_compare_as_machines() -> None:
    a = side("machine", "a.json", machine=machine([h100()], "580.65.06"))
    report = diff_inputs(a, replace(a, path="b.json"))
    assert report.same and report.packages is None and report.machine is not None
    assert report.notes == (
        "Packages not compared: a.json lists none.",
        "Packages not compared: b.json lists none.",
    )


def test_rendering_shows_every_difference_escaped() -> None:
    a = side(
        path="env\x1b]0;pwned\x07",
        detail="venv, Python 3.11.7",
        python={"torch": "2.12.0+cu126", "evil\x1b[2J": "1.0", "six": "1.16.0"},
        torch=TorchSummary("2.12.0+cu126", "cu126", "12.6"),
    )
    b = side(
        path="b",
        python={"torch": "2.13.0+cu130", "six": "1.17.0", "requests": "2.32.3"},
        torch=TorchSummary("2.13.0+cu130", "cu130", "13.0"),
    )
    lines: list[str] = []
    render_diff(lambda segments: lines.append("".join(t for t, _ in segments)), diff_inputs(a, b))
    assert lines == [
        "--- a: env\\x1b]0;pwned\\x07 (prefix, venv, Python 3.11.7)",
        "+++ b: b (prefix)",
        "Python packages: 1 added, 1 removed, 2 changed",
        "- evil\\x1b[2j 1.0",
        "+ requests 2.32.3",
        "~ six 1.16.0 -> 1.17.0",
        "~ torch 2.12.0+cu126 -> 2.13.0+cu130",
        "torch 2.12.0+cu126 -> 2.13.0+cu130: CUDA 12.6 -> 13.0",
        "They differ.",
    ]
    assert not any("\x1b" in line for line in lines)
