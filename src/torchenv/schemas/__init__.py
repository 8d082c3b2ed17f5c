"""JSON Schemas (draft 2020-12) of the documents the commands print with ``--json``.

One file per document, named after its schema id with the ``/`` made a ``-``:
``torchenv.inspect/1`` is ``torchenv.inspect-1.schema.json``, ``torchenv.lock-check/1`` is
``torchenv.lock-check-1.schema.json`` (the major version is what follows the last ``-``). Each
file's ``$id`` is ``https://torchenv.dev/schemas/<file name>``: an identifier, not a place
anything is fetched from. Every file stands alone (shared shapes are repeated in its ``$defs``,
a document inside another, such as the plan of ``init``, included whole), so a tool such as
``check-jsonschema --schemafile`` needs nothing else.

The schemas are contracts: every object torchenv writes has ``additionalProperties: false`` and
lists all its fields as required, so a field added, renamed or retyped in the models fails the
tests (tests/unit/test_json_schemas.py) until the schema says so too. A change that breaks
readers bumps the document's major version, which is a new file.

Standard library only: importing this module reads no file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_IDS", "file_name", "load_schema", "schema_file"]

SCHEMA_IDS: tuple[str, ...] = (
    "torchenv.inspect/1",
    "torchenv.doctor/1",
    "torchenv.doctor-rules/1",
    "torchenv.plan/1",
    "torchenv.verify/1",
    "torchenv.lock/1",
    "torchenv.lock-check/1",
    "torchenv.create/1",
    "torchenv.diff/1",
    "torchenv.upgrade/1",
    "torchenv.rollback/1",
    "torchenv.history/1",
    "torchenv.list/1",
    "torchenv.adopt/1",
    "torchenv.matrix/1",
    "torchenv.matrix-check/1",
    "torchenv.image/1",
    "torchenv.deploy/1",
    "torchenv.init/1",
    "torchenv.export/1",
    "torchenv.ci/1",
    "torchenv.db-update/1",
)

_HERE = Path(__file__).parent


def file_name(schema_id: str) -> str:
    """ "torchenv.inspect/1" -> "torchenv.inspect-1.schema.json" (whether or not it exists)."""
    return schema_id.replace("/", "-") + ".schema.json"


def schema_file(schema_id: str) -> Path:
    """The packaged schema file of a document id; KeyError for an id without one."""
    if schema_id not in SCHEMA_IDS:
        known = ", ".join(SCHEMA_IDS)
        raise KeyError(f"no JSON Schema for {schema_id!r}; the documents with one: {known}")
    return _HERE / file_name(schema_id)


def load_schema(schema_id: str) -> dict[str, Any]:
    """The schema of a document id, as JSON data; KeyError for an id without one."""
    with schema_file(schema_id).open(encoding="utf-8") as stream:
        data: dict[str, Any] = json.load(stream)
    return data
