"""Load the knowledge base and answer the queries of ``models.PlanKnowledge``.

The data files under ``data/`` carry a schema id, the retrieval date and, on every record, the
ids of the sources in ``data/sources.json``. ``torchenv db update`` writes newer copies of them to
the user's data directory (``user_data_dir()``); a copy there is preferred when it has the right
schema, records of the right shape and a ``retrieved`` date no older than the packaged file's (so
the data of a newer torchenv is not hidden by a copy an older one wrote). ``load_data`` is the one
place that rule lives: ``db update`` starts from what it returns. The typed views
(``torch_releases()`` ...) are built on first use and kept on the instance: the ``plan`` budget is
100 ms past interpreter start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchenv.errors import TorchenvError
from torchenv.i18n import Msg
from torchenv.knowledge.rows import release_of as _release
from torchenv.knowledge.rows import version_key as _vkey
from torchenv.knowledge.userdata import user_data_dir
from torchenv.models import DomainPairing, DriverRequirement, VariantArchs
from torchenv.models.compat import (
    CondaForgeBuild,
    GpuModel,
    PlanKnowledge,
    TorchRelease,
    driver_key,
    minor_of,
    split_local,
    variant_cuda,
)
from torchenv.untrusted import files
from torchenv.untrusted.text import load_json

DATA = Path(__file__).with_name("data")  # a plain directory: torchenv is not run from a zip
SCHEMAS = {
    "cuda_drivers.json": "torchenv.knowledge.cuda-drivers/1",
    "torch.json": "torchenv.knowledge.torch/1",
    "gpus.json": "torchenv.knowledge.gpus/1",
    "sources.json": "torchenv.knowledge.sources/1",
}


class KnowledgeError(TorchenvError):
    pass


def _records(value: Any, *keys: str) -> bool:
    """A list of objects, each with a string under every one of ``keys``."""
    return isinstance(value, list) and all(
        isinstance(row, dict) and all(isinstance(row.get(k), str) for k in keys) for row in value
    )


# Cheap shape checks of an updated copy (a few list scans): a copy that has the right schema
# but broken records would otherwise fail deep inside a query, so it loses to the packaged file.
_SHAPES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "torch.json": lambda d: (
        _records(d.get("releases"), "version")
        and isinstance(d.get("minors"), dict)
        and _records(d.get("arch_lists"), "variant")
    ),
    "cuda_drivers.json": lambda d: (
        _records(d.get("toolkit_drivers"), "cuda")
        and _records(d.get("minor_version_compatibility"))
    ),
    "gpus.json": lambda d: _records(d.get("gpus"), "name", "cc"),
    "sources.json": lambda d: _records(d.get("sources"), "id"),
}


USER_DATA_LIMIT = 64 << 20  # torch.json is ~70 kB packaged; `db update --full` adds little


# The packaged files begin with "schema" then "retrieved" (seed_knowledge.py writes them so, and
# update.write_atomic keeps the key order), so the date is read from the first bytes instead of
# parsing the whole file (torch.json is 65 kB) when the user copy wins; a file that does not begin
# so is parsed whole.
_HEAD = re.compile(rb'\A\s*\{\s*"schema"\s*:\s*"[^"]*"\s*,\s*"retrieved"\s*:\s*"([^"]*)"')
_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def packaged_retrieved(name: str) -> str:
    """The top-level ``retrieved`` date of the packaged ``name`` ("" when it cannot be read)."""
    path = DATA / name
    try:
        with path.open("rb") as fh:
            head = _HEAD.match(fh.read(512))
        if head is not None:
            return head.group(1).decode("utf-8", "replace")
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return ""
    value = data.get("retrieved") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


# updated copies that exist but cannot be used, by path: reported once per process (the CLI
# prints them at the end of the command through commands.knowledge_warnings)
_UNUSABLE: dict[str, str] = {}
_REPORTED: set[str] = set()


def take_unusable_user_data() -> list[tuple[str, str]]:
    """(path, why) of each updated knowledge file that was found but could not be used since
    the last call."""
    taken = list(_UNUSABLE.items())
    _UNUSABLE.clear()
    _REPORTED.update(path for path, _ in taken)
    return taken


def forget_unusable(path: Path) -> None:
    """``path`` was just written anew (db update): what was wrong with it is no more."""
    _UNUSABLE.pop(str(path), None)


def _unusable(path: Path, why: str) -> None:
    if str(path) not in _REPORTED:
        _UNUSABLE.setdefault(str(path), why)


def _load_user(name: str) -> dict[str, Any] | None:
    """The updated copy of ``name``, or None when there is none, it cannot be used, or it was
    retrieved before the packaged file (ISO dates compare as strings). A copy that is there but
    cannot be used is noted for a warning; an older one is not (the packaged data is newer after
    an upgrade of torchenv, by design)."""
    path = user_data_dir() / name
    try:
        data = load_json(files.read_bytes(path, USER_DATA_LIMIT))
    except FileNotFoundError:
        return None
    except OSError as exc:
        _unusable(path, Msg("it cannot be read: {error}", error=files.describe(exc)))
        return None
    except ValueError:
        _unusable(path, Msg("it is not valid JSON"))
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMAS[name]:
        found = data.get("schema") if isinstance(data, dict) else None
        why = Msg(
            "its schema is {found}, not {schema}", found=repr(found), schema=repr(SCHEMAS[name])
        )
        _unusable(path, why)
        return None
    if not _SHAPES[name](data):
        _unusable(path, Msg("its records do not have the expected fields"))
        return None
    retrieved = data.get("retrieved")
    if not (isinstance(retrieved, str) and _DATE.fullmatch(retrieved)):
        _unusable(path, Msg("it has no retrieval date, so it cannot be shown to be newer"))
        return None
    return data if retrieved >= packaged_retrieved(name) else None


def load_data(name: str, packaged_only: bool = False) -> dict[str, Any]:
    """The data file ``name`` as the knowledge base uses it: the user copy when ``_load_user``
    accepts it, else the packaged file. ``_origin`` says which ("packaged" or the copy's path)."""
    if not packaged_only:
        updated = _load_user(name)
        if updated is not None:
            updated["_origin"] = str(user_data_dir() / name)
            return updated
    try:
        text = (DATA / name).read_text("utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise KnowledgeError(
            "knowledge-unreadable",
            Msg(
                "The packaged knowledge file {file} cannot be read: {error}",
                file=name,
                error=str(exc),
            ),
            Msg("Reinstall torchenv."),
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMAS[name]:
        raise KnowledgeError(
            "knowledge-schema",
            Msg(
                "The knowledge file {file} does not have schema {schema}.",
                file=name,
                schema=SCHEMAS[name],
            ),
            Msg("Reinstall torchenv."),
        )
    data["_origin"] = "packaged"
    return data


@dataclass(frozen=True)
class KnowledgeBase:
    drivers: dict[str, Any]
    torch: dict[str, Any]
    gpus: list[dict[str, Any]] = field(default_factory=list)
    gpu_file: dict[str, Any] = field(default_factory=dict)  # gpus.json as loaded (_origin)

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
        if platform == "win_amd64":
            # RELEASE.md's support matrix gives one list for "x86_64/Windows", with "+PTX on
            # linux builds only" (S7b): the Linux x86_64 cubins, without the PTX entries
            linux = self.variant_archs(torch_version, variant)
            if linux is not None:
                cubins = tuple(a for a in linux.archs if not a.startswith("compute_"))
                return VariantArchs(variant, cubins, linux.source + ",S7b", False)
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

    # --- PlanKnowledge -------------------------------------------------------------------
    # cached_property stores into the instance __dict__ directly, which a frozen dataclass allows
    @cached_property
    def _releases(self) -> tuple[TorchRelease, ...]:
        rows = sorted(self.torch["releases"], key=lambda r: _vkey(r["version"]))
        return tuple(_release(row) for row in rows)

    def torch_releases(self) -> tuple[TorchRelease, ...]:
        return self._releases

    def platform_variants(self, torch_version: str, platform: str) -> tuple[str, ...]:
        entry = self.torch["minors"].get(minor_of(torch_version))
        if not entry:
            return ()
        if platform == "linux_x86_64":
            return tuple(entry["index_variants"])
        return tuple((entry.get("index_variants_by_platform") or {}).get(platform, ()))

    def variants_verified(self, torch_version: str) -> bool:
        entry = self.torch["minors"].get(minor_of(torch_version))
        return bool(entry and entry.get("verified"))

    def library_pythons(self, library: str, version: str, platform: str) -> tuple[str, ...] | None:
        from torchenv.knowledge.domain import library_pythons  # noqa: PLC0415

        return library_pythons(library, version, platform)

    @cached_property
    def _conda_forge(self) -> tuple[CondaForgeBuild, ...]:
        builds = [
            CondaForgeBuild(version, row["platform"], tuple(row.get("cuda") or ()), row["source"])
            for row in (self.torch.get("conda_forge") or {}).get("builds", ())
            for version in row["torch"]
        ]
        return tuple(sorted(builds, key=lambda b: (_vkey(b.torch), b.platform)))

    def conda_forge_builds(self) -> tuple[CondaForgeBuild, ...]:
        return self._conda_forge

    def conda_forge_archs(self, cuda: str, platform: str) -> VariantArchs | None:
        """The GPU code of conda-forge's CUDA ``cuda`` ("12.9" or "cu129") builds on
        ``platform``; the SBSA build on linux_aarch64 (Jetson's tegra rows carry a target)."""
        minor = variant_cuda(cuda) or cuda
        for row in (self.torch.get("conda_forge") or {}).get("arch_lists", ()):
            if row["cuda"] == minor and row["platform"] == platform and not row.get("target"):
                variant = "cu" + minor.replace(".", "")
                return VariantArchs(
                    variant, tuple(row["archs"]), row["source"], bool(row.get("verified"))
                )
        return None

    @cached_property
    def _gpu_models(self) -> tuple[GpuModel, ...]:
        return tuple(
            GpuModel(
                name=row["name"],
                cc=row["cc"],
                arch=row.get("arch", ""),
                segment=row.get("segment", ""),
                source=row.get("source", ""),
                match=tuple(row.get("match") or ()),
            )
            for row in self.gpus
        )

    def gpu_models(self) -> tuple[GpuModel, ...]:
        return self._gpu_models

    def describe_origin(self) -> str:
        files = [self.torch, self.drivers, self.gpu_file]
        updated = [d for d in files if d.get("_origin", "packaged") != "packaged"]
        if not updated:
            return f"packaged data retrieved {self.torch.get('retrieved', '?')}"
        first = updated[0]
        text = (
            f"updated data in {Path(first['_origin']).parent}, "
            f"retrieved {first.get('retrieved', '?')}"
        )
        return text + (" (packaged data for the rest)" if len(updated) < len(files) else "")

    # --- further queries ------------------------------------------------------------------
    def releases(self) -> list[dict[str, Any]]:
        return list(self.torch["releases"])

    def index_provenance(
        self, torch_version: str, platform: str = "linux_x86_64"
    ) -> tuple[bool, str]:
        """(verified, source) of the variant list ``platform_variants`` answers with."""
        entry = self.torch["minors"].get(minor_of(torch_version)) or {}
        verified = entry.get("verified", False)
        if platform != "linux_x86_64":
            verified = (entry.get("platform_variants_verified") or {}).get(platform, False)
        return bool(verified), str(entry.get("source", ""))


if TYPE_CHECKING:  # mypy proves here that KnowledgeBase implements the planner's protocol
    _PROTOCOL: type[PlanKnowledge] = KnowledgeBase


def source_ids(text: str) -> list[str]:
    """The source ids cited in a ``source`` field: "S4 (unverified ... (S7b))" -> S4, S7b."""
    return list(dict.fromkeys(re.findall(r"\b(?:S\d+[a-z]?|T)\b", text)))


@cache
def load_knowledge(packaged_only: bool = False) -> KnowledgeBase:
    """The knowledge base, preferring ``db update``'s copies unless ``packaged_only``."""
    gpus = load_data("gpus.json", packaged_only)
    return KnowledgeBase(
        drivers=load_data("cuda_drivers.json", packaged_only),
        torch=load_data("torch.json", packaged_only),
        gpus=list(gpus["gpus"]),
        gpu_file=gpus,
    )


@cache
def load_sources() -> dict[str, dict[str, str]]:
    """Source id -> {"what", "url", "retrieved"}."""
    return {row["id"]: row for row in load_data("sources.json")["sources"]}


@cache
def load_gpus() -> list[dict[str, str]]:
    return list(load_data("gpus.json")["gpus"])
