"""The JSON Schemas of the --json documents (src/torchenv/schemas) as contracts: each is a valid
draft 2020-12 schema, every document id in the source has one (or is a file format, named
here), each schema says exactly what the dataclasses say (every field, its type, nullability,
enums of the Enum types), and they reject what they must. That every command's output
validates is tests/unit/test_json_outputs.py."""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib.resources
import json
import re
import types
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from jsonschema import Draft202012Validator

from builders import FIXTURES
from torchenv.backends.selfwheel import write_tool_wheel
from torchenv.commands.db_update import DbUpdateResult
from torchenv.commands.export import ExportReport
from torchenv.commands.init import InitReport
from torchenv.models import build, ci, diff, lifecycle, matrix, plan, reports, ship, verify
from torchenv.models.environment import Environment
from torchenv.models.findings import Target
from torchenv.models.machine import Machine
from torchenv.schemas import SCHEMA_IDS, file_name, load_schema, schema_file

SRC = Path(__file__).parents[2] / "src" / "torchenv"

# the dataclass each document is made from (render_json.document: every field, in order)
DOCUMENTS: dict[str, type] = {
    "torchenv.doctor/1": reports.DoctorReport,
    "torchenv.doctor-rules/1": reports.RuleCatalog,
    "torchenv.plan/1": plan.PlanReport,
    "torchenv.verify/1": verify.VerifyReport,
    "torchenv.lock/1": build.LockReport,
    "torchenv.lock-check/1": build.LockCheckReport,
    "torchenv.create/1": build.CreateReport,
    "torchenv.diff/1": diff.DiffReport,
    "torchenv.upgrade/1": lifecycle.UpgradeReport,
    "torchenv.rollback/1": lifecycle.RollbackReport,
    "torchenv.history/1": lifecycle.HistoryReport,
    "torchenv.list/1": lifecycle.ListReport,
    "torchenv.adopt/1": lifecycle.AdoptReport,
    "torchenv.matrix/1": matrix.MatrixReport,
    "torchenv.matrix-check/1": matrix.MatrixCheckReport,
    "torchenv.image/1": ship.ImageReport,
    "torchenv.deploy/1": ship.DeployReport,
    "torchenv.init/1": InitReport,
    "torchenv.ci/1": ci.CiReport,
    "torchenv.db-update/1": DbUpdateResult,
}
# documents a report nests whole (init's plan, upgrade's change): their "schema" is a const too
NESTED = {plan.PlanReport: "torchenv.plan/1", diff.DiffReport: "torchenv.diff/1"}
# ids in the source that no command prints with --json: files torchenv writes and reads
NOT_COMMAND_OUTPUT = {
    "torchenv.env/1": "torchenv-env.json, the record inside an environment",
    "torchenv.generations/1": "the state file of an environment's generations",
    "torchenv.conda-lock/1": "the sidecar of conda.lock",
    "torchenv.monitor/1": "models/monitor.py names it; `monitor` prints no JSON document",
    "torchenv.knowledge.cuda-drivers/1": "packaged knowledge data",
    "torchenv.knowledge.domain-libraries/1": "packaged knowledge data",
    "torchenv.knowledge.gpu-peaks/1": "packaged knowledge data",
    "torchenv.knowledge.gpus/1": "packaged knowledge data",
    "torchenv.knowledge.sources/1": "packaged knowledge data",
    "torchenv.knowledge.torch/1": "packaged knowledge data",
}


@functools.cache
def validator(schema_id: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(schema_id))


def errors(doc: Mapping[str, Any], schema_id: str | None = None) -> list[str]:
    """Why ``doc`` does not validate against the schema its "schema" key names, or
    ``schema_id`` ([] when it does), each as "path: message"."""
    found = validator(schema_id or doc["schema"]).iter_errors(doc)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(found, key=lambda e: list(map(str, e.absolute_path)))
    ]


