"""Which torchvision/torchaudio release goes with a torch release, from Requires-Dist.

An exact pin (``torch==2.13.0``) pairs by itself (``update._pair_domains``). Some domain
releases pin loosely instead, and some not at all (wheel METADATA on PyPI, source S2):
- torchvision 0.29.1 and 0.29.2 require ``torch>=2.14.0``; 0.29.1 came out with torch 2.14.1,
  0.29.2 (a stable-ABI py3-none wheel) with 2.15.0;
- torchaudio 2.11.0 names no torch at all (released with torch 2.11.0); torchaudio 2.11.1
  requires ``torch>=2.11`` and is the newest torchaudio, released after 2.15.0's date.

For a torch release T that no domain release pins exactly, the pair is the OLDEST domain
release that admits T (its requirement allows T, or it names no torch) and was first uploaded
on or after T's own release date: a domain release published before T was built for an older
torch. This gives the pairings above (0.29.1 for 2.14.1, 0.29.2 for 2.15.0, torchaudio 2.11.0
for 2.11.0 and 2.11.1 for 2.12-2.15). Without upload dates (an HTML mirror carries none) no
loose pairing is made: the pairing already known is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchenv.i18n import _, shown
from torchenv.knowledge.releases import group_releases
from torchenv.knowledge.remote import NotFound, SourceFailure
from torchenv.knowledge.wheelfacts import WheelReader

# The pairings of torch 1.13.0, the oldest release covered (packaged torch.json, source S2):
# older domain releases pair with older torch and are not read.
DOMAIN_MINIMUM = {"torchvision": Version("0.14.0"), "torchaudio": Version("0.13.0")}


@dataclass(frozen=True)
class DomainRelease:
    version: str
    requires: str  # the torch specifier of its METADATA ("==2.13.0", ">=2.11"); "" for none
    uploaded: str | None  # first upload, "2026-10-28" (UTC date); None when unknown


def exact_version(requires: str) -> str | None:
    """X of ``==X`` (a stored ``domain_pins`` value "2.13.0" counts as ``==2.13.0``)."""
    text = requires.strip()
    if text and text[0].isdigit():
        text = "==" + text
    if not text.startswith("==") or "," in text or "*" in text:
        return None
    try:
        return str(Version(text[2:]))
    except InvalidVersion:
        return None


def admits(requires: str, torch: str) -> bool:
    """Whether the requirement allows torch ``torch``; an empty one allows any."""
    try:
        return Version(torch) in SpecifierSet(requires)
    except (InvalidSpecifier, InvalidVersion):
        return False


def loose_pairs(
    unpaired: Mapping[str, str | None], domains: Sequence[DomainRelease]
) -> dict[str, str]:
    """torch version -> domain version for the releases in ``unpaired`` (torch version ->
    its release date), by the rule of this module's docstring."""
    candidates = [d for d in domains if d.uploaded and exact_version(d.requires) is None]
    candidates.sort(key=lambda d: (d.uploaded or "", Version(d.version)))
    pairs = {}
    for torch, released in unpaired.items():
        if not released:
            continue
        for domain in candidates:
            if (domain.uploaded or "") >= released and admits(domain.requires, torch):
                pairs[torch] = domain.version
                break
    return pairs


def first_upload(times: Sequence[str | None]) -> str | None:
    """The UTC date of the earliest upload of a release's files (PEP 700 times)."""
    known = sorted(t for t in times if t)
    return known[0][:10] if known else None


def pair_domains(
    reader: WheelReader,
    full: bool,
    progress: Callable[[str], None],
    fresh: dict[str, tuple[dict[str, Any], tuple[str, ...]]],
    old: Mapping[str, Mapping[str, Any]],
    data: dict[str, Any],
) -> None:
    """torchvision/torchaudio for each fresh release: the domain release whose METADATA pins
    ``torch==X``, else one whose looser requirement admits it (``knowledge.pairing``). Every
    requirement read is kept in ``data["domain_pins"]`` so no domain wheel is read twice;
    releases are scanned newest first and the scan stops below the oldest release wanted."""
    pins_seen: dict[str, dict[str, str | None]] = data.setdefault("domain_pins", {})
    for project, minimum in DOMAIN_MINIMUM.items():
        seen = pins_seen.setdefault(project, {})
        known = {str(r[project]): v for v, r in old.items() if r.get(project)}
        for version, (facts, _sources) in fresh.items():
            facts[project] = old.get(version, {}).get(project)  # kept unless a pin is found
        wanted = {Version(v) for v in fresh if full or v not in old or not old[v].get(project)}
        if not wanted:
            continue
        lowest, assigned = min(wanted), set()
        try:
            files = reader.pages.require(project).files
        except NotFound as exc:  # a mirror without the project: keep the pairings known
            reader.failures.append(SourceFailure(project, exc.url, exc.message))
            progress(
                _("{error}; keeping the {project} pairings already known").format(
                    error=shown(exc.message), project=project
                )
            )
            continue
        loose: list[DomainRelease] = []
        for domain, domain_files in sorted(group_releases(files, minimum).items(), reverse=True):
            name = str(domain)
            if not full and (seen.get(name) is not None or name in known):
                requires = seen[name] if seen.get(name) is not None else f"=={known[name]}"
            else:
                requires = seen[name] = reader.domain_pin(project, name, domain_files)
            exact = exact_version(requires or "")
            if exact is None:  # a loose requirement or none: paired below by upload date
                uploaded = first_upload([f.upload_time for f in domain_files])
                loose.append(DomainRelease(name, requires or "", uploaded))
                continue
            torch = Version(exact)
            if torch < lowest:
                break  # domain releases pair with torch releases in the same order
            if torch in wanted and str(torch) not in assigned:
                pair_with(reader, fresh[str(torch)][0], project, name)
                assigned.add(str(torch))
        unpaired = {
            str(v): fresh[str(v)][0].get("released")
            for v in wanted
            if str(v) not in assigned and fresh[str(v)][0].get(project) is None
        }
        for torch_version, name in loose_pairs(unpaired, loose).items():
            pair_with(reader, fresh[torch_version][0], project, name)
    for project in [p for p, pins in pins_seen.items() if not pins]:
        del pins_seen[project]
    if not pins_seen:
        del data["domain_pins"]


def pair_with(reader: WheelReader, facts: dict[str, Any], project: str, name: str) -> None:
    facts[project] = name
    if (project, name) in reader.domain_reads:  # read in this run, not remembered
        facts["read"].append(reader.domain_reads[project, name])
