"""GPU names as NVML and nvidia-smi print them, matched against the known models of gpus.json
(source S12). Pure functions on the models, shared by the knowledge layer (``--gpu`` values,
published peaks) and the diagnosis rules (which kind of GPU a finding is about)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from torchenv.models.compat import GpuModel

# words nvidia-smi adds to names ("NVIDIA GeForce RTX 4090", "Tesla V100-SXM2-16GB")
_NOISE = re.compile(r"\b(nvidia|geforce|tesla)\b")


def normalise(name: str) -> str:
    """ "NVIDIA GeForce RTX 3060 Laptop GPU" -> "rtx 3060 laptop gpu", "A100-SXM4" -> "a100 sxm4"
    (lower case, without the words nvidia-smi adds, "-" and "_" as spaces)."""
    text = _NOISE.sub(" ", name.lower().replace("-", " ").replace("_", " "))
    return " ".join(text.split())


def matching(name: str, models: Sequence[GpuModel]) -> list[GpuModel]:
    """The models whose patterns match ``name`` (empty for an unknown or blank name)."""
    text = normalise(name)
    if not text:
        return []
    return [m for m in models if any(re.search(p, text) for p in m.match)]


def segment_of(name: str, models: Sequence[GpuModel]) -> str | None:
    """datacenter|workstation|consumer|embedded|desktop when every known model the name
    matches agrees; "consumer" for any GeForce or TITAN; None for an unknown name."""
    segments = {m.segment for m in matching(name, models)}
    if len(segments) == 1:
        return segments.pop()
    if re.search(r"\b(geforce|titan)\b", name.lower()):
        return "consumer"
    return None
