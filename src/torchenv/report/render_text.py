"""Human output as styled segments: the CLI prints them with rich on a terminal, or as plain text
when stdout is piped or NO_COLOR is set (then rich is not even imported).

Segments are (text, style) pairs, never markup, so paths, commands and tool output print exactly
as they are (``[gpu]`` in a fix command survives).
"""

from __future__ import annotations

from torchenv.models import (
    DoctorReport,
    Environment,
    InspectReport,
    Machine,
    ProbeNote,
    RuleCatalog,
    Severity,
    Target,
)
from torchenv.models.archs import describe
from torchenv.report.segments import Emit, Segment, emit_target

__all__ = ["Emit", "Segment", "render_doctor", "render_inspect", "render_rules"]

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _mib(value: int | None) -> str:
    if value is None:
        return "?"
    return f"{value / 1024:.0f} GiB" if value >= 1024 else f"{value} MiB"


def _notes(notes: tuple[ProbeNote, ...]) -> str:
    return "; ".join(f"{n.source}: {n.message}" for n in notes)


def _target_line(emit: Emit, target: Target) -> None:
    emit_target(emit, target)


def _plain(emit: Emit, text: str) -> None:
    emit([(text, None)])


def _machine(emit: Emit, m: Machine) -> None:
    h = m.host
    where = f", in a {h.container} container" if h.container else ""
    where += ", WSL" if h.wsl else ""
    shm = _mib(h.shm_bytes // (1 << 20)) if h.shm_bytes is not None else "?"
    emit([("Machine", "bold")])
    _plain(
        emit,
        f"  {h.os_release or h.os} {h.arch}, {h.libc or 'libc ?'}, {h.cpu_count or '?'} CPUs"
        f"{where}; /dev/shm {shm}",
    )
    d = m.driver
    if d.version:
        api = f", CUDA driver API {d.cuda_driver_api}" if d.cuda_driver_api else ""
        _plain(emit, f"  NVIDIA driver {d.version}{api} (from {d.source})")
    else:
        _plain(emit, f"  NVIDIA driver: none ({_notes(d.notes)})")
    for g in m.gpus:
        hidden = g.index not in m.visible_devices.visible_indices
        emit(
            [
                (
                    f"  GPU{g.index} {g.name}, CC {g.compute_capability or '?'}, "
                    f"{_mib(g.memory_total_mib)}, {g.uuid or ''}",
                    None,
                ),
                (" (hidden)" if hidden else "", "dim"),
            ]
        )
    if not m.gpus and m.pci_nvidia_devices:
        _plain(emit, f"  NVIDIA PCI devices: {', '.join(m.pci_nvidia_devices)}")
    vis = m.visible_devices
    if vis.cuda_visible_devices is not None:
        _plain(
            emit,
            f"  CUDA_VISIBLE_DEVICES={vis.cuda_visible_devices!r} -> GPUs "
            f"{list(vis.visible_indices)}",
        )
    for kit in m.toolkits:
        _plain(
            emit, f"  CUDA toolkit {kit.version or '?'} ({kit.found_by}: {kit.nvcc or kit.root})"
        )
    if not m.toolkits:
        _plain(emit, "  CUDA toolkit: none (not needed to run pip wheels)")
    c = m.compilers
    _plain(emit, f"  compilers: cc {c.cc or 'none'}, c++ {c.cxx or 'none'} {c.cxx_version or ''}")


def _environment(emit: Emit, env: Environment) -> None:
    i = env.interpreter
    emit(
        [
            (f"  Python {i.version or '?'} {i.executable or ''}", None),
            ("" if i.runs else " (does not run)", "red"),
        ]
    )
    _plain(emit, f"  {len(env.distributions)} distributions in {', '.join(env.site_dirs) or '-'}")
    t = env.torch
    if t is None:
        _plain(emit, "  torch: not installed")
    else:
        build = f"CUDA {t.cuda}" if t.cuda else (f"ROCm {t.hip}" if t.hip else "CPU only")
        _plain(emit, f"  torch {t.version} ({build}), installed by {t.installer or '?'}")
        if t.arch_list:
            _plain(emit, f"    GPU code: {describe(t.arch_list)}")
        libs = ", ".join(
            f"{name} {value}"
            for name, value in (("cuDNN", t.cudnn), ("NCCL", t.nccl), ("cudart", t.cuda_runtime))
            if value
        )
        if libs:
            _plain(emit, f"    {libs}")
    for lib in (env.torchvision, env.torchaudio):
        if lib is not None:
            req = f", requires torch{lib.requires_torch}" if lib.requires_torch else ""
            _plain(emit, f"  {lib.name} {lib.version}{req}")
    if env.conda is not None:
        _plain(emit, f"  conda records: {len(env.conda.records)}")
    for spec in env.kernels:
        _plain(emit, f"  Jupyter kernel {spec.name!r} ({spec.scope}): {spec.argv0 or spec.error}")


def render_inspect(emit: Emit, report: InspectReport) -> None:
    _target_line(emit, report.target)
    _environment(emit, report.environment)
    _machine(emit, report.machine)


def render_doctor(emit: Emit, report: DoctorReport) -> None:
    _target_line(emit, report.target)
    o = report.outlook
    gpus = ", ".join(o.gpus) or "no NVIDIA GPU"
    _plain(emit, f"  torch {o.torch or '-'} ({o.build}); driver {o.driver or 'none'}; {gpus}")
    verdict = (
        ("expected to work", "green") if o.cuda_expected else ("not expected to work", "yellow")
    )
    emit([("  CUDA: ", None), verdict, (f" ({o.reason})", None)])
    for finding in report.findings:
        _plain(emit, "")
        emit(
            [
                (finding.severity.value.upper(), STYLE[finding.severity]),
                (" ", None),
                (finding.id, "bold"),
                (f" ({finding.catalog})" if finding.catalog else "", "dim"),
            ]
        )
        _plain(emit, f"  {finding.title}")
        for line in finding.evidence:
            emit([("  seen: ", "dim"), (line, None)])
        for step in finding.fix:
            emit([("  fix: ", "green"), (step, None)])
    rt = report.runtime
    if rt is not None and rt.ran and not rt.error:
        cuda = "available" if rt.cuda_available else "NOT available"
        op = {True: ", GPU matmul OK", False: ", GPU matmul FAILED", None: ""}[rt.op_ok]
        devices = f", {rt.device_count} device(s)" if rt.device_count else ""
        _plain(emit, "")
        _plain(
            emit,
            f"import torch {rt.torch_version} took {rt.seconds:.1f}s; CUDA {cuda}{devices}{op}",
        )
    s = report.summary
    _plain(emit, "")
    emit(
        [
            ("FAIL" if s.failed else "OK", "bold red" if s.failed else "bold green"),
            (
                f" {s.errors} error(s), {s.warnings} warning(s), {s.infos} note(s) from "
                f"{s.rules_checked} rules (fail on: {s.fail_on.value})",
                None,
            ),
        ]
    )


def render_rules(emit: Emit, catalog: RuleCatalog) -> None:
    for info in catalog.rules:
        emit(
            [
                (f"{info.severity.value:7}", STYLE[info.severity]),
                (" ", None),
                (info.id, "bold"),
                (f" ({info.catalog})" if info.catalog else "", None),
                (" [--deep]" if info.needs == "deep" else "", "dim"),
            ]
        )
        _plain(emit, f"        {info.summary}")
