"""PEP 440 helpers over ``packaging``, imported on first use: most doctor runs never compare a
version, and packaging's regular expressions cost ~20 ms to compile at import."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.version import Version


def version(text: str | None) -> Version | None:
    """A Version, or None for a missing or invalid one."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


_SIMPLE_FLOOR = re.compile(r"^\s*>=\s*(\d+(?:\.\d+)*)\s*$")
_RELEASE = re.compile(r"^\d+(?:\.\d+)*$")


def in_spec(spec: str, candidate: str | Version) -> bool | None:
    """Whether ``candidate`` satisfies ``spec`` (pre-releases allowed); None when either is
    invalid."""
    floor = _SIMPLE_FLOOR.match(spec)
    if floor and isinstance(candidate, str) and _RELEASE.match(candidate):
        # ">=3.10" against "3.11.7" (Requires-Python): compared without importing packaging
        def key(text: str) -> tuple[int, ...]:
            parts = [int(p) for p in text.split(".")]
            while parts and parts[-1] == 0:
                parts.pop()
            return tuple(parts)

        return key(candidate) >= key(floor.group(1))
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # noqa: PLC0415

    parsed = version(candidate) if isinstance(candidate, str) else candidate
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        return None
    return None if parsed is None else specifier.contains(parsed, prereleases=True)


def requirement(text: str, environment: dict[str, str]) -> Requirement | None:
    """The requirement when it applies in ``environment`` (markers evaluated), else None."""
    from packaging.markers import (  # noqa: PLC0415
        InvalidMarker,
        UndefinedComparison,
        UndefinedEnvironmentName,
    )
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    try:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(environment):
            return None
    except (InvalidRequirement, InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return None
    return req
