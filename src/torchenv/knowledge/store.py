"""Load the knowledge base and answer the queries of ``models.CompatKnowledge``.

The data files under ``data/`` carry a schema id, the retrieval date and, on every record, the
ids of the sources in ``data/sources.json``. ``torchenv db update`` writes newer copies of them to
the user's data directory (``user_data_dir()``); a copy there with the right schema is preferred,
and the packaged file stays the fallback when it is missing or damaged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from torchenv.errors import TorchenvError
from torchenv.models import DomainPairing, DriverRequirement, VariantArchs
from torchenv.models.compat import driver_key, minor_of, split_local

DATA = Path(__file__).with_name("data")  # a plain directory: torchenv is not run from a zip
SCHEMAS = {
    "cuda_drivers.json": "torchenv.knowledge.cuda-drivers/1",
    "torch.json": "torchenv.knowledge.torch/1",
    "gpus.json": "torchenv.knowledge.gpus/1",
    "sources.json": "torchenv.knowledge.sources/1",
}


class KnowledgeError(TorchenvError):
    pass


def user_data_dir() -> Path:
    """Where ``db update`` writes: $TORCHENV_DATA_DIR, else the platform's user data directory."""
    override = os.environ.get("TORCHENV_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs  # noqa: PLC0415  (only when no override: keeps start-up light)

    return Path(platformdirs.user_data_dir("torchenv", appauthor=False)) / "knowledge"


def _load_user(name: str) -> dict[str, Any] | None:
    """The updated copy of ``name``, or None when there is none or it cannot be used."""
    try:
        data = json.loads((user_data_dir() / name).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("schema") == SCHEMAS[name]:
        return data
    return None


def _load(name: str, packaged_only: bool = False) -> dict[str, Any]:
    if not packaged_only:
        updated = _load_user(name)
        if updated is not None:
            updated.setdefault("_origin", str(user_data_dir() / name))
            return updated
    try:
        text = (DATA / name).read_text("utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise KnowledgeError(
            "knowledge-unreadable",
            f"The packaged knowledge file {name} cannot be read: {exc}",
            "Reinstall torchenv.",
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMAS[name]:
        raise KnowledgeError(
            "knowledge-schema",
            f"The knowledge file {name} does not have schema {SCHEMAS[name]}.",
            "Reinstall torchenv.",
        )
    data.setdefault("_origin", "packaged")
    return data


@dataclass(frozen=True)
class KnowledgeBase:
    drivers: dict[str, Any]
    torch: dict[str, Any]
    gpus: list[dict[str, Any]] = field(default_factory=list)

    # --- CompatKnowledge ---------------------------------------------------------------
    def driver_requirement(self, cuda: str, os: str = "linux") -> DriverRequirement | None:
        parts = cuda.split(".")
        if len(parts) < 2 or not parts[0].isdigit():
            return None
        major, minor = parts[0], ".".join(parts[:2])
        column = "windows" if os == "windows" else "linux"
        floor = next(
            (
                row
                for row in self.drivers["minor_version_compatibility"]
                if str(row["major"]) == major
            ),
            None,
        )
        if floor is None:
            return None
        releases = [
            row[column]
            for row in self.drivers["toolkit_drivers"]
            if row["cuda"] == minor and row.get(column)
        ]
        release_floor = min(releases, key=driver_key) if releases else None
        hard = floor.get(column) or floor["linux"]
        return DriverRequirement(
            cuda=minor,
            hard_floor=hard,
            release_floor=release_floor,
            source="NVIDIA CUDA Toolkit Release Notes, Tables 2 and 3 (" + floor["source"] + ")",
        )

    def index_variants(self, torch_version: str) -> tuple[str, ...]:
        entry = self.torch["minors"].get(minor_of(torch_version))
        return tuple(entry["index_variants"]) if entry else ()

    def variant_archs(
        self, torch_version: str, variant: str, platform: str = "linux_x86_64"
    ) -> VariantArchs | None:
        minor = minor_of(torch_version)
        for row in self.torch["arch_lists"]:
            if (
                row["variant"] == variant
                and minor in row["torch"]
                and row.get("platform", "linux_x86_64") == platform
            ):
                return VariantArchs(variant, tuple(row["archs"]), row["source"], row["verified"])
        return None

    def pairing(self, torch_version: str) -> DomainPairing | None:
        base = split_local(torch_version)[0]
        for release in self.torch["releases"]:
            if release["version"] == base:
                return DomainPairing(
                    base, release.get("torchvision"), release.get("torchaudio"), release["source"]
                )
        return None

    def last_pytorch_channel_version(self) -> str:
        return str(self.torch["pytorch_channel_last_version"])

    # --- further queries ------------------------------------------------------------------
    def releases(self) -> list[dict[str, Any]]:
        return list(self.torch["releases"])


@cache
def load_knowledge(packaged_only: bool = False) -> KnowledgeBase:
    """The knowledge base, preferring ``db update``'s copies unless ``packaged_only``."""
    return KnowledgeBase(
        drivers=_load("cuda_drivers.json", packaged_only),
        torch=_load("torch.json", packaged_only),
        gpus=list(_load("gpus.json", packaged_only)["gpus"]),
    )


@cache
def load_sources() -> dict[str, dict[str, str]]:
    """Source id -> {"what", "url", "retrieved"}."""
    return {row["id"]: row for row in _load("sources.json")["sources"]}


@cache
def load_gpus() -> list[dict[str, str]]:
    return list(_load("gpus.json")["gpus"])