def valid(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    problems = errors(doc)
    assert not problems, f"{doc['schema']} does not validate:\n" + "\n".join(problems[:10])
    return doc


# --------------------------------------------------------------------------- the files
@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_each_schema_is_a_draft_2020_12_schema_of_its_id(schema_id: str) -> None:
    schema = load_schema(schema_id)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://torchenv.dev/schemas/{file_name(schema_id)}"
    assert schema["properties"]["schema"]["const"] == schema_id
    assert schema["title"].startswith("torchenv ") and schema["description"]
    assert schema["additionalProperties"] is False and "schema" in schema["required"]
    assert next(iter(schema["properties"])) == "schema"


def test_the_package_holds_exactly_the_listed_schemas() -> None:
    folder = importlib.resources.files("torchenv.schemas")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    assert names == sorted(file_name(i) for i in SCHEMA_IDS)
    assert len(set(SCHEMA_IDS)) == len(SCHEMA_IDS)
    assert schema_file("torchenv.verify/1").name == "torchenv.verify-1.schema.json"
    for unknown in ("torchenv.verify/2", "torchenv.env/1", "verify", ""):
        with pytest.raises(KeyError, match="no JSON Schema for"):
            load_schema(unknown)


def test_every_document_id_in_the_source_has_a_schema_or_is_a_file() -> None:
    """A new --json document cannot ship without its schema: every "torchenv.X/N" string in
    src/torchenv is either a schema here or one of the file formats above."""
    pattern = re.compile(r"torchenv\.[a-z][a-z0-9.-]*/[0-9]+")
    found = {m for p in SRC.rglob("*.py") for m in pattern.findall(p.read_text())}
    assert found - set(SCHEMA_IDS) - set(NOT_COMMAND_OUTPUT) == set()
    assert set(SCHEMA_IDS) <= found, "a schema of a document no command prints"
    assert set(NOT_COMMAND_OUTPUT) <= found, "NOT_COMMAND_OUTPUT names an id that is gone"
    assert set(DOCUMENTS) | {"torchenv.inspect/1", "torchenv.export/1"} == set(SCHEMA_IDS)


def test_the_tool_wheel_carries_the_schemas(tmp_path: Path) -> None:
    """The wheel an image installs torchenv from (and hatchling's, which takes every file of
    the package the same way) holds the schema files."""
    name = write_tool_wheel(tmp_path)
    with zipfile.ZipFile(tmp_path / name) as wheel:
        for schema_id in SCHEMA_IDS:
            member = f"torchenv/schemas/{file_name(schema_id)}"
            assert json.loads(wheel.read(member)) == load_schema(schema_id)


# --------------------------------------------------------------------------- against the models
def resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), f"{ref}: only local references (each file alone)"
        node = schema["$defs"][ref.removeprefix("#/$defs/")]
    return node


