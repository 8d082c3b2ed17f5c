from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import h100, machine
from torchenv.models import (
    DecodeError,
    Environment,
    Finding,
    Interpreter,
    Machine,
    Severity,
    from_data,
    to_data,
)
from torchenv.models.runtime import RuntimeCheck


def test_machine_round_trip() -> None:
    m = machine((h100(0), h100(1)), "580.159.03", env={"CUDA_VISIBLE_DEVICES": "1"})
    data = json.loads(json.dumps(to_data(m)))
    assert from_data(Machine, data) == m


def test_unknown_keys_are_ignored_and_defaults_fill_in() -> None:
    env = from_data(
        Environment,
        {
            "prefix": "/p",
            "kind": "venv",
            "selected_by": "--prefix",
            "future": 1,
            "interpreter": {"executable": None},
        },
    )
    assert env.interpreter == Interpreter(executable=None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "venv"}, "missing key 'prefix'"),
        (
            {"prefix": 3, "kind": "venv", "selected_by": "x", "interpreter": {"executable": None}},
            "$.prefix: expected str",
        ),
        ([], "expected an object"),
    ],
)
def test_shape_errors_name_the_path(data: object, message: str) -> None:
    with pytest.raises(DecodeError, match=message.replace("$", r"\$")):
        from_data(Environment, data)


def test_enums_and_tuples() -> None:
    f = Finding("x", Severity.WARNING, "t", ("e",), ("fix",))
    assert to_data(f)["severity"] == "warning"
    assert from_data(Finding, to_data(f)) == f
    with pytest.raises(DecodeError, match="not one of"):
        from_data(Finding, {**to_data(f), "severity": "fatal"})
    rt = RuntimeCheck(ran=True, seconds=1)
    assert from_data(RuntimeCheck, to_data(rt)).seconds == 1.0


def test_snapshot_files_load(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(to_data(machine())))
    assert from_data(Machine, json.loads(path.read_text())).host.os == "linux"
