"""CUDA_VISIBLE_DEVICES, parsed exactly as torch parses it, and mapped onto the GPUs found.

The parser mirrors ``_parse_visible_devices`` and ``_transform_uuid_to_ordinals`` in torch 2.13's
``torch/cuda/__init__.py`` (read from the 2.13.0 wheel): integers are read like C ``strtoul``
(``1gpu2`` is 1), a negative or non-numeric entry ends the list, a repeated entry makes the whole
list empty, and UUID entries (``GPU-``/``MIG-``) match by unique prefix. CUDA itself stops at the
first ordinal that names no device, so ``0,7,1`` on a 2-GPU machine shows only GPU 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from torchenv.models import Gpu, VisibleDevices


def _strtoul(text: str) -> int:
    """The leading integer of ``text`` ("1gpu" -> 1), or -1 when there is none."""
    end = 0
    for i, char in enumerate(text):
        if char.isdigit() or (i == 0 and char in "+-"):
            end = i + 1
        else:
            break
    try:
        return int(text[:end]) if end else -1
    except ValueError:  # a lone "+" or "-"
        return -1


def parse_visible_devices(value: str) -> tuple[list[str], str | None]:
    """The entries torch keeps, and why the list is empty when it hides every GPU."""
    if value.startswith(("GPU-", "MIG-")):
        prefix = value[:4]
        kept: list[str] = []
        for elem in value.split(","):
            if elem in kept:
                return [], f"{elem} is listed twice, so CUDA sees no device"
            if not elem.startswith(prefix):
                break
            kept.append(elem)
        return kept, None
    ordinals: list[int] = []
    for elem in value.split(","):
        number = _strtoul(elem.strip())
        if number in ordinals:
            return [], f"device {number} is listed twice, so CUDA sees no device"
        if number < 0:
            break
        ordinals.append(number)
    if not ordinals:
        shown = value if value.strip() else "an empty string"
        return [], f"{shown} names no device"
    return [str(n) for n in ordinals], None


def map_visible_devices(env: Mapping[str, str], gpus: Sequence[Gpu]) -> VisibleDevices:
    raw = env.get("CUDA_VISIBLE_DEVICES")
    base = VisibleDevices(
        cuda_visible_devices=raw,
        nvidia_visible_devices=env.get("NVIDIA_VISIBLE_DEVICES"),
        cuda_device_order=env.get("CUDA_DEVICE_ORDER"),
    )
    if raw is None:
        return replace(base, visible_indices=tuple(g.index for g in gpus))
    entries, problem = parse_visible_devices(raw)
    if entries and entries[0].startswith("MIG-"):
        # MIG instance UUIDs are not GPU UUIDs; NVML would be needed to map them, so we don't.
        return replace(base, entries=tuple(entries))
    indices: list[int] = []
    unmatched: list[str] = []
    for entry in entries:
        index = _resolve(entry, gpus)
        if index is None or index in indices:
            unmatched.append(entry)
            break  # CUDA stops at the first entry that names no device
        indices.append(index)
    return replace(
        base,
        entries=tuple(entries),
        visible_indices=tuple(indices),
        unmatched=tuple(unmatched),
        problem=problem,
    )


def _resolve(entry: str, gpus: Sequence[Gpu]) -> int | None:
    if entry.startswith(("GPU-", "MIG-")):
        matches = [g.index for g in gpus if g.uuid and g.uuid.startswith(entry)]
        return matches[0] if len(matches) == 1 else None
    ordinal = int(entry)
    # Ordinals count the GPUs in the driver's enumeration, which nvidia-smi/NVML report as index.
    return ordinal if any(g.index == ordinal for g in gpus) else None
