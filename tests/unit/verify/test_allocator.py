"""The CUDA caching allocator's state after verify's GPU checks: read inside the environment by
scripts/verify_gpu.py (run here against a stand-in for torch.cuda: no GPU needed), checked and
turned into AllocatorState by verify/script.py, shown by the text and JUnit reports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from torchenv.models.codec import DecodeError
from torchenv.models.findings import Target
from torchenv.models.verify import (
    AllocatorState,
    VerifyPerfTable,
    VerifyReport,
    VerifySummary,
)
from torchenv.report.render_junit import junit_xml
from torchenv.report.render_verify import allocator_segments, size_text
from torchenv.verify.script import SCRIPT, parse_allocator, parse_output

GiB, MiB = 1 << 30, 1 << 20

# torch.cuda.memory_stats as torch 2.x returns it after the checks (the keys of its docstring;
# the pools and counters verify does not read are there too)
STATS = {
    "allocated_bytes.all.current": 0,
    "allocated_bytes.all.peak": 20 * GiB,
    "allocated_bytes.large_pool.current": 0,
    "reserved_bytes.all.current": 2 * GiB,
    "reserved_bytes.all.peak": 20 * GiB + 2 * MiB,
    "inactive_split_bytes.all.current": 0,
    "active_bytes.all.current": 0,
    "num_alloc_retries": 0,
    "num_ooms": 0,
    "num_device_alloc": 7,
    "max_split_size": -1,
}


@pytest.fixture
def verify_gpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """scripts/verify_gpu.py imported as verify_check.py imports it: from the scripts folder."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    for name in ("verify_gpu", "verify_common"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import verify_gpu  # type: ignore[import-not-found]

    yield verify_gpu
    for name in ("verify_gpu", "verify_common"):
        sys.modules.pop(name, None)


def fake_torch(calls: list[str], stats: Any = None, error: Exception | None = None) -> Any:
    def memory_stats(index: int) -> Any:
        calls.append(f"memory_stats({index})")
        if error is not None:
            raise error
        return STATS if stats is None else stats

    cuda = SimpleNamespace(
        memory_stats=memory_stats, empty_cache=lambda: calls.append("empty_cache")
    )
    return SimpleNamespace(cuda=cuda)


def test_the_script_reads_the_allocator_with_torchs_key_names(verify_gpu: ModuleType) -> None:
    state = verify_gpu.allocator_state(fake_torch([]), 0)
    assert state == {
        "gpu": 0,
        "allocated_bytes": 0,
        "reserved_bytes": 2 * GiB,
        "peak_allocated_bytes": 20 * GiB,
        "peak_reserved_bytes": 20 * GiB + 2 * MiB,
        "inactive_split_bytes": 0,
        "alloc_retries": 0,
        "ooms": 0,
    }
    # what the script sends is what torchenv reads
    parsed = parse_allocator(state, "$.allocator[0]")
    assert parsed.reserved_bytes == 2 * GiB and parsed.fragmentation == 0.0


def test_a_torch_that_cannot_say_gives_an_error_not_a_crash(verify_gpu: ModuleType) -> None:
    message = "RuntimeError: CUDA error: an illegal memory access was encountered"
    torch = fake_torch([], error=RuntimeError(message.split(": ", 1)[1]))
    state = verify_gpu.allocator_state(torch, 1)
    assert state == {"gpu": 1, "error": message}
    assert parse_allocator(state, "$") == AllocatorState(1, error=message)


def test_the_reading_comes_before_the_cache_is_released(
    verify_gpu: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(verify_gpu, "_device_checks", lambda *a: calls.append("checks"))
    report = SimpleNamespace(allocator=[], facts={})
    verify_gpu.gpu_checks(fake_torch(calls), report, 0, quick=True)
    assert calls == ["checks", "memory_stats(0)", "empty_cache"]
    assert report.allocator[0]["reserved_bytes"] == 2 * GiB


def test_fragmentation_is_the_share_of_reserved_memory_that_split_blocks_strand() -> None:
    raw = {"gpu": 3, "reserved_bytes": 4 * GiB, "inactive_split_bytes": GiB, "ooms": 2}
    state = parse_allocator(raw, "$")
    assert state == AllocatorState(
        3, reserved_bytes=4 * GiB, inactive_split_bytes=GiB, fragmentation=0.25, ooms=2
    )
    # more stranded than reserved cannot happen; a confused torch does not make it exceed 100%
    assert parse_allocator({**raw, "inactive_split_bytes": 9 * GiB}, "$").fragmentation == 1.0
    assert parse_allocator({"gpu": 0}, "$").fragmentation == 0.0


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"reserved_bytes": 1},
        {"gpu": "0"},
        {"gpu": True},
        {"gpu": -1},
        {"gpu": 0, "reserved_bytes": -5},
        {"gpu": 0, "reserved_bytes": 1.5},
        {"gpu": 0, "ooms": True},
        {"gpu": 0, "allocated_bytes": "1 GiB"},
        {"gpu": 0, "peak_reserved_bytes": float("nan")},
    ],
    ids=repr,
)
def test_a_malformed_reading_is_refused(raw: Any) -> None:
    with pytest.raises(DecodeError):
        parse_allocator(raw, "$.allocator[0]")


def test_the_answer_carries_the_readings_and_may_leave_them_out() -> None:
    base = {"facts": {}, "checks": [], "perf": []}
    assert parse_output(base, 1.0).allocator == ()
    with_state = parse_output({**base, "allocator": [{"gpu": 0, "reserved_bytes": 8}]}, 1.0)
    assert with_state.allocator == (AllocatorState(0, reserved_bytes=8),)
    with pytest.raises(DecodeError, match=r"\$.allocator"):
        parse_output({**base, "allocator": {"gpu": 0}}, 1.0)


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * MiB, "5.0 MiB"), (80 * GiB, "80.0 GiB")],
)
def test_sizes_read_as_torch_shows_them(size: int, text: str) -> None:
    assert size_text(size) == text


def test_retries_and_ooms_stand_out() -> None:
    state = AllocatorState(0, reserved_bytes=GiB, alloc_retries=3, ooms=1)
    segments = allocator_segments(state)
    assert segments[-1] == (", 3 cudaMalloc retries, 1 out-of-memory errors", "bold yellow")
    failed = allocator_segments(AllocatorState(1, error="RuntimeError: no"))
    assert failed == [("torch could not read it: RuntimeError: no", "dim")]


def test_junit_carries_the_allocator_in_system_out() -> None:
    report = VerifyReport(
        "torchenv.verify/1",
        Target("/envs/a", "venv", "--prefix", "/envs/a/bin/python"),
        (),
        VerifyPerfTable(),
        VerifySummary(0, 0, 0, 1.0),
        allocator=(AllocatorState(0, reserved_bytes=GiB, peak_reserved_bytes=2 * GiB),),
    )
    text = junit_xml(report).decode()
    assert "allocator gpu0: 1.0 GiB reserved (peak 2.0 GiB), 0 B allocated" in text
