"""`torchenv list` on the command line, in the hostile harness: exit 0 whatever the health of
the environments (health is information), torchenv.list/1 JSON, and registries and records
that someone else wrote: no traceback, no escape sequence or credential printed, no hang on a
FIFO, nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import SECRET, Sandbox, hostile_text, sandbox, special_file, values
from unit.backends.test_generations import add_generation, plain_env
from unit.commands.test_listing import healthy_env


def registry(box: Sandbox) -> Path:
    path = Path(box.env["TORCHENV_DATA_DIR"]) / "environments.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_registry(box: Sandbox, entries: object) -> None:
    registry(box).write_text(json.dumps(entries))


def entry(spec: object = None) -> dict[str, object]:
    return {"spec": spec, "lock_sha256": "a" * 64, "backend": "uv", "created": "2026-01-01"}


def test_json_lists_every_environment_with_its_health_and_exits_0() -> None:
    with sandbox() as box:
        good = healthy_env(box.project, "good")
        managed = plain_env(box.project, "managed")
        os.symlink(box.project / "managed-bin-missing", managed / "bin" / "python")
        from torchenv.backends import generations as g

        g.make_first(managed)
        add_generation(managed, 2, "2.13.0+cpu")
        g.switch(managed, 2)
        gone = box.project / "gone"
        write_registry(box, {str(p): entry() for p in (good, managed, gone)})
        outcome = box.run("list", "--json")
        assert outcome.code == 0 and outcome.err == "", outcome
        document = json.loads(outcome.out)
        assert next(iter(document)) == "schema" and document["schema"] == "torchenv.list/1"
        assert document["registry"] == str(registry(box))
        rows = {row["prefix"]: row for row in document["environments"]}
        assert list(rows) == sorted(rows)
        assert rows[str(good)]["health"] == ["ok"] and rows[str(good)]["detail"] == []
        assert rows[str(good)]["torch"] == "2.13.0+cpu" and rows[str(good)]["python"] == "3.11.7"
        assert rows[str(managed)]["generation"] == 2
        assert rows[str(managed)]["health"][0] == "python-broken"
        assert rows[str(gone)]["health"] == ["gone"]


def test_text_is_a_table_with_the_details_below() -> None:
    with sandbox() as box:
        good = healthy_env(box.project, "good")
        (good.parent / "pylock.toml").write_text("relocked\n")
        write_registry(box, {str(good): entry()})
        outcome = box.run("list")
        assert outcome.code == 0, outcome
        lines = outcome.out.splitlines()
        assert lines[0].split() == [
            "PREFIX",
            "GEN",
            "TORCH",
            "VARIANT",
            "PYTHON",
            "INSTALLER",
            "HEALTH",
            "SPEC",
        ]
        assert lines[1].split()[:7] == [
            str(good),
            "-",
            "2.13.0+cpu",
            "cpu",
            "3.11.7",
            "uv",
            "lock-stale",
        ]
        assert (
            f"  - the lock {good.parent / 'pylock.toml'} changed since the environment was built"
            in lines
        )
        assert lines[-1] == "1 environment: 0 ok, 1 with problems"


def test_no_registry_yet() -> None:
    with sandbox() as box:
        outcome = box.run("list")
        assert outcome.code == 0 and outcome.out.startswith("No environments yet")
        document = json.loads(box.run("list", "--json").out)
        assert document["environments"] == [] and document["notes"] == []


def test_values_with_escapes_and_credentials_are_shown_safely() -> None:
    with sandbox() as box:
        spec = f"https://user:{SECRET}@mirror.example/\x1b]0;pwned\x07torchenv.toml"
        write_registry(
            box,
            {
                str(box.project / "env\x1b[2J"): entry(spec),
                str(box.project / "other\u202e"): "not a table",
                "relative\x1b[31m": {},
            },
        )
        for args in (("list",), ("list", "--json")):
            outcome = box.run(*args)  # the harness checks for ESC, U+202E and the secret
            assert outcome.code == 0, outcome
        assert "\\x1b[2J" in box.run("list").out


def test_a_record_that_is_a_fifo_or_a_lock_that_is_dev_zero_does_not_hang_it() -> None:
    with sandbox() as box:
        fifo = healthy_env(box.project, "fifo")
        (fifo / "torchenv-env.json").unlink()
        special_file(fifo / "torchenv-env.json", "fifo")
        zero = healthy_env(box.project, "zero")
        (zero.parent / "pylock.toml").unlink()
        special_file(zero.parent / "pylock.toml", "dev-zero")
        write_registry(box, {str(fifo): entry(), str(zero): entry()})
        outcome = box.run("list", "--json")
        assert outcome.code == 0, outcome
        rows = json.loads(outcome.out)["environments"]
        assert rows[0]["health"] == ["record-unusable"] and "FIFO" in rows[0]["detail"][0]
        assert rows[1]["health"] == ["lock-stale"] and "cannot be read" in rows[1]["detail"][0]


def test_a_registry_that_is_a_special_file_is_an_error_with_a_message() -> None:
    for kind in ("fifo", "dev-zero", "directory", "huge"):
        with sandbox() as box:
            special_file(registry(box), kind)
            outcome = box.run("list")
            assert outcome.code == 2, outcome
            assert "cannot be read" in outcome.err and "TORCHENV_DATA_DIR" in outcome.err


def test_a_registry_nested_10000_deep_is_listed_from_its_text() -> None:
    with sandbox() as box:
        good = healthy_env(box.project, "good")
        registry(box).write_text(f'{{"{good}": {{}}, "x": ' + "[" * 10_000 + "]" * 10_000 + "}")
        outcome = box.run("list", "--json")
        assert outcome.code == 0, outcome
        document = json.loads(outcome.out)
        assert [row["prefix"] for row in document["environments"]] == [str(good)]
        assert "nested too deeply" in document["notes"][0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.one_of(hostile_text, st.just("/opt/env")), values, max_size=4),
    st.dictionaries(hostile_text, values, max_size=3),
)
def test_any_registry_content_lists_or_says_why(entries: object, record: object) -> None:
    with sandbox() as box:
        good = healthy_env(box.project, "good")
        (good / "torchenv-env.json").write_text(json.dumps(record))
        write_registry(box, {**entries, str(good): entry()})
        for args in (("list",), ("list", "--json")):
            outcome = box.run(*args)
            assert outcome.code == 0, outcome
