"""The summary line of ``doctor``: is CUDA expected to work here, and if not, why not."""

from __future__ import annotations

from torchenv.i18n import Msg
from torchenv.models import Finding, Severity
from torchenv.models.findings import Outlook
from torchenv.report.rules.base import Facts


def _mig(facts: Facts) -> bool:
    """MIG instances are selected by UUID; which GPU they belong to is not known here."""
    return any(e.startswith("MIG-") for e in facts.machine.visible_devices.entries)


def outlook(facts: Facts, findings: tuple[Finding, ...]) -> Outlook:
    m, torch, rt = facts.machine, facts.environment.torch, facts.runtime
    gpus = tuple(f"{g.name} ({g.compute_capability or '?'})" for g in m.gpus)
    verified = rt.cuda_available is True and rt.op_ok is not False if rt and rt.ran else None
    if torch is None:
        return Outlook(
            None, "none", m.driver.version, gpus, False, Msg("torch is not installed"), verified
        )
    if torch.cuda:
        build = f"cuda {torch.cuda}"
    elif torch.hip:
        build = f"rocm {torch.hip}"
    else:
        build = "cpu"
    errors = [f.id for f in findings if f.severity is Severity.ERROR]
    if build == "cpu":
        reason = Msg("CPU-only build: torch.cuda.is_available() is False by construction")
        expected = False
    elif not torch.cuda:
        reason, expected = Msg("not a CUDA build"), False
    elif not m.driver.version:
        reason, expected = Msg("no NVIDIA driver on this machine"), False
    elif not m.gpus or not (m.visible_devices.visible_indices or _mig(facts)):
        reason, expected = Msg("no visible NVIDIA GPU"), False
    elif errors:
        blocked = ", ".join(dict.fromkeys(errors))
        reason, expected = Msg("blocked by: {findings}", findings=blocked), False
    else:
        reason = Msg(
            "CUDA {cuda} build, driver {driver}, GPUs covered",
            cuda=torch.cuda,
            driver=m.driver.version,
        )
        expected = True
    return Outlook(torch.version, build, m.driver.version, gpus, expected, reason, verified)