def without_null(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The schema of the value when it is not null; None when ``node`` does not admit null."""
    node = resolve(schema, node)
    if "anyOf" in node:
        rest = [b for b in node["anyOf"] if b != {"type": "null"}]
        return resolve(schema, rest[0]) if len(rest) == 1 < len(node["anyOf"]) else None
    kinds = node.get("type")
    if isinstance(kinds, list) and "null" in kinds and len(kinds) == 2:
        return {**node, "type": next(k for k in kinds if k != "null")}
    return None


SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def check(schema: Mapping[str, Any], hint: Any, node: Mapping[str, Any], where: str) -> None:
    """``node`` says what the type ``hint`` makes to_data write, no more and no less."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1 < len(args), f"{where}: {hint}"
        stripped = without_null(schema, node)
        assert stripped is not None, f"{where} is Optional in the model: the schema needs null"
        check(schema, inner[0], stripped, where)
        return
    assert without_null(schema, node) is None, f"{where} is never null in the model"
    node = resolve(schema, node)
    if hint is Any:
        assert "type" not in node, f"{where}: any JSON value"
    elif origin is tuple:
        assert node["type"] == "array", where
        check(schema, args[0], node["items"], f"{where}[]")
    elif origin in (dict, Mapping):
        assert node["type"] == "object" and args[0] is str, where
        check(schema, args[1], node["additionalProperties"], f"{where}{{}}")
    elif dataclasses.is_dataclass(hint):
        check_object(schema, hint, node, where)
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        assert node["type"] == "string" and node["enum"] == [m.value for m in hint], where
    else:
        assert node["type"] == SCALARS[hint], f"{where}: {hint.__name__} is {SCALARS[hint]}"


def check_object(schema: Mapping[str, Any], cls: Any, node: Mapping[str, Any], where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    props = node["properties"]
    assert list(props) == names, f"{where} ({cls.__name__}): the schema lists {list(props)}"
    assert node["required"] == names and node["additionalProperties"] is False, where
    hints = get_type_hints(cls)
    for name in names:
        if name == "schema" and cls in NESTED:
            assert props[name]["const"] == NESTED[cls], where
        elif not (name == "schema" and where == "$"):
            check(schema, hints[name], props[name], f"{where}.{name}")


@pytest.mark.parametrize("schema_id", sorted(DOCUMENTS))
def test_each_schema_says_what_its_dataclasses_say(schema_id: str) -> None:
    schema = load_schema(schema_id)
    check_object(schema, DOCUMENTS[schema_id], schema, "$")


def test_the_inspect_schema_says_what_its_dataclasses_say() -> None:
    """inspect/1 is special (render_json.document): the target first, from the environment."""
    schema = load_schema("torchenv.inspect/1")
    assert list(schema["properties"]) == ["schema", "target", "machine", "environment"]
    assert schema["required"] == list(schema["properties"])
    for name, cls in (("target", Target), ("machine", Machine), ("environment", Environment)):
        check(schema, cls, schema["properties"][name], f"$.{name}")


def test_the_export_schema_says_what_the_command_writes() -> None:
    """export/1 is made in cli/export.py: the report's fields, with "text" or "out"."""
    schema = load_schema("torchenv.export/1")
    fields = [f.name for f in dataclasses.fields(ExportReport)]
    assert list(schema["properties"]) == fields
    assert schema["required"] == ["schema", "format", "source", "notes"]
    assert schema["oneOf"] == [{"required": ["text"]}, {"required": ["out"]}]


@pytest.mark.parametrize("machine", ["h100-node.json", "pascal-node.json"])
def test_the_machine_files_of_the_tests_are_inspect_documents(machine: str) -> None:
    valid(json.loads((FIXTURES / "machines" / machine).read_text()))


# --------------------------------------------------------------------------- strictness
def verify_document() -> dict[str, Any]:
    """A verify/1 document of one H100, made from the dataclasses as the command makes it."""
    from torchenv.report.render_json import document

    check = verify.VerifyCheck
    report = verify.VerifyReport(
        "torchenv.verify/1",
        Target("/srv/env", "venv", "--prefix", "/srv/env/bin/python"),
        (
            check("import-torch", verify.CheckStatus.PASS, "2.14.1+cu130", 1.5),
            check("matmul", verify.CheckStatus.PASS, "ok", 0.2, gpu=0),
            check("nccl-all-reduce", verify.CheckStatus.SKIP, "one GPU", 0.0),
        ),
        verify.VerifyPerfTable(
            (verify.VerifyPerf("perf-matmul-bf16", 0, "H100", 790.0, "TFLOP/s", 989.0, 79.9),)
        ),
        verify.VerifySummary(2, 0, 1, 4.2),
        torch="2.14.1+cu130",
        cuda="13.0",
        python="3.11.7",
        allocator=(verify.AllocatorState(0, 0, 2 << 30, 20 << 30, 20 << 30, 1 << 29, 0.25),),
    )
    return json.loads(json.dumps(document(report)))


def changed(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``doc`` with the value at "a/0/b" replaced; ``...`` deletes the key."""
    copy = json.loads(json.dumps(doc))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
    node = copy
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return copy


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("extra", 1, "Additional properties are not allowed"),
        ("allocator/0/leaked", True, "Additional properties are not allowed"),
        ("summary/ok", True, "Additional properties are not allowed"),
        ("checks/0/status", "passed", "is not one of"),
        ("perf/entries/0/unit", "TFLOPS", "is not one of"),
        ("allocator/0/fragmentation", 1.5, "is greater than the maximum"),
        ("allocator/0/ooms", -1, "is less than the minimum"),
        ("allocator/0/error", 0, "is not of type 'string', 'null'"),
        ("allocator", ..., "'allocator' is a required property"),
        ("checks/1/gpu", ..., "'gpu' is a required property"),
        ("target/python", ..., "'python' is a required property"),
        ("summary/passed", "2", "is not of type 'integer'"),
        ("schema", "torchenv.verify/2", "was expected"),
    ],
)
def test_the_verify_schema_rejects(path: str, value: Any, words: str) -> None:
    doc = valid(verify_document())
    problems = errors(changed(dict(doc), path, value), "torchenv.verify/1")
    assert problems and words in problems[0], problems


def test_the_doctor_and_export_schemas_reject() -> None:
    finding = {"id": "x", "severity": "error", "title": "t", "evidence": [], "fix": []}
    doctor = {
        "schema": "torchenv.doctor/1",
        "target": {"prefix": "/e", "kind": "venv", "selected_by": "--prefix", "python": None},
        "outlook": {
            "torch": None,
            "build": "none",
            "driver": None,
            "gpus": [],
            "cuda_expected": False,
            "reason": "no torch",
            "verified": None,
        },
        "findings": [{**finding, "catalog": None}],
        "summary": {
            "errors": 1,
            "warnings": 0,
            "infos": 0,
            "rules_checked": 40,
            "fail_on": "error",
            "failed": True,
        },
        "runtime": None,
    }
    valid(doctor)
    assert "'fatal' is not one of" in errors(changed(doctor, "findings/0/severity", "fatal"))[0]
    assert "'catalog' is a required" in errors(changed(doctor, "findings/0", finding))[0]
    assert "is not one of" in errors(changed(doctor, "summary/fail_on", "info!"))[0]
    assert errors(changed(doctor, "runtime", {"ran": False}))  # a RuntimeCheck has every field
    export = {
        "schema": "torchenv.export/1",
        "format": "pixi.toml",
        "source": {"kind": "spec", "lock": "/p/pylock.toml", "sha256": "a" * 64},
        "notes": [],
        "text": "[workspace]\n",
    }
    valid(export)
    assert errors({**export, "out": "/p/pixi.toml"})  # text or out, not both
    assert errors(changed(export, "text", ...))  # nor neither
    assert errors(changed(export, "source/sha256", "A" * 64))
    assert errors(changed(export, "format", "conda.yml"))
