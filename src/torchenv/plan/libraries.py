"""torchvision and torchaudio for a torch release: paired by the release's exact pins, and only
where the library has a wheel for the target's Python.

torch and its domain libraries do not always cover the same Pythons: torchvision 0.20.1 stops at
cp312 while torch 2.5.1 has cp313, and torchvision 0.14.x stops at cp310 while torch 1.13 has cp311
on Linux (reference compat matrix §3, domain-library wheels; S1). A library the request names
(a spec's ``libraries``) rejects the release when it cannot be installed; one it does not name is
left out with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torchenv.models.compat import PlanKnowledge, TorchRelease
from torchenv.models.plan import PlanRequest, PlanTarget

LIBRARIES = ("torchvision", "torchaudio")


@dataclass
class LibraryChoice:
    versions: dict[str, str | None] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # the release cannot serve the request
    notes: list[str] = field(default_factory=list)  # libraries left out, and why


def pythons_of(
    kb: PlanKnowledge, release: TorchRelease, platform: str, required: Sequence[str]
) -> set[str]:
    """Pythons (no free-threaded builds) with wheels of torch and of every required library."""
    have = {p for p in release.python.get(platform, ()) if not p.endswith("t")}
    for library in required:
        version = getattr(release, library, None)
        wheels = kb.library_pythons(library, version, platform) if version else None
        if wheels is not None:
            have &= set(wheels)
    return have


def choose_libraries(
    kb: PlanKnowledge,
    request: PlanRequest,
    release: TorchRelease,
    targets: Sequence[PlanTarget],
    python: str | None,
) -> LibraryChoice:
    choice = LibraryChoice()
    for library in LIBRARIES:
        version = getattr(release, library, None)
        required = library in request.libraries
        if version is None:
            if required:
                choice.reasons.append(
                    f"no {library} release is paired with torch {release.version}"
                )
            choice.versions[library] = None
            continue
        missing = []
        for target in targets:
            wanted = python or target.python
            wheels = kb.library_pythons(library, version, target.platform)
            if wanted and wheels is not None and wanted not in wheels:
                missing.append(f"{target.platform} (has {_span(wheels)})")
        if not missing:
            choice.versions[library] = version
            continue
        what = f"{library} {version} has no wheel for Python {python or 'of the target'} on "
        if required:
            choice.reasons.append(what + ", ".join(missing))
        else:
            choice.versions[library] = None
            choice.notes.append(what + ", ".join(missing) + f"; the stack leaves {library} out")
    return choice


def _span(pythons: Sequence[str]) -> str:
    plain = sorted((p for p in pythons if not p.endswith("t")), key=_key)
    if not plain:
        return "none"
    return plain[0] if len(plain) == 1 else f"{plain[0]}-{plain[-1]}"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())
