"""Human output of ``torchenv diff``: the two sides, then one line per difference, in the spirit
of diff(1): ``-`` only in A, ``+`` only in B, ``~`` in both with another version.

Names and versions come from files somebody else wrote: every value is passed through
``printable`` here (the CLI's printer also shows each segment through ``for_terminal``).
"""

from __future__ import annotations

from torchenv.i18n import N_, _, shown
from torchenv.models.diff import (
    CONDA_PACKAGES,
    DiffReport,
    DiffSide,
    FieldChange,
    MachineDiff,
    TorchDiff,
    TorchSummary,
)
from torchenv.report.segments import Emit
from torchenv.untrusted.text import printable

MACHINE_LABELS = {
    "platform": N_("platform"),
    "os_release": N_("OS"),
    "libc": "libc",
    "driver": N_("NVIDIA driver"),
    "cuda_driver_api": N_("CUDA driver API"),
    "gpus": N_("GPUs"),
    "toolkits": N_("CUDA toolkits"),
}


def _text(value: str | None, missing: str | None = None) -> str:
    if value is None:
        return _("none") if missing is None else missing
    return printable(value)


def _side(emit: Emit, mark: str, letter: str, side: DiffSide, style: str) -> None:
    what = side.kind + (f", {shown(side.detail)}" if side.detail else "")
    emit([(f"{mark} {letter}: ", style), (printable(side.path), "bold"), (f" ({what})", "dim")])


def _build(torch: TorchSummary | None) -> str:
    if torch is None:
        return _("not installed")
    return printable(torch.version)


def torch_line(diff: TorchDiff) -> str:
    """ "torch 2.12.0+cu126 -> 2.13.0+cu130: CUDA 12.6 -> 13.0": the build change on its own
    line, since a variant or CUDA change is what decides whether the GPUs and driver fit."""
    a, b = diff.a, diff.b
    line = f"torch {_build(a)} -> {_build(b)}"
    parts = []
    if "cuda" in diff.changed:
        parts.append(f"CUDA {_text(a.cuda if a else None)} -> {_text(b.cuda if b else None)}")
    # the variant is shown when its change is not already plain from CUDA's
    if "variant" in diff.changed and "cuda" not in diff.changed:
        change = _("variant {a} -> {b}").format(
            a=_text(a.variant if a else None, "?"), b=_text(b.variant if b else None, "?")
        )
        parts.append(change)
    return line + (": " + ", ".join(parts) if parts else "")


def _machine(emit: Emit, diff: MachineDiff) -> None:
    if not diff.changed:
        same = _("the same driver, GPUs, toolkits and platform")
        emit([(_("Machines: "), "bold"), (same, None)])
        return
    emit([(_("Machines:"), "bold")])
    for change in diff.changed:
        _field(emit, change)


def _field(emit: Emit, change: FieldChange) -> None:
    label = MACHINE_LABELS.get(change.field)
    emit(
        [
            ("~ ", "yellow"),
            (_("{field}: ").format(field=change.field if label is None else _(label)), None),
            (_text(change.a), None),
            (" -> ", "dim"),
            (_text(change.b), None),
        ]
    )


def _summary(report: DiffReport) -> str:
    what = _("conda packages") if report.packages == CONDA_PACKAGES else _("Python packages")
    counts = _("{added} added, {removed} removed, {changed} changed").format(
        added=len(report.added), removed=len(report.removed), changed=len(report.changed)
    )
    return _("{packages}: {counts}").format(packages=what, counts=counts)


def render_diff(emit: Emit, report: DiffReport) -> None:
    _side(emit, "---", "a", report.a, "red")
    _side(emit, "+++", "b", report.b, "green")
    if report.packages is not None:
        emit([(_summary(report), "bold")])
        for entry in report.removed:
            emit(
                [
                    ("- ", "red"),
                    (printable(entry.name), None),
                    (f" {_text(entry.version, '?')}", None),
                ]
            )
        for entry in report.added:
            emit(
                [
                    ("+ ", "green"),
                    (printable(entry.name), None),
                    (f" {_text(entry.version, '?')}", None),
                ]
            )
        for change in report.changed:
            emit(
                [
                    ("~ ", "yellow"),
                    (printable(change.name), None),
                    (f" {_text(change.a, '?')}", None),
                    (" -> ", "dim"),
                    (_text(change.b, "?"), None),
                ]
            )
    if report.torch is not None and report.torch.changed:
        emit([(torch_line(report.torch), "bold")])
    if report.machine is not None:
        _machine(emit, report.machine)
    for note in report.notes:
        emit([(_("note: "), "dim"), (printable(shown(note)), None)])
    if report.same:
        emit([(_("No differences."), "bold green")])
    else:
        emit([(_("They differ."), "bold yellow")])
