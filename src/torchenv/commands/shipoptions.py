"""The ``[image]`` and ``[deploy]`` options of a command line: applied over the spec's tables
for this run, and kept in the spec afterwards (spec/remember.py), so that the next run and CI
write the same files without them. ``--no-save`` leaves the spec as it is."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from torchenv.models.spec import Spec
from torchenv.spec.ship import override_deploy, override_image

Table = Literal["image", "deploy"]


def given(values: Mapping[str, object]) -> dict[str, object]:
    """The options the user gave: None is "not given" (a switch is --jupyter or --no-jupyter)."""
    return {k: v for k, v in values.items() if v is not None}


def with_options(spec: Spec, table: Table, values: Mapping[str, object]) -> Spec:
    """``spec`` with ``values`` (TOML keys) over its ``[table]``, each checked as the spec's
    own are (a UsageError names every bad one)."""
    if not values:
        return spec
    if table == "image":
        return dataclasses.replace(spec, image=override_image(spec.image, values))
    return dataclasses.replace(spec, deploy=override_deploy(spec.deploy, values))


def save_options(spec: Spec, table: Table, values: Mapping[str, object], save: bool) -> list[str]:
    """Keep ``values`` in the spec file's ``[table]``; notes of what changed. Called once the
    command's work is done, so a failed run leaves the spec as it was; a spec that cannot take
    them (a link, a read-only checkout) is a note, since the files the user asked for exist."""
    if not save or not values or not spec.path:
        return []
    from torchenv.errors import UsageError  # noqa: PLC0415
    from torchenv.spec.remember import remember_options  # noqa: PLC0415

    try:
        return remember_options(Path(spec.path), table, values)
    except UsageError as exc:
        return [f"{exc.message} ({exc.hint})" if exc.hint else exc.message]
