"""Human output: rich text on a terminal (no colour with NO_COLOR or when piped).

Every dynamic value goes through ``_esc``: paths, commands and tool output must never be read as
rich markup (``[gpu]`` in a fix command would silently vanish).
"""

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


def _esc(value: object) -> str:
    from rich.markup import escape  # noqa: PLC0415

    return escape(str(value))


def _say(console: Console, markup: str) -> None:
    console.print(markup, highlight=False, soft_wrap=True)


def _mib(value: int | None) -> str:
    if value is None:
        return "?"
    return f"{value / 1024:.0f} GiB" if value >= 1024 else f"{value} MiB"


def _notes(notes: tuple[ProbeNote, ...]) -> str:
    return _esc("; ".join(f"{n.source}: {n.message}" for n in notes))


def _target_line(console: Console, target: Target) -> None:
    _say(
        console,
        f"[bold]Environment[/] {_esc(target.prefix)} ({_esc(target.kind)}, chosen by "
        f"{_esc(target.selected_by)})",
    )


def _machine(console: Console, m: Machine) -> None:
    h = m.host
    where = f", in a {_esc(h.container)} container" if h.container else ""
    where += ", WSL" if h.wsl else ""
    shm = _mib(h.shm_bytes // (1 << 20)) if h.shm_bytes is not None else "?"
    _say(console, "[bold]Machine[/]")
    _say(
        console,
        f"  {_esc(h.os_release or h.os)} {_esc(h.arch)}, {_esc(h.libc or 'libc ?')}, "
        f"{h.cpu_count or '?'} CPUs{where}; /dev/shm {shm}",
    )
    d = m.driver
    if d.version:
        api = f", CUDA driver API {_esc(d.cuda_driver_api)}" if d.cuda_driver_api else ""
        _say(console, f"  NVIDIA driver {_esc(d.version)}{api} (from {_esc(d.source)})")
    else:
        _say(console, f"  NVIDIA driver: none ({_notes(d.notes)})")
    for g in m.gpus:
        hidden = "" if g.index in m.visible_devices.visible_indices else " [dim](hidden)[/]"
        _say(
            console,
            f"  GPU{g.index} {_esc(g.name)}, CC {_esc(g.compute_capability or '?')}, "
            f"{_mib(g.memory_total_mib)}, {_esc(g.uuid or '')}{hidden}",
        )
    if not m.gpus and m.pci_nvidia_devices:
        _say(console, f"  NVIDIA PCI devices: {_esc(', '.join(m.pci_nvidia_devices))}")
    vis = m.visible_devices
    if vis.cuda_visible_devices is not None:
        _say(
            console,
            f"  CUDA_VISIBLE_DEVICES={_esc(repr(vis.cuda_visible_devices))} -> GPUs "
            f"{_esc(list(vis.visible_indices))}",
        )
    for kit in m.toolkits:
        _say(
            console,
            f"  CUDA toolkit {_esc(kit.version or '?')} ({_esc(kit.found_by)}: "
            f"{_esc(kit.nvcc or kit.root)})",
        )
    if not m.toolkits:
        _say(console, "  CUDA toolkit: none (not needed to run pip wheels)")
    c = m.compilers
    _say(
        console,
        f"  compilers: cc {_esc(c.cc or 'none')}, c++ {_esc(c.cxx or 'none')} "
        f"{_esc(c.cxx_version or '')}",
    )


def _environment(console: Console, env: Environment) -> None:
    i = env.interpreter
    runs = "" if i.runs else " [red](does not run)[/]"
    _say(console, f"  Python {_esc(i.version or '?')} {_esc(i.executable or '')}{runs}")
    _say(
        console,
        f"  {len(env.distributions)} distributions in {_esc(', '.join(env.site_dirs) or '-')}",
    )
    t = env.torch
    if t is None:
        _say(console, "  torch: not installed")
    else:
        build = f"CUDA {t.cuda}" if t.cuda else (f"ROCm {t.hip}" if t.hip else "CPU only")
        _say(
            console,
            f"  torch {_esc(t.version)} ({_esc(build)}), installed by {_esc(t.installer or '?')}",
        )
        if t.arch_list:
            _say(console, f"    GPU code: {_esc(describe(t.arch_list))}")
        libs = ", ".join(
            f"{name} {value}"
            for name, value in (("cuDNN", t.cudnn), ("NCCL", t.nccl), ("cudart", t.cuda_runtime))
            if value
        )
        if libs:
            _say(console, f"    {_esc(libs)}")
    for lib in (env.torchvision, env.torchaudio):
        if lib is not None:
            req = f", requires torch{lib.requires_torch}" if lib.requires_torch else ""
            _say(console, f"  {_esc(lib.name)} {_esc(lib.version)}{_esc(req)}")
    if env.conda is not None:
        _say(console, f"  conda records: {len(env.conda.records)}")
    for spec in env.kernels:
        _say(
            console,
            f"  Jupyter kernel {_esc(repr(spec.name))} ({_esc(spec.scope)}): "
            f"{_esc(spec.argv0 or spec.error)}",
        )


def render_inspect(console: Console, report: InspectReport) -> None:
    _target_line(console, report.target)
    _environment(console, report.environment)
    _machine(console, report.machine)


def render_doctor(console: Console, report: DoctorReport) -> None:
    _target_line(console, report.target)
    o = report.outlook
    gpus = ", ".join(o.gpus) or "no NVIDIA GPU"
    _say(
        console,
        f"  torch {_esc(o.torch or '-')} ({_esc(o.build)}); driver "
        f"{_esc(o.driver or 'none')}; {_esc(gpus)}",
    )
    verdict = "[green]expected to work[/]" if o.cuda_expected else "[yellow]not expected to work[/]"
    _say(console, f"  CUDA: {verdict} ({_esc(o.reason)})")
    for finding in report.findings:
        style = _STYLE[finding.severity]
        catalog = f" [dim]({_esc(finding.catalog)})[/]" if finding.catalog else ""
        _say(
            console,
            f"\n[{style}]{finding.severity.value.upper()}[/] [bold]{_esc(finding.id)}[/]{catalog}",
        )
        _say(console, f"  {_esc(finding.title)}")
        for line in finding.evidence:
            _say(console, f"  [dim]seen:[/] {_esc(line)}")
        for step in finding.fix:
            _say(console, f"  [green]fix:[/] {_esc(step)}")
    rt = report.runtime
    if rt is not None and rt.ran and not rt.error:
        cuda = "available" if rt.cuda_available else "NOT available"
        op = {True: ", GPU matmul OK", False: ", GPU matmul FAILED", None: ""}[rt.op_ok]
        devices = f", {rt.device_count} device(s)" if rt.device_count else ""
        _say(
            console,
            f"\nimport torch {_esc(rt.torch_version)} took {rt.seconds:.1f}s; CUDA {cuda}"
            f"{devices}{op}",
        )
    s = report.summary
    verdict = "[bold red]FAIL[/]" if s.failed else "[bold green]OK[/]"
    _say(
        console,
        f"\n{verdict} {s.errors} error(s), {s.warnings} warning(s), {s.infos} note(s) from "
        f"{s.rules_checked} rules (fail on: {s.fail_on.value})",
    )


def render_rules(console: Console, catalog: RuleCatalog) -> None:
    for info in catalog.rules:
        ref = f" ({_esc(info.catalog)})" if info.catalog else ""
        deep = " [dim]\\[--deep][/]" if info.needs == "deep" else ""
        _say(
            console,
            f"[{_STYLE[info.severity]}]{info.severity.value:7}[/] [bold]{_esc(info.id)}[/]"
            f"{ref}{deep}\n        {_esc(info.summary)}",
        )
