"""Human output as styled segments: the CLI prints them with rich on a terminal, or as plain text
when stdout is piped or NO_COLOR is set (then rich is not even imported).

Segments are (text, style) pairs, never markup, so paths, commands and tool output print exactly
as they are (``[gpu]`` in a fix command survives).
"""

from __future__ import annotations

from torchenv.i18n import N_, _, shown
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
# a finding's severity as its heading shows it
HEADING = {Severity.ERROR: N_("ERROR"), Severity.WARNING: N_("WARNING"), Severity.INFO: N_("INFO")}


def _mib(value: int | None) -> str:
    if value is None:
        return "?"
    return f"{value / 1024:.0f} GiB" if value >= 1024 else f"{value} MiB"


def _notes(notes: tuple[ProbeNote, ...]) -> str:
    return "; ".join(f"{n.source}: {shown(n.message)}" for n in notes)


def _shown_or_none(text: str | None) -> str | None:
    """A model's text as shown; None stays None (printed as such, as it always was)."""
    return shown(text) if text else text


def _target_line(emit: Emit, target: Target) -> None:
    emit_target(emit, target)


def _plain(emit: Emit, text: str) -> None:
    emit([(text, None)])


def _machine(emit: Emit, m: Machine) -> None:
    h = m.host
    where = _(", in a {container} container").format(container=h.container) if h.container else ""
    where += _(", WSL") if h.wsl else ""
    shm = _mib(h.shm_bytes // (1 << 20)) if h.shm_bytes is not None else "?"
    emit([(_("Machine"), "bold")])
    line = _("{os} {arch}, {libc}, {cpus} CPUs{where}; /dev/shm {shm}").format(
        os=h.os_release or h.os,
        arch=h.arch,
        libc=h.libc or "libc ?",
        cpus=h.cpu_count or "?",
        where=where,
        shm=shm,
    )
    _plain(emit, "  " + line)
    d = m.driver
    if d.version and d.cuda_driver_api:
        line = _("NVIDIA driver {version}, CUDA driver API {api} (from {source})").format(
            version=d.version, api=d.cuda_driver_api, source=d.source
        )
        _plain(emit, "  " + line)
    elif d.version:
        line = _("NVIDIA driver {version} (from {source})").format(
            version=d.version, source=d.source
        )
        _plain(emit, "  " + line)
    else:
        _plain(emit, "  " + _("NVIDIA driver: none ({notes})").format(notes=_notes(d.notes)))
    for g in m.gpus:
        hidden = g.index not in m.visible_devices.visible_indices
        emit(
            [
                (
                    f"  GPU{g.index} {g.name}, CC {g.compute_capability or '?'}, "
                    f"{_mib(g.memory_total_mib)}, {g.uuid or ''}",
                    None,
                ),
                (_(" (hidden)") if hidden else "", "dim"),
            ]
        )
    if not m.gpus and m.pci_nvidia_devices:
        devices = ", ".join(m.pci_nvidia_devices)
        _plain(emit, "  " + _("NVIDIA PCI devices: {devices}").format(devices=devices))
    vis = m.visible_devices
    if vis.cuda_visible_devices is not None:
        line = _("CUDA_VISIBLE_DEVICES={value} -> GPUs {indices}").format(
            value=repr(vis.cuda_visible_devices), indices=list(vis.visible_indices)
        )
        _plain(emit, "  " + line)
    for kit in m.toolkits:
        line = _("CUDA toolkit {version} ({found_by}: {path})").format(
            version=kit.version or "?", found_by=kit.found_by, path=kit.nvcc or kit.root
        )
        _plain(emit, "  " + line)
    if not m.toolkits:
        _plain(emit, "  " + _("CUDA toolkit: none (not needed to run pip wheels)"))
    c = m.compilers
    none = _("none")
    line = _("compilers: cc {cc}, c++ {cxx} {version}").format(
        cc=c.cc or none, cxx=c.cxx or none, version=c.cxx_version or ""
    )
    _plain(emit, "  " + line)


def _environment(emit: Emit, env: Environment) -> None:
    i = env.interpreter
    emit(
        [
            (f"  Python {i.version or '?'} {i.executable or ''}", None),
            ("" if i.runs else _(" (does not run)"), "red"),
        ]
    )
    line = _("{count} distributions in {directories}").format(
        count=len(env.distributions), directories=", ".join(env.site_dirs) or "-"
    )
    _plain(emit, "  " + line)
    t = env.torch
    if t is None:
        _plain(emit, "  " + _("torch: not installed"))
    else:
        build = f"CUDA {t.cuda}" if t.cuda else (f"ROCm {t.hip}" if t.hip else _("CPU only"))
        line = _("torch {version} ({build}), installed by {installer}").format(
            version=t.version, build=build, installer=t.installer or "?"
        )
        _plain(emit, "  " + line)
        if t.arch_list:
            _plain(emit, "    " + _("GPU code: {archs}").format(archs=describe(t.arch_list)))
        libs = ", ".join(
            f"{name} {value}"
            for name, value in (("cuDNN", t.cudnn), ("NCCL", t.nccl), ("cudart", t.cuda_runtime))
            if value
        )
        if libs:
            _plain(emit, f"    {libs}")
    for lib in (env.torchvision, env.torchaudio):
        if lib is None:
            continue
        if lib.requires_torch:
            line = _("{name} {version}, requires torch{requirement}").format(
                name=lib.name, version=lib.version, requirement=lib.requires_torch
            )
        else:
            line = f"{lib.name} {lib.version}"
        _plain(emit, "  " + line)
    if env.conda is not None:
        line = _("conda records: {count}").format(count=len(env.conda.records))
        _plain(emit, "  " + line)
    for spec in env.kernels:
        line = _("Jupyter kernel {name} ({scope}): {command}").format(
            name=repr(spec.name), scope=spec.scope, command=_shown_or_none(spec.argv0 or spec.error)
        )
        _plain(emit, "  " + line)


def render_inspect(emit: Emit, report: InspectReport) -> None:
    _target_line(emit, report.target)
    _environment(emit, report.environment)
    _machine(emit, report.machine)


def render_doctor(emit: Emit, report: DoctorReport) -> None:
    _target_line(emit, report.target)
    o = report.outlook
    line = _("torch {torch} ({build}); driver {driver}; {gpus}").format(
        torch=o.torch or "-",
        build=_("none") if o.build == "none" else o.build,  # no torch: "none" in the JSON
        driver=o.driver or _("none"),
        gpus=", ".join(o.gpus) or _("no NVIDIA GPU"),
    )
    _plain(emit, "  " + line)
    verdict = (
        (_("expected to work"), "green")
        if o.cuda_expected
        else (_("not expected to work"), "yellow")
    )
    reason = _(" ({reason})").format(reason=shown(o.reason))
    emit([("  " + _("CUDA: "), None), verdict, (reason, None)])
    for finding in report.findings:
        _plain(emit, "")
        emit(
            [
                (_(HEADING[finding.severity]), STYLE[finding.severity]),
                (" ", None),
                (finding.id, "bold"),
                (f" ({finding.catalog})" if finding.catalog else "", "dim"),
            ]
        )
        _plain(emit, "  " + shown(finding.title))
        for line in finding.evidence:
            emit([("  " + _("seen: "), "dim"), (shown(line), None)])
        for step in finding.fix:
            emit([("  " + _("fix: "), "green"), (shown(step), None)])
    rt = report.runtime
    if rt is not None and rt.ran and not rt.error:
        _plain(emit, "")
        cuda = _("available") if rt.cuda_available else _("NOT available")
        op = {True: _(", GPU matmul OK"), False: _(", GPU matmul FAILED"), None: ""}[rt.op_ok]
        devices = _(", {count} device(s)").format(count=rt.device_count) if rt.device_count else ""
        line = _("import torch {version} took {seconds}s; CUDA {cuda}{devices}{op}").format(
            version=rt.torch_version,
            seconds=f"{rt.seconds:.1f}",
            cuda=cuda,
            devices=devices,
            op=op,
        )
        _plain(emit, line)
    s = report.summary
    _plain(emit, "")
    counts = _(
        "{errors} error(s), {warnings} warning(s), {infos} note(s) from {rules} rules "
        "(fail on: {fail_on})"
    ).format(
        errors=s.errors,
        warnings=s.warnings,
        infos=s.infos,
        rules=s.rules_checked,
        fail_on=s.fail_on.value,
    )
    emit(
        [
            (_("FAIL") if s.failed else _("OK"), "bold red" if s.failed else "bold green"),
            (" " + counts, None),
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
        _plain(emit, "        " + shown(info.summary))
