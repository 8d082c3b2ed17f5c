"""Judge what needs facts from outside the environment, and put the checks in their order.

The script reports facts (is CUDA available, the devices, the compiled arch list) and the checks
it ran. Here, with what torchenv knows of the host (is an NVIDIA GPU visible) and of the plan the
environment was built from, come ``cuda-available``, ``gpu-arch-in-build`` (the same rule as
``doctor``: models.archs.coverage) and the skip reasons; throughput gets its published peak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from torchenv.models.archs import coverage, describe, unified_tegra
from torchenv.models.verify import (
    CheckStatus,
    PublishedPeak,
    VerifyCheck,
    VerifyPerf,
)
from torchenv.verify.script import ScriptOutput

PASS, FAIL, SKIP = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.SKIP

CPU_CHECKS = ("import-torch", "versions-match-lock", "domain-libraries-agree", "cuda-available")
CPU_TAIL = ("cpu-ops", "torch-compile")
GPU_CHECKS = (
    "gpu-arch-in-build",
    "matmul",
    "conv-cudnn",
    "bf16-autocast",
    "memory-alloc",
    "perf-matmul-bf16",
    "perf-memory-bandwidth",
)
MULTI_GPU_CHECKS = ("nccl-all-reduce",)
# --quick is the container HEALTHCHECK: a few seconds (cpu-ops takes milliseconds, so it stays)
QUICK = frozenset({*CPU_CHECKS, "cpu-ops", "gpu-arch-in-build", "matmul"})
NO_GPU = "no NVIDIA GPU"

PeakLookup = Callable[[str], PublishedPeak | None]


@dataclass(frozen=True)
class HostFacts:
    """What torchenv knows outside the environment."""

    gpu_visible: bool  # /dev/nvidia0 exists or `nvidia-smi -L` lists a GPU
    plan_cuda: str | None = None  # the CUDA version the environment's plan chose
    plan_variant: str | None = None  # "cpu" when the plan chose a CPU build on purpose
    # why a sign of a GPU was not taken as one: "nvidia-smi on PATH did not run: exit code 9..."
    no_gpu_why: str | None = None


def _why_no_gpu(host: HostFacts) -> str:
    return f" ({host.no_gpu_why})" if host.no_gpu_why else ""


def _devices(facts: dict[str, Any]) -> list[dict[str, Any]]:
    devices = facts.get("devices")
    if not isinstance(devices, list):
        return []
    return [d for d in devices if isinstance(d, dict) and isinstance(d.get("index"), int)]


def _build(facts: dict[str, Any]) -> str:
    if facts.get("cuda"):
        return f"CUDA {facts['cuda']} build"
    if facts.get("hip"):
        return f"ROCm {facts['hip']} build"
    return "CPU build"


def gpu_skip_reason(facts: dict[str, Any], host: HostFacts) -> str:
    """Why the per-GPU checks did not run (the script found no usable device)."""
    if "torch" not in facts:
        return "torch does not import"
    if not host.gpu_visible:
        return NO_GPU  # cuda-available says what a CUDA build made of that
    if not (facts.get("cuda") or facts.get("hip")):
        return "CPU build of torch"
    return f"CUDA is unavailable: {facts.get('cuda_error') or 'torch.cuda.is_available() is False'}"


def judge_cuda(facts: dict[str, Any], host: HostFacts) -> VerifyCheck:
    seconds = float(facts.get("cuda_seconds") or 0.0)

    def check(status: CheckStatus, detail: str) -> VerifyCheck:
        return VerifyCheck("cuda-available", status, detail, seconds)

    if "torch" not in facts:
        return check(SKIP, "torch does not import")
    devices = _devices(facts)
    build = _build(facts)
    if facts.get("cuda_available") and devices:
        names = ", ".join(f"{d.get('name')} ({d.get('capability')})" for d in devices)
        return check(PASS, f"{build}, {len(devices)} GPU(s): {names}")
    expected = f"the plan expects CUDA {host.plan_cuda}" if host.plan_cuda else None
    if build == "CPU build":
        if expected:
            return check(FAIL, f"{expected}, but torch {facts.get('torch')} is a CPU build")
        if host.gpu_visible and host.plan_variant == "cpu":
            return check(SKIP, "CPU build, as the plan chose, on a machine with an NVIDIA GPU")
        if host.gpu_visible:
            return check(
                FAIL,
                f"torch {facts.get('torch')} is a CPU build on a machine with an NVIDIA GPU: "
                "it cannot use the GPU",
            )
        return check(SKIP, f"CPU build of torch and {NO_GPU}{_why_no_gpu(host)}")
    why = facts.get("cuda_error") or "torch.cuda.is_available() is False"
    if host.gpu_visible:
        return check(
            FAIL,
            f"{build}, but CUDA is unavailable although an NVIDIA GPU is visible "
            f"(/dev/nvidia0 or nvidia-smi -L): {why}",
        )
    # a CUDA build made for other machines (a CI builder, an image build, a login node): the
    # right build is installed, and CUDA can only be proven where the GPUs are
    smi = _why_no_gpu(host)
    if expected:
        return check(SKIP, f"{build} as {expected}, but {NO_GPU} on this machine to run it{smi}")
    return check(SKIP, f"{build}, but {NO_GPU} on this machine{smi}")


def judge_arch(facts: dict[str, Any], device: dict[str, Any]) -> VerifyCheck:
    index = int(device["index"])
    capability = str(device.get("capability", "?"))
    arch = tuple(a for a in facts.get("arch_list") or () if isinstance(a, str))

    def check(status: CheckStatus, detail: str) -> VerifyCheck:
        return VerifyCheck("gpu-arch-in-build", status, detail, 0.0, index)

    if facts.get("hip"):
        return check(SKIP, f"ROCm build: its gfx targets ({' '.join(arch)}) are not judged here")
    if not arch:
        return check(SKIP, "torch.cuda.get_arch_list() is empty: no arch list to judge")
    torch_version = facts.get("torch") if isinstance(facts.get("torch"), str) else None
    cuda = facts.get("cuda") if isinstance(facts.get("cuda"), str) else None
    how = coverage(arch, capability, unified=unified_tegra(torch_version, cuda))
    listed = describe(arch)
    if how == "native":
        return check(PASS, f"compute capability {capability} runs compiled code ({listed})")
    if how == "ptx":
        return check(
            PASS,
            f"compute capability {capability} runs only through the driver's JIT of PTX "
            f"({listed}): slow first launch of every kernel",
        )
    return check(
        FAIL, f"no kernel image for compute capability {capability} in this build ({listed})"
    )


def _perf(
    raw: dict[str, Any], devices: dict[int, dict[str, Any]], peak_for: PeakLookup
) -> VerifyPerf:
    gpu = int(raw["gpu"])
    name = str(devices.get(gpu, {}).get("name", "?"))
    check = str(raw.get("check", "?"))
    value = float(raw["value"])
    peak = peak_for(name)
    figure = None
    if peak is not None:
        figure = peak.bf16_tflops if check == "perf-matmul-bf16" else peak.memory_gbps
    percent = round(value / figure * 100, 1) if figure else None
    source = f"{peak.name}: {peak.source}" if peak is not None else None
    return VerifyPerf(
        check, gpu, name, round(value, 1), str(raw.get("unit", "")), figure, percent, source
    )


def _with_peak(check: VerifyCheck, perf: VerifyPerf) -> VerifyCheck:
    if perf.peak is None or perf.percent is None:
        extra = f"; no published peak known for {perf.gpu_name}"
    else:
        extra = f" = {perf.percent:.0f}% of the published {perf.peak:g} {perf.unit}"
    return replace(check, detail=check.detail + extra)


def assemble(
    output: ScriptOutput,
    host: HostFacts,
    lock: VerifyCheck,
    quick: bool,
    peak_for: PeakLookup,
    pin_problems: tuple[str, ...] = (),
) -> tuple[tuple[VerifyCheck, ...], tuple[VerifyPerf, ...]]:
    """Every check in its stable order, one per GPU for the per-GPU ones; a check the script did
    not run is a skip that says why."""
    facts = output.facts
    ran = {(c.id, c.gpu): c for c in output.checks}
    devices = {int(d["index"]): d for d in _devices(facts)}
    perf = tuple(_perf(p, devices, peak_for) for p in output.perf)
    by_check = {(p.check, p.gpu): p for p in perf}
    no_torch = "torch does not import" if "torch" not in facts else None

    def get(check_id: str, gpu: int | None, reason: str | None = None) -> VerifyCheck:
        found = ran.get((check_id, gpu))
        if found is not None:
            match = by_check.get((check_id, gpu)) if gpu is not None else None
            return _with_peak(found, match) if match is not None else found
        if reason is None:
            reason = no_torch or ("--quick" if quick and check_id not in QUICK else None)
        return VerifyCheck(check_id, SKIP, reason or "the check script did not run it", 0.0, gpu)

    checks = [get("import-torch", None), lock]
    domain = get("domain-libraries-agree", None)
    if pin_problems and "torch" in facts:
        # the Requires-Dist pins, read from outside: an import can work with the wrong pair
        detail = "; ".join(pin_problems)
        if domain.status is not SKIP:
            detail = f"{domain.detail}; {detail}"
        domain = replace(domain, status=FAIL, detail=detail)
    checks += [domain, judge_cuda(facts, host)]
    checks += [get(c, None) for c in CPU_TAIL]
    if devices:
        for index, device in sorted(devices.items()):
            checks.append(judge_arch(facts, device))
            checks += [get(c, index) for c in GPU_CHECKS[1:]]
        checks += [get(c, None) for c in MULTI_GPU_CHECKS]
    else:
        reason = gpu_skip_reason(facts, host)
        checks += [get(c, None, reason) for c in (*GPU_CHECKS, *MULTI_GPU_CHECKS)]
    return tuple(checks), perf
