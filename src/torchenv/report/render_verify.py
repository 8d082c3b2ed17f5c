"""``torchenv verify`` as lines of styled segments: one line per check (PASS green, FAIL red,
SKIP dim) with its time, then throughput against the published peak, then the verdict."""

from __future__ import annotations

from torchenv.models.verify import AllocatorState, CheckStatus, VerifyCheck, VerifyReport
from torchenv.report.segments import Emit, Segment, emit_target

STATUS = {
    CheckStatus.PASS: ("PASS", "bold green"),
    CheckStatus.FAIL: ("FAIL", "bold red"),
    CheckStatus.SKIP: ("SKIP", "dim"),
}


def _label(check: VerifyCheck) -> str:
    return check.id if check.gpu is None else f"{check.id} [cuda:{check.gpu}]"


def render_verify(emit: Emit, report: VerifyReport) -> None:
    t = report.target
    emit_target(emit, t)
    build = f"torch {report.torch}" if report.torch else "torch not importable"
    if report.torch:
        build += f", CUDA {report.cuda}" if report.cuda else ", no CUDA"
    emit([(f"  {build}; Python {report.python or '?'} at {t.python}", None)])
    emit([])
    width = max((len(_label(c)) for c in report.checks), default=0)
    for check in report.checks:
        word, style = STATUS[check.status]
        detail_style = "dim" if check.status is CheckStatus.SKIP else None
        emit(
            [
                ("  ", None),
                (word, style),
                ("  ", None),
                (_label(check).ljust(width), "bold" if check.status is CheckStatus.FAIL else None),
                (f"  {check.seconds:6.2f}s  ", "dim"),
                (check.detail, detail_style),
            ]
        )
    if report.perf.entries:
        emit([])
        emit([("Throughput", "bold")])
        for perf in report.perf.entries:
            what = "bf16 matmul" if perf.check == "perf-matmul-bf16" else "memory bandwidth"
            line: list[Segment] = [
                (f"  cuda:{perf.gpu} {perf.gpu_name}: {what} {perf.value:g} {perf.unit}", None)
            ]
            if perf.percent is not None and perf.peak is not None:
                line.append((f" = {perf.percent:.0f}% of peak", "bold"))
                line.append((f" ({perf.peak:g} {perf.unit}, {perf.peak_source})", "dim"))
            else:
                line.append((" (no published peak known for this GPU)", "dim"))
            emit(line)
    if report.allocator:
        emit([])
        after = " (after the checks, before releasing its cache)"
        emit([("Memory allocator", "bold"), (after, "dim")])
        for state in report.allocator:
            emit([(f"  cuda:{state.gpu}: ", None), *allocator_segments(state)])
    s = report.summary
    emit([])
    verdict = ("FAIL", "bold red") if s.failed else ("OK", "bold green")
    mode = " (--quick)" if s.quick else ""
    emit(
        [
            verdict,
            (
                f" {s.passed} passed, {s.failed} failed, {s.skipped} skipped in "
                f"{s.seconds:.1f}s{mode}",
                None,
            ),
        ]
    )


def size_text(size: int) -> str:
    """Bytes in binary units, as torch's memory_summary shows them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def allocator_segments(state: AllocatorState) -> list[Segment]:
    if state.error is not None:
        return [(f"torch could not read it: {state.error}", "dim")]
    text = (
        f"{size_text(state.reserved_bytes)} reserved (peak {size_text(state.peak_reserved_bytes)})"
        f", {size_text(state.allocated_bytes)} allocated "
        f"(peak {size_text(state.peak_allocated_bytes)}), fragmentation "
        f"{state.fragmentation:.0%}"
    )
    segments: list[Segment] = [(text, None)]
    trouble = []
    if state.alloc_retries:
        trouble.append(f"{state.alloc_retries} cudaMalloc retries")
    if state.ooms:
        trouble.append(f"{state.ooms} out-of-memory errors")
    if trouble:
        segments.append((", " + ", ".join(trouble), "bold yellow"))
    return segments
