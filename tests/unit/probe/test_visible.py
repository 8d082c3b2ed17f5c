"""CUDA_VISIBLE_DEVICES parsing, checked against torch's own parser as an oracle."""

from __future__ import annotations

from typing import cast

from hypothesis import assume, given
from hypothesis import strategies as st

from torchenv.models import Gpu
from torchenv.probe.visible import map_visible_devices, parse_visible_devices


def torch_parse(var: str) -> list[int] | list[str]:
    """``_parse_visible_devices`` from torch 2.13.0 torch/cuda/__init__.py, verbatim minus the
    ROCm branch (the environment variable is passed in instead of read)."""

    def _strtoul(s: str) -> int:
        if not s:
            return -1
        for idx, c in enumerate(s):
            if not (c.isdigit() or (idx == 0 and c in "+-")):
                break
            if idx + 1 == len(s):
                idx += 1  # noqa: PLW2901  (verbatim from torch)
        return int(s[:idx]) if idx > 0 else -1

    def parse_list_with_prefix(lst: str, prefix: str) -> list[str]:
        rcs: list[str] = []
        for elem in lst.split(","):
            if elem in rcs:
                return cast(list[str], [])
            if not elem.startswith(prefix):
                break
            rcs.append(elem)
        return rcs

    if var.startswith("GPU-"):
        return parse_list_with_prefix(var, "GPU-")
    if var.startswith("MIG-"):
        return parse_list_with_prefix(var, "MIG-")
    rc: list[int] = []
    for elem in var.split(","):
        x = _strtoul(elem.strip())
        if x in rc:
            return cast(list[int], [])
        if x < 0:
            break
        rc.append(x)
    return rc


VISIBLE = st.text(alphabet="0123456789,-+ GPUMIabcdef", max_size=14)


@given(VISIBLE)
def test_parser_agrees_with_torch(value: str) -> None:
    try:
        expected = [str(x) for x in torch_parse(value)]
    except ValueError:  # torch's int() raises on a lone "+"/"-"; torchenv stops there like CUDA
        assume(False)
    entries, problem = parse_visible_devices(value)
    assert entries == expected
    assert (problem is not None) == (not entries)


def test_examples() -> None:
    assert parse_visible_devices("1gpu2,2ampere") == (["1", "2"], None)
    assert parse_visible_devices("0,0")[0] == []
    assert "listed twice" in (parse_visible_devices("0,0")[1] or "")
    assert parse_visible_devices("-1")[0] == []
    assert "empty string" in (parse_visible_devices("")[1] or "")


GPUS = [Gpu(0, "A", "GPU-aaaa-1"), Gpu(1, "B", "GPU-bbbb-2")]


def test_unset_shows_every_gpu() -> None:
    vis = map_visible_devices({}, GPUS)
    assert vis.cuda_visible_devices is None and vis.visible_indices == (0, 1)


def test_stops_at_first_missing_ordinal() -> None:
    vis = map_visible_devices({"CUDA_VISIBLE_DEVICES": "1,7,0"}, GPUS)
    assert vis.visible_indices == (1,) and vis.unmatched == ("7",)


def test_uuid_prefixes() -> None:
    vis = map_visible_devices({"CUDA_VISIBLE_DEVICES": "GPU-bbbb,GPU-aaaa"}, GPUS)
    assert vis.visible_indices == (1, 0)
    vis = map_visible_devices({"CUDA_VISIBLE_DEVICES": "GPU-"}, GPUS)  # ambiguous prefix
    assert vis.visible_indices == () and vis.unmatched == ("GPU-",)


def test_mig_entries_are_not_judged() -> None:
    vis = map_visible_devices({"CUDA_VISIBLE_DEVICES": "MIG-ce861fb0-a248"}, GPUS)
    assert vis.entries == ("MIG-ce861fb0-a248",) and vis.unmatched == () and vis.problem is None
