"""``torchenv verify`` as lines of styled segments: one line per check (PASS green, FAIL red,
SKIP dim) with its time, then throughput against the published peak, then the verdict."""

from __future__ import annotations

from torchenv.models.verify import CheckStatus, VerifyCheck, VerifyReport
from torchenv.report.segments import Emit, Segment

STATUS = {
    CheckStatus.PASS: ("PASS", "bold green"),
    CheckStatus.FAIL: ("FAIL", "bold red"),
    CheckStatus.SKIP: ("SKIP", "dim"),
}


def _label(check: VerifyCheck) -> str:
    return check.id if check.gpu is None else f"{check.id} [cuda:{check.gpu}]"


def render_verify(emit: Emit, report: VerifyReport) -> None:
    t = report.target
    emit([("Environment", "bold"), (f" {t.prefix} ({t.kind}, chosen by {t.selected_by})", None)])
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
