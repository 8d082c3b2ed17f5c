"""The declarative spec (``torchenv.toml`` or ``[tool.torchenv]`` in pyproject.toml): finding and
validating it with every problem located in the file, its hash, and writing it back."""

from __future__ import annotations

from torchenv.spec.parse import (
    SpecError,
    format_problem,
    load_spec,
    machine_paths,
    parse_spec_text,
    spec_channels,
    spec_directory,
    spec_hash,
    spec_inputs,
)
from torchenv.spec.write import render_spec, spec_data

__all__ = [
    "SpecError",
    "format_problem",
    "load_spec",
    "machine_paths",
    "parse_spec_text",
    "render_spec",
    "spec_channels",
    "spec_data",
    "spec_directory",
    "spec_hash",
    "spec_inputs",
]
