"""Which GPU a ``--gpu`` value or an nvidia-smi name means, as a compute capability.

Names resolve through the ``match`` patterns of gpus.json (source S12; NVIDIA's list was not
re-read, so a live compute capability from NVML or nvidia-smi always wins over these).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.knowledge.store import load_knowledge
from torchenv.models.compat import GpuModel
from torchenv.models.gpunames import matching, normalise

# CUDA GPUs so far have compute capability majors 3 (Kepler) to 12 (Blackwell GeForce/GB10)
CC_MAJORS = range(3, 13)
_CC = re.compile(r"(\d{1,3})\.(\d)")
_ARCH = re.compile(r"sm_?(\d{1,3})(\d)")
__all__ = ["EXAMPLES", "GpuTarget", "gpu_name_cc", "matching", "normalise", "resolve_gpu"]
EXAMPLES = ("H100", "A100", "L40S", "RTX 4090", "RTX 3060", "GTX 1080", "B200", "GB10")


@dataclass(frozen=True)
class GpuTarget:
    """A GPU to plan for: its display name, compute capability "X.Y", and how it was given."""

    name: str  # "H100 (PCIe/SXM/NVL)", or the value as given for "sm_90" / "9.0"
    cc: str  # "9.0"
    how: str  # "name" | "cc" | "arch"
    # datacenter|workstation|consumer|embedded|desktop: the matched model's; for a CC or an arch,
    # the segment of the known GPUs of that CC when they share one ("8.7" -> embedded: Orin)
    segment: str | None = None


def _cc_in_range(text: str, major: int, minor: int) -> str:
    if major not in CC_MAJORS:
        raise UsageError(
            "gpu-cc-range",
            Msg(
                '--gpu "{value}": no NVIDIA GPU has compute capability {major}.{minor} (the majors '
                "are {first} to {last})",
                value=text,
                major=major,
                minor=minor,
                first=CC_MAJORS.start,
                last=CC_MAJORS.stop - 1,
            ),
            Msg(
                "give the GPU's compute capability as nvidia-smi --query-gpu=compute_cap reports "
                'it, e.g. "8.6", or its name'
            ),
        )
    return f"{major}.{minor}"


def resolve_gpu(text: str, models: Sequence[GpuModel]) -> GpuTarget:
    """``--gpu`` value -> GpuTarget: "sm_90"/"sm90" (an arch), "9.0" (a compute capability) or
    a GPU name ("H100", "rtx 4090", "5090"). Unknown or ambiguous values raise UsageError."""
    value = text.strip()
    lowered = value.lower()
    for how, pattern in (("arch", _ARCH), ("cc", _CC)):
        number = pattern.fullmatch(lowered)
        if number:
            cc = _cc_in_range(value, int(number[1]), int(number[2]))
            segments = {m.segment for m in models if m.cc == cc}
            return GpuTarget(value, cc, how, segments.pop() if len(segments) == 1 else None)
    found = matching(value, models)
    ccs = sorted({m.cc for m in found}, key=lambda c: [int(p) for p in c.split(".")])
    if len(ccs) == 1:
        return GpuTarget(found[0].name, ccs[0], "name", found[0].segment)
    if found:
        options = "; ".join(f"{m.name} ({m.cc})" for m in found)
        raise UsageError(
            "gpu-ambiguous",
            Msg(
                '--gpu "{value}" matches GPUs of different compute capabilities: {options}',
                value=value,
                options=options,
            ),
            Msg('give a fuller name or the compute capability ("8.6") or arch ("sm_86")'),
        )
    raise UsageError(
        "gpu-unknown",
        Msg(
            '--gpu takes a GPU name (e.g. "H100", "RTX 4090"), a compute capability ("8.6") or '
            'an arch ("sm_86"); "{value}" is none of these',
            value=value,
        ),
        Msg(
            "known names include {names}; nvidia-smi --query-gpu=compute_cap --format=csv prints "
            "the compute capability of the GPUs of a machine",
            names=", ".join(EXAMPLES),
        ),
    )


def gpu_name_cc(name: str, models: Sequence[GpuModel] | None = None) -> str | None:
    """The compute capability of a GPU named as nvidia-smi prints it ("NVIDIA A100-SXM4-80GB"),
    None when the name is unknown or matches GPUs of different compute capabilities. Used when
    a machine snapshot lists a GPU without its compute capability."""
    if models is None:
        models = load_knowledge().gpu_models()
    ccs = {m.cc for m in matching(name, models)}
    return ccs.pop() if len(ccs) == 1 else None
