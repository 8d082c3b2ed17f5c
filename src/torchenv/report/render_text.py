"""Human output: rich text on a terminal (no colour with NO_COLOR or when piped)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _mib(value: int | None) -> str:
    if value is None:
        return "?"
    return f"{value / 1024:.0f} GiB" if value >= 1024 else f"{value} MiB"


def _notes(notes: tuple[ProbeNote, ...]) -> str:
    return "; ".join(f"{n.source}: {n.message}" for n in notes)


def _target_line(console: Console, target: Target) -> None:
    console.print(
        f"[bold]Environment[/] {target.prefix} ({target.kind}, chosen by {target.selected_by})",
        highlight=False,
    )


def _machine(console: Console, m: Machine) -> None:
    h = m.host
    where = f", in a {h.container} container" if h.container else ""
    where += ", WSL" if h.wsl else ""
    console.print("[bold]Machine[/]")
    console.print(
        f"  {h.os_release or h.os} {h.arch}, {h.libc or 'libc ?'}, {h.cpu_count or '?'} CPUs"
        f"{where}; /dev/shm {_mib(h.shm_bytes // (1 << 20)) if h.shm_bytes is not None else '?'}",
        highlight=False,
    )
    d = m.driver
    if d.version:
        api = f", CUDA driver API {d.cuda_driver_api}" if d.cuda_driver_api else ""
        console.print(f"  NVIDIA driver {d.version}{api} (from {d.source})", highlight=False)
    else:
        console.print(f"  NVIDIA driver: none ({_notes(d.notes)})", highlight=False)
    for g in m.gpus:
        visible = "" if g.index in m.visible_devices.visible_indices else " [dim](hidden)[/]"
        console.print(
            f"  GPU{g.index} {g.name}, CC {g.compute_capability or '?'}, "
            f"{_mib(g.memory_total_mib)}, {g.uuid or ''}{visible}",
            highlight=False,
        )
    if not m.gpus and m.pci_nvidia_devices:
        console.print(f"  NVIDIA PCI devices: {', '.join(m.pci_nvidia_devices)}", highlight=False)
    if m.visible_devices.cuda_visible_devices is not None:
        console.print(
            f"  CUDA_VISIBLE_DEVICES={m.visible_devices.cuda_visible_devices!r} -> GPUs "
            f"{list(m.visible_devices.visible_indices)}",
            highlight=False,
        )
    for kit in m.toolkits:
        console.print(
            f"  CUDA toolkit {kit.version or '?'} ({kit.found_by}: {kit.nvcc or kit.root})",
            highlight=False,
        )
    if not m.toolkits:
        console.print("  CUDA toolkit: none (not needed to run pip wheels)")
    c = m.compilers
    console.print(f"  compilers: cc {c.cc or 'none'}, c++ {c.cxx or 'none'} {c.cxx_version or ''}")


def _environment(console: Console, env: Environment) -> None:
    i = env.interpreter
    runs = "" if i.runs else " [red](does not run)[/]"
    console.print(f"  Python {i.version or '?'} {i.executable or ''}{runs}", highlight=False)
    console.print(f"  {len(env.distributions)} distributions in {', '.join(env.site_dirs) or '-'}")
    t = env.torch
    if t is None:
        console.print("  torch: not installed")
    else:
        build = f"CUDA {t.cuda}" if t.cuda else ("ROCm " + t.hip if t.hip else "CPU only")
        console.print(
            f"  torch {t.version} ({build}), installed by {t.installer or '?'}", highlight=False
        )
        if t.arch_list:
            console.print(f"    GPU code: {describe(t.arch_list)}", highlight=False)
        libs = ", ".join(
            f"{n} {v}"
            for n, v in (("cuDNN", t.cudnn), ("NCCL", t.nccl), ("cudart", t.cuda_runtime))
            if v
        )
        if libs:
            console.print(f"    {libs}", highlight=False)
    for lib in (env.torchvision, env.torchaudio):
        if lib is not None:
            req = f", requires torch{lib.requires_torch}" if lib.requires_torch else ""
            console.print(f"  {lib.name} {lib.version}{req}", highlight=False)
    if env.conda is not None:
        console.print(f"  conda records: {len(env.conda.records)}")
    for spec in env.kernels:
        console.print(
            f"  Jupyter kernel {spec.name!r} ({spec.scope}): {spec.argv0 or spec.error}",
            highlight=False,
        )


def render_inspect(console: Console, report: InspectReport) -> None:
    _target_line(console, report.target)
    _environment(console, report.environment)
    _machine(console, report.machine)


def render_doctor(console: Console, report: DoctorReport) -> None:
    _target_line(console, report.target)
    o = report.outlook
    gpus = ", ".join(o.gpus) or "no NVIDIA GPU"
    console.print(
        f"  torch {o.torch or '-'} ({o.build}); driver {o.driver or 'none'}; {gpus}",
        highlight=False,
    )
    verdict = "[green]expected to work[/]" if o.cuda_expected else "[yellow]not expected to work[/]"
    console.print(f"  CUDA: {verdict} ({o.reason})", highlight=False)
    for finding in report.findings:
        style = _STYLE[finding.severity]
        console.print(
            f"\n[{style}]{finding.severity.value.upper()}[/] [bold]{finding.id}[/]"
            + (f" [dim]({finding.catalog})[/]" if finding.catalog else ""),
            highlight=False,
        )
        console.print(f"  {finding.title}", highlight=False)
        for line in finding.evidence:
            console.print(f"  [dim]seen:[/] {line}", highlight=False)
        for step in finding.fix:
            console.print(f"  [green]fix:[/] {step}", highlight=False, soft_wrap=True)
    rt = report.runtime
    if rt is not None and rt.ran and not rt.error:
        cuda = "available" if rt.cuda_available else "NOT available"
        op = {True: ", GPU matmul OK", False: ", GPU matmul FAILED", None: ""}[rt.op_ok]
        console.print(
            f"\nimport torch {rt.torch_version} took {rt.seconds:.1f}s; CUDA {cuda}"
            f"{f', {rt.device_count} device(s)' if rt.device_count else ''}{op}",
            highlight=False,
        )
    s = report.summary
    verdict = "[bold red]FAIL[/]" if s.failed else "[bold green]OK[/]"
    console.print(
        f"\n{verdict} {s.errors} error(s), {s.warnings} warning(s), {s.infos} note(s) from "
        f"{s.rules_checked} rules (fail on: {s.fail_on.value})"
    )


def render_rules(console: Console, catalog: RuleCatalog) -> None:
    for info in catalog.rules:
        ref = f" ({info.catalog})" if info.catalog else ""
        deep = " [dim][--deep][/]" if info.needs == "deep" else ""
        console.print(
            f"[{_STYLE[info.severity]}]{info.severity.value:7}[/] [bold]{info.id}[/]{ref}{deep}\n"
            f"        {info.summary}",
            highlight=False,
        )
