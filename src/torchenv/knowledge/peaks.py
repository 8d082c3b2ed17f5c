"""Published bf16 Tensor Core and memory-bandwidth peaks of GPU models (data/gpu_peaks.json),
so ``verify`` can give measured throughput as a percentage of what the datasheet promises.

Rows are matched against the GPU name as nvidia-smi / torch print it, normalised as for gpus.json
(knowledge.gpus.normalise); the first matching row wins, so the file lists specific variants
(H100 NVL, H100 PCIe) before the general one (H100 = SXM). Each row names the page its figures
were read on and says whether that page reproduced NVIDIA's own table (``verified``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from torchenv.i18n import Msg
from torchenv.knowledge.gpus import normalise
from torchenv.knowledge.store import DATA, KnowledgeError
from torchenv.models.verify import PublishedPeak

PEAKS_FILE = "gpu_peaks.json"
PEAKS_SCHEMA = "torchenv.knowledge.gpu-peaks/1"


def _row(index: int, row: Any) -> tuple[tuple[str, ...], PublishedPeak]:
    where = f"{PEAKS_FILE}: gpus[{index}]"
    if not isinstance(row, dict):
        raise KnowledgeError("bad-knowledge", Msg("{where} is not an object", where=where))
    match = row.get("match")
    tflops, gbps = row.get("bf16_tflops"), row.get("memory_gbps")
    if (
        not isinstance(row.get("name"), str)
        or not isinstance(match, list)
        or not all(isinstance(p, str) for p in match)
        or not isinstance(tflops, (int, float))
        or not isinstance(gbps, (int, float))
        or not isinstance(row.get("source"), str)
    ):
        raise KnowledgeError(
            "bad-knowledge",
            Msg("{where} needs name, match [regex], bf16_tflops, memory_gbps, source", where=where),
        )
    peak = PublishedPeak(
        name=row["name"],
        bf16_tflops=float(tflops),
        memory_gbps=float(gbps),
        source=row["source"],
        verified=bool(row.get("verified", False)),
        note=str(row.get("note", "")),
    )
    return tuple(match), peak


@cache
def load_peaks() -> tuple[tuple[tuple[str, ...], PublishedPeak], ...]:
    """(patterns, peak) per row, in file order; KnowledgeError when the packaged file is bad."""
    try:
        data = json.loads((DATA / PEAKS_FILE).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(
            "bad-knowledge",
            Msg("{file} cannot be read: {error}", file=PEAKS_FILE, error=str(exc)),
        ) from None
    if not isinstance(data, dict) or data.get("schema") != PEAKS_SCHEMA:
        raise KnowledgeError(
            "bad-knowledge", Msg("{file} is not {schema}", file=PEAKS_FILE, schema=PEAKS_SCHEMA)
        )
    rows = data.get("gpus")
    if not isinstance(rows, list):
        raise KnowledgeError("bad-knowledge", Msg("{file} has no gpus list", file=PEAKS_FILE))
    return tuple(_row(i, row) for i, row in enumerate(rows))


def peak_for(gpu_name: str) -> PublishedPeak | None:
    """The published peaks of the GPU called ``gpu_name`` ("NVIDIA H100 80GB HBM3"), None for
    a GPU the table does not know."""
    text = normalise(gpu_name)
    if not text:
        return None
    for patterns, peak in load_peaks():
        if any(re.search(p, text) for p in patterns):
            return peak
    return None
