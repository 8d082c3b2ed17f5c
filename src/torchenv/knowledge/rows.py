"""Typed views of the rows of torch.json (knowledge/data/README.md): what the store builds its
``TorchRelease`` records from. A user copy written by ``db update`` passed the store's shape
check, but an optional field may still hold anything: such a field counts as absent.
"""

from __future__ import annotations

import re
from typing import Any

from torchenv.models.compat import DefaultBuild, TorchRelease, split_local


def version_key(version: str) -> tuple[int, ...]:
    """ "2.10.0" -> (2, 10, 0): release versions are plain X.Y.Z, no need for packaging here."""
    return tuple(int(part) for part in re.findall(r"\d+", split_local(version)[0]))


def release_of(row: dict[str, Any]) -> TorchRelease:
    build = row.get("pypi_linux_x86_64") or {}
    default = None
    if build.get("variant"):
        default = DefaultBuild(
            variant=build["variant"],
            cuda=build.get("cuda"),
            archs=tuple(build.get("archs") or ()),
            cudnn=build.get("cudnn"),
            nccl=build.get("nccl"),
            cublas=build.get("cublas"),
            cudart=build.get("cudart"),
        )
    pypi_default = row.get("pypi_default") or ({"linux_x86_64": default.variant} if default else {})
    return TorchRelease(
        version=row["version"],
        released=row.get("released"),
        requires_python=row.get("requires_python"),
        python={p: tuple(v) for p, v in (row.get("python") or {}).items()},
        pypi_default=dict(pypi_default),
        torchvision=row.get("torchvision"),
        torchaudio=row.get("torchaudio"),
        source=str(row.get("source", "")),
        yanked=bool(row.get("yanked", False)),
        glibc=row.get("glibc"),
        default_build=default,
        notes=tuple(row.get("notes") or ()),
        glibc_by_variant=glibc_by_variant(row.get("glibc_by_variant")),
    )


def glibc_by_variant(value: Any) -> dict[str, str]:
    """A user copy of the data may hold anything here: only str -> str pairs count."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
