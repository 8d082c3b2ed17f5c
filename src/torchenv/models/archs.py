"""Which GPUs the code compiled into a build can run on.

The rule is torch's own (``DEVICE_REQUIREMENT`` in torch 2.13's ``torch/cuda/__init__.py``, read
from the 2.13.0 wheel): a cubin for ``sm_XY`` runs on devices of the same major with minor >= Y,
except that Jetson integrated GPUs (5.3, 6.2, 7.2, 8.7, and 10.1/11.0 for Thor) only run code built
for exactly them. ``sm_XYa`` cubins run on exactly X.Y; ``sm_XYf`` on the family (same major, minor
>= Y). PTX (``compute_XY``) is JIT-compiled by the driver for any device of CC >= X.Y, newer
majors included (NVIDIA CUDA C++ Programming Guide, "Binary Compatibility" / "PTX Compatibility").
torch 2.15 builds with CUDA >= 13.2 also run sm_70/sm_80/sm_86 cubins on the Jetson variants 7.2
and 8.7 (``DEVICE_REQUIREMENT_POST_JETSON_SBSA_UNIFICATION``, failure catalog 3.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import mmap

# Code CC -> the device CCs it runs on, where torch's table differs from "same major, minor >= ".
_IGPU = frozenset({53, 62, 72, 87, 101, 110})
_EXACT_SETS: dict[int, frozenset[int]] = {
    53: frozenset({53}),
    62: frozenset({62}),
    72: frozenset({72}),
    87: frozenset({87}),
    # "101 was renamed to 110" (Jetson Thor); torch treats the two numbers as one device.
    101: frozenset({101, 110}),
}

_TOKEN = re.compile(r"^(sm|compute)_(\d+)([af]?)$")

# The CUDA_ARCH_FLAGS literal compiled into torch/lib/libtorch_python.so (what
# torch.cuda.get_arch_list() returns; failure catalog 2.2). It always starts with an sm_ entry; the
# literal prefix keeps a scan of the ~30 MB library at ~10 ms.
ARCH_FLAGS = re.compile(rb"sm_\d+[af]?(?: (?:sm|compute)_\d+[af]?)+")


def find_arch_flags(data: bytes | bytearray | memoryview | mmap.mmap) -> tuple[str, ...]:
    """The arch list in the bytes of a compiled torch library: the longest flags string, () when
    there is none (CPU and ROCm builds)."""
    flags = [m.group() for m in ARCH_FLAGS.finditer(data)]
    return tuple(max(flags, key=len).decode("ascii").split()) if flags else ()


@dataclass(frozen=True)
class ArchCode:
    kind: str  # "sm" (cubin) or "compute" (PTX)
    cc: int  # 90 for sm_90
    suffix: str  # "", "a" (arch-specific) or "f" (family)

    @property
    def label(self) -> str:
        return f"{self.kind}_{self.cc}{self.suffix}"


def parse_arch(token: str) -> ArchCode | None:
    match = _TOKEN.match(token.strip())
    if match is None:
        return None
    return ArchCode(match.group(1), int(match.group(2)), match.group(3))


def cc_to_int(capability: str) -> int | None:
    """ "9.0" -> 90, "12.1" -> 121; None for anything else."""
    match = re.fullmatch(r"(\d+)\.(\d)", capability.strip())
    if match is None:
        return None
    return int(match.group(1)) * 10 + int(match.group(2))


_UNIFIED = {70: 72, 80: 87, 86: 87}  # code -> Jetson device it also runs on after unification


def unified_tegra(torch_version: str | None, cuda: str | None) -> bool:
    """Whether a build follows the post-unification rule: torch >= 2.15 built with CUDA >= 13.2."""

    def key(text: str | None) -> tuple[int, ...]:
        parts = re.findall(r"\d+", (text or "").split("+")[0])[:2]
        return tuple(int(p) for p in parts)

    return key(torch_version) >= (2, 15) and key(cuda) >= (13, 2)


def _cubin_runs_on(code: ArchCode, device: int, unified: bool = False) -> bool:
    if code.suffix == "a":
        return device == code.cc
    if unified and _UNIFIED.get(code.cc) == device:
        return True
    if code.cc in _EXACT_SETS:
        return device in _EXACT_SETS[code.cc]
    same_major = device // 10 == code.cc // 10 and device % 10 >= code.cc % 10
    # A discrete-GPU cubin does not run on a Jetson iGPU of the same major (torch's "exclude").
    return same_major and (device == code.cc or device not in _IGPU)


def coverage(arch_list: tuple[str, ...], capability: str, *, unified: bool = False) -> str | None:
    """How a build with ``arch_list`` runs on a GPU of ``capability``.

    Returns "native" (a matching cubin), "ptx" (only through driver JIT of embedded PTX: slow first
    launch, needs a driver that knows that PTX), or None (no kernel image for this GPU).
    """
    device = cc_to_int(capability)
    if device is None:
        return None
    codes = [c for c in (parse_arch(t) for t in arch_list) if c is not None]
    if any(c.kind == "sm" and _cubin_runs_on(c, device, unified) for c in codes):
        return "native"
    for code in codes:
        if code.kind != "compute":
            continue
        if code.suffix == "a" and device == code.cc:
            return "ptx"
        if code.suffix == "f" and device // 10 == code.cc // 10 and device >= code.cc:
            return "ptx"  # family PTX: the same major only
        if not code.suffix and device >= code.cc:
            return "ptx"
    return None


def describe(arch_list: tuple[str, ...]) -> str:
    """ "sm_75 sm_80 ... compute_120" -> "7.5, 8.0, ..., 12.0+PTX" (TORCH_CUDA_ARCH_LIST style)."""
    codes = [c for c in (parse_arch(t) for t in arch_list) if c is not None]
    ptx = {c.cc for c in codes if c.kind == "compute"}
    parts = []
    for code in codes:
        if code.kind == "compute" and any(c.kind == "sm" and c.cc == code.cc for c in codes):
            continue
        label = f"{code.cc // 10}.{code.cc % 10}{code.suffix}"
        parts.append(label + ("+PTX" if code.cc in ptx else ""))
    return ", ".join(parts)
