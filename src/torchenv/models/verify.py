"""What ``torchenv verify`` returns: each check run inside the environment, and GPU throughput
against the GPU's published peak (design.md, JSON contracts: ``torchenv.verify/1``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from torchenv.models.findings import Target

VERIFY_SCHEMA = "torchenv.verify/1"


class CheckStatus(str, enum.Enum):
    PASS = "pass"  # noqa: S105  (a check status, not a password)
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class VerifyCheck:
    id: str  # stable kebab-case: "import-torch", "matmul", ...
    status: CheckStatus
    detail: str  # what was seen, or why it was skipped
    seconds: float
    gpu: int | None = None  # the torch device index of a per-GPU check


@dataclass(frozen=True)
class PublishedPeak:
    """A GPU's datasheet figures (knowledge/data/gpu_peaks.json)."""

    name: str  # "H100 SXM"
    bf16_tflops: float  # dense (without structured sparsity)
    memory_gbps: float  # GB/s, 10^9 bytes
    source: str  # where the figures were read
    verified: bool = True  # False: not read from a copy of NVIDIA's own table
    note: str = ""


@dataclass(frozen=True)
class VerifyPerf:
    check: str  # "perf-matmul-bf16" or "perf-memory-bandwidth"
    gpu: int
    gpu_name: str
    value: float
    unit: str  # "TFLOP/s" or "GB/s"
    peak: float | None = None  # the published figure in the same unit
    percent: float | None = None  # value / peak * 100
    peak_source: str | None = None  # "H100 SXM: <url>"


@dataclass(frozen=True)
class VerifyPerfTable:
    """design.md's ``"perf": {...}``: the throughput measurements, one per GPU and kind."""

    entries: tuple[VerifyPerf, ...] = ()


@dataclass(frozen=True)
class VerifySummary:
    passed: int
    failed: int
    skipped: int
    seconds: float  # wall time of the whole verify, start-up of the check script included
    quick: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True)
class VerifyReport:
    schema: str
    target: Target
    checks: tuple[VerifyCheck, ...]
    perf: VerifyPerfTable
    summary: VerifySummary
    torch: str | None = None  # torch.__version__ as imported
    cuda: str | None = None  # torch.version.cuda
    python: str | None = None  # the interpreter's version
