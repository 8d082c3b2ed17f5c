"""The environment record: one typed shape, every field checked, old records still read."""

from __future__ import annotations

from typing import Any

import pytest

from torchenv.models.build import env_record
from torchenv.models.envrecord import ENV_RECORD_SCHEMA, EnvRecord, parse_env_record

SHA = "a" * 64


def written() -> dict[str, Any]:
    return env_record(
        backend="uv",
        created="2026-12-07T00:00:00Z",
        spec=("/p/torchenv.toml", "b" * 64),
        lock={"path": "/p/pylock.toml", "sha256": SHA, "packages": {"torch": "2.13.0+cpu"}},
        plan={"variant": "cpu", "torch": "2.13.0"},
    )


def test_a_written_record_reads_back_the_same() -> None:
    data = written()
    record = parse_env_record(data)
    assert record.to_data() == data
    assert (record.backend, record.lock_sha256, record.plan_variant) == ("uv", SHA, "cpu")
    assert record.plan_cuda is None and record.generation is None


def test_backend_facts_stay_under_lock() -> None:
    record = EnvRecord({"torch": "2.13.0"}, backend="conda", lock_extra={"platform": "linux-64"})
    assert record.to_data()["lock"]["platform"] == "linux-64"
    assert parse_env_record(record.to_data()).lock_extra == {"platform": "linux-64"}


def test_an_old_minimal_record_is_read() -> None:
    record = parse_env_record({"schema": ENV_RECORD_SCHEMA, "lock": {"packages": {}}})
    assert record.packages == {} and record.backend is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema="torchenv.env/9"), "has schema"),
        (lambda d: d.update(backend=["uv"]), '"backend" that is not text'),
        (lambda d: d["lock"].update(sha256="../../etc"), "not a sha256"),
        (lambda d: d["lock"].update(packages={"torch": 2}), '"packages"'),
        (lambda d: d.update(spec="x"), '"spec" that is not a table'),
        (lambda d: d["spec"].update(path=7), '"spec.path" that is not text'),
        (lambda d: d.update(generation=0), '"generation"'),
        (lambda d: d.update(generation=True), '"generation"'),
        (lambda d: d.update(plan=[]), '"plan" that is not a table'),
    ],
)
def test_a_field_of_the_wrong_kind_makes_the_record_unusable(change: Any, message: str) -> None:
    data = written()
    change(data)
    with pytest.raises(ValueError, match=message):
        parse_env_record(data)


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        parse_env_record([1])


@pytest.mark.parametrize(
    "path", ["/p/pylock\x00.toml", "relative/pylock.toml", "/p/a\nb", "/p/\u2028x"]
)
def test_a_path_the_record_names_must_be_absolute_and_plain(path: str) -> None:
    data = written()
    data["lock"]["path"] = path
    with pytest.raises(ValueError, match="not an absolute path"):
        parse_env_record(data)
    assert parse_env_record({**written(), "spec": {"path": "C:\\\\p\\\\torchenv.toml"}}).spec_path
