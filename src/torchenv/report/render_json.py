"""JSON documents of the commands: one object, ``"schema"`` first (design.md, JSON contracts)."""

from __future__ import annotations

import json
from typing import Any

from torchenv.models.codec import to_data
from torchenv.models.schemas import INSPECT_SCHEMA
from torchenv.untrusted.text import redact


def document(report: object) -> dict[str, Any]:
    """Any report dataclass whose first field is ``schema``."""
    # compared by schema id, not isinstance: importing InspectReport would load the environment
    # models into commands that never build one (plan, matrix)
    if getattr(report, "schema", None) == INSPECT_SCHEMA:
        from torchenv.models.reports import InspectReport  # noqa: PLC0415

        if isinstance(report, InspectReport):
            return {
                "schema": report.schema,
                "target": to_data(report.target),
                "machine": to_data(report.machine),
                "environment": to_data(report.environment),
            }
    return dict(to_data(report))


def render_json(report: object) -> str:
    # ASCII escapes keep the document valid even for file names that are not UTF-8, and show
    # control characters as \u escapes; a URL's password never reaches the output
    return redact(json.dumps(document(report), indent=2, ensure_ascii=True)) + "\n"
