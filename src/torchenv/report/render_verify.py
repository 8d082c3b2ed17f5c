"""``torchenv verify`` as lines of styled segments: one line per check (PASS green, FAIL red,
SKIP dim) with its time, then throughput against the published peak, then the verdict."""

from __future__ import annotations

from collections.abc import Callable

from torchenv.i18n import N_, _, shown
from torchenv.models.verify import AllocatorState, CheckStatus, VerifyCheck, VerifyReport
from torchenv.report.segments import Emit, Segment, emit_target

STATUS = {
    CheckStatus.PASS: (N_("PASS"), "bold green"),
    CheckStatus.FAIL: (N_("FAIL"), "bold red"),
    CheckStatus.SKIP: (N_("SKIP"), "dim"),
}


def _label(check: VerifyCheck) -> str:
    return check.id if check.gpu is None else f"{check.id} [cuda:{check.gpu}]"


def _build(report: VerifyReport) -> str:
    if not report.torch:
        return _("torch not importable")
    if report.cuda:
        return f"torch {report.torch}, CUDA {report.cuda}"
    return _("torch {version}, no CUDA").format(version=report.torch)


def render_verify(emit: Emit, report: VerifyReport) -> None:
    t = report.target
    emit_target(emit, t)
    line = _("{build}; Python {python} at {path}").format(
        build=_build(report), python=report.python or "?", path=t.python
    )
    emit([("  " + line, None)])
    emit([])
    width = max((len(_label(c)) for c in report.checks), default=0)
    for check in report.checks:
        word, style = STATUS[check.status]
        detail_style = "dim" if check.status is CheckStatus.SKIP else None
        emit(
            [
                ("  ", None),
                (_(word), style),
                ("  ", None),
                (_label(check).ljust(width), "bold" if check.status is CheckStatus.FAIL else None),
                (f"  {check.seconds:6.2f}s  ", "dim"),
                (shown(check.detail), detail_style),
            ]
        )
    if report.perf.entries:
        emit([])
        emit([(_("Throughput"), "bold")])
        for perf in report.perf.entries:
            what = _("bf16 matmul") if perf.check == "perf-matmul-bf16" else _("memory bandwidth")
            line_segments: list[Segment] = [
                (f"  cuda:{perf.gpu} {perf.gpu_name}: {what} {perf.value:g} {perf.unit}", None)
            ]
            if perf.percent is not None and perf.peak is not None:
                percent = _(" = {percent} of peak").format(percent=f"{perf.percent:.0f}%")
                line_segments.append((percent, "bold"))
                line_segments.append((f" ({perf.peak:g} {perf.unit}, {perf.peak_source})", "dim"))
            else:
                line_segments.append((_(" (no published peak known for this GPU)"), "dim"))
            emit(line_segments)
    if report.allocator:
        emit([])
        after = _(" (after the checks, before releasing its cache)")
        emit([(_("Memory allocator"), "bold"), (after, "dim")])
        for state in report.allocator:
            emit([(f"  cuda:{state.gpu}: ", None), *allocator_segments(state, _)])
    s = report.summary
    emit([])
    verdict = (_("FAIL"), "bold red") if s.failed else (_("OK"), "bold green")
    mode = _(" (--quick)") if s.quick else ""
    counts = _("{passed} passed, {failed} failed, {skipped} skipped in {seconds}s").format(
        passed=s.passed, failed=s.failed, skipped=s.skipped, seconds=f"{s.seconds:.1f}"
    )
    emit([verdict, (f" {counts}{mode}", None)])


def size_text(size: int) -> str:
    """Bytes in binary units, as torch's memory_summary shows them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _english(message: str) -> str:
    return message


def allocator_segments(
    state: AllocatorState, translate: Callable[[str], str] = _english
) -> list[Segment]:
    """The allocator's state in words: English by default (the JUnit report is English);
    ``translate=i18n._`` for the terminal."""
    if state.error is not None:
        return [
            (translate(N_("torch could not read it: {error}")).format(error=state.error), "dim")
        ]
    text = translate(
        N_(
            "{reserved} reserved (peak {peak_reserved}), {allocated} allocated "
            "(peak {peak_allocated}), fragmentation {fragmentation}"
        )
    ).format(
        reserved=size_text(state.reserved_bytes),
        peak_reserved=size_text(state.peak_reserved_bytes),
        allocated=size_text(state.allocated_bytes),
        peak_allocated=size_text(state.peak_allocated_bytes),
        fragmentation=f"{state.fragmentation:.0%}",
    )
    segments: list[Segment] = [(text, None)]
    trouble = []
    if state.alloc_retries:
        retries = translate(N_("{count} cudaMalloc retries"))
        trouble.append(retries.format(count=state.alloc_retries))
    if state.ooms:
        trouble.append(translate(N_("{count} out-of-memory errors")).format(count=state.ooms))
    if trouble:
        segments.append((", " + ", ".join(trouble), "bold yellow"))
    return segments
