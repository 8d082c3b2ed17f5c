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
class AllocatorState:
    """The CUDA caching allocator on one GPU after verify's checks, from
    ``torch.cuda.memory_stats`` (bytes and counters since the check process started)."""

    gpu: int
    allocated_bytes: int = 0  # held by live tensors now: more than 0 means a check leaked
    reserved_bytes: int = 0  # taken from the driver by the allocator now, cached included
    peak_allocated_bytes: int = 0
    peak_reserved_bytes: int = 0
    inactive_split_bytes: int = 0  # parts of split blocks that are free but cannot be released
    fragmentation: float = 0.0  # inactive_split_bytes / reserved_bytes, 0 when none reserved
    alloc_retries: int = 0  # cudaMalloc failed, the cache was flushed and the call retried
    ooms: int = 0  # out-of-memory errors raised
    error: str | None = None  # why torch could not say; the figures are then 0


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
    allocator: tuple[AllocatorState, ...] = ()  # one per GPU the checks ran on
