"""The text of a ``torchenv.toml``: what ``torchenv init`` writes; ``load_spec`` reads it back."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import tomli_w

from torchenv.models.ship import SpecDeploy, SpecImage
from torchenv.models.spec import Spec, SpecIndex

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def spec_data(spec: Spec) -> dict[str, Any]:
    """The TOML tables of ``spec``. name, python, torch and cuda are always written (python and
    torch unless unset) because they are what a reader looks for; libraries and installer too,
    since their defaults are not obvious; the rest only when it differs from the default."""
    data: dict[str, Any] = {"name": spec.name}
    if spec.python is not None:
        data["python"] = spec.python
    if spec.torch is not None:
        data["torch"] = spec.torch
    data["cuda"] = spec.cuda
    data["libraries"] = list(spec.libraries)
    if spec.packages:
        data["packages"] = list(spec.packages)
    data["installer"] = spec.installer
    targets: dict[str, Any] = {}
    if spec.targets.gpus:
        targets["gpus"] = list(spec.targets.gpus)
    if spec.targets.driver is not None:
        targets["driver"] = spec.targets.driver
    if spec.targets.platform is not None:
        targets["platform"] = spec.targets.platform
    if spec.targets.machines:
        targets["machines"] = list(spec.targets.machines)
    if targets:
        data["targets"] = targets
    default = SpecIndex()
    index: dict[str, Any] = {}
    if spec.index.pypi != default.pypi:
        index["pypi"] = spec.index.pypi
    if spec.index.pytorch != default.pytorch:
        index["pytorch"] = spec.index.pytorch if spec.index.pytorch is not None else False
    if spec.index.find_links:
        index["find-links"] = list(spec.index.find_links)
    if spec.index.channels != default.channels:
        index["channels"] = list(spec.index.channels)
    if index:
        data["index"] = index
    shipping: tuple[tuple[str, Any, Any], ...] = (
        ("image", spec.image, SpecImage()),
        ("deploy", spec.deploy, SpecDeploy()),
    )
    for table, value, empty in shipping:
        changed = {
            f.name.replace("_", "-"): list(v) if isinstance(v, tuple) else v
            for f in dataclasses.fields(value)
            if (v := getattr(value, f.name)) != getattr(empty, f.name)
        }
        if changed:
            data[table] = changed
    return data


def render_spec(spec: Spec, origin: str | None = None) -> str:
    """The file's text: a comment header saying where it came from (``origin``, e.g. the
    ``torchenv init`` command line) and what to do next, then the tables."""
    header = [f"# torchenv spec of the PyTorch environment {spec.name!r}."]
    # a control character (a newline in a quoted --gpu) would end the comment and break the TOML
    header.append(
        f"# Written by: {_CONTROL.sub('?', origin)}" if origin else "# Written by torchenv."
    )
    header.append(
        "# Edit it freely, then run `torchenv lock` to resolve it into exact, hashed versions."
    )
    if not (spec.targets.gpus or spec.targets.machines or spec.targets.platform):
        header.append("# No GPUs or machines in [targets]: planned for the machine that runs it.")
    return "\n".join(header) + "\n\n" + tomli_w.dumps(spec_data(spec))
