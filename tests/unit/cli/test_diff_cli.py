"""`torchenv diff A B` on the command line: exit 1 when the sides differ and 0 when they do not
(as diff(1)), torchenv.diff/1 JSON, and hostile inputs that each end in exit 2 with a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import FIXTURES, add_dist, make_venv, probe_context
from hostile import sandbox, special_file
from ship_project import set_in_lock, ship_project
from torchenv import cli
from torchenv.cli import common

H100 = str(FIXTURES / "machines" / "h100-node.json")
PASCAL = str(FIXTURES / "machines" / "pascal-node.json")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["diff", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_two_machines_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, H100, PASCAL)
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("--- a: ") and lines[0].endswith(
        "h100-node.json (machine, linux-x86_64, driver 580.65.06, Python 3.12.3)"
    )
    assert "~ NVIDIA driver: 580.65.06 -> 535.183.01" in lines
    assert "~ libc: glibc 2.36 -> glibc 2.35" in lines
    assert (
        "~ GPUs: 2 x NVIDIA H100 80GB HBM3 (CC 9.0) -> 1 x NVIDIA GeForce GTX 1080 Ti (CC ?)"
        in lines
    )
    assert lines[-1] == "They differ."


def test_json_of_the_same_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, H100, H100, "--json")
    doc = json.loads(out)
    assert code == 0 and next(iter(doc)) == "schema" and doc["schema"] == "torchenv.diff/1"
    assert doc["a"]["kind"] == "machine" and doc["a"]["path"] == H100
    assert doc["same"] is True and doc["torch"] is None and doc["machine"]["changed"] == []
    assert (doc["added"], doc["removed"], doc["changed"]) == ([], [], [])


def test_two_prefixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx, _ = probe_context(tmp_path)
    monkeypatch.setattr(common, "context", lambda: ctx)
    a, b = make_venv(tmp_path, "a"), make_venv(tmp_path, "b")
    add_dist(a.site, "six", "1.16.0")
    add_dist(b.site, "six", "1.17.0")
    add_dist(b.site, "idna", "3.10")
    code, out, _ = run(capsys, str(a.prefix), str(b.prefix), "--json")
    doc = json.loads(out)
    assert code == 1 and doc["same"] is False and doc["packages"] == "python"
    assert doc["added"] == [{"name": "idna", "version": "3.10"}]
    assert doc["changed"] == [{"name": "six", "a": "1.16.0", "b": "1.17.0"}]
    code, out, _ = run(capsys, str(a.prefix), str(b.prefix))
    assert code == 1
    assert out.splitlines()[2:] == [
        "Python packages: 1 added, 0 removed, 1 changed",
        "+ idna 3.10",
        "~ six 1.16.0 -> 1.17.0",
        "They differ.",
    ]
    code, out, _ = run(capsys, str(a.prefix), str(a.prefix))
    assert code == 0 and out.splitlines()[-1] == "No differences."


def test_a_machine_and_a_lock_have_nothing_in_common(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ship_project(tmp_path)
    code, out, err = run(capsys, H100, str(tmp_path / "pylock.toml"))
    assert code == 2 and out == ""
    assert "torchenv: error: Nothing to compare:" in err and "hint: Compare like with like" in err


def test_one_side_only_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, H100)
    assert code == 2 and "Missing argument 'B'" in err


# --------------------------------------------------------------------------- hostile inputs
@pytest.mark.parametrize("kind", ["fifo", "huge", "dev-zero", "loop", "dangling", "binary"])
def test_special_files(kind: str) -> None:
    with sandbox() as box:
        path = box.project / "side.json"
        special_file(path, kind)
        outcome = box.run("diff", str(path), H100)
        assert outcome.code == 2 and "torchenv: error: " in outcome.err, outcome


def test_a_huge_lock_is_refused_on_its_size() -> None:
    with sandbox() as box:
        path = box.project / "pylock.toml"
        special_file(path, "huge")
        outcome = box.run("diff", H100, str(path))
        assert outcome.code == 2 and "it is larger than 64 MiB" in outcome.err


def test_json_nested_10000_deep() -> None:
    with sandbox() as box:
        path = box.project / "deep.json"
        path.write_text('{"schema": ' + "[" * 10_000 + "]" * 10_000 + "}")
        outcome = box.run("diff", str(path), H100)
        assert outcome.code == 2 and "nested too deeply" in outcome.err


def test_a_lock_with_an_escape_sequence_in_a_name() -> None:
    with sandbox() as box:
        ship_project(box.project)
        lock = box.project / "pylock.toml"
        assert set_in_lock(lock, ("packages", 0, "name"), "torch\x1b[2J\x1b]0;pwned\x07")
        outcome = box.run("diff", str(lock), str(lock))
        assert outcome.code == 2 and "packages[0].name" in outcome.err
        assert "\\x1b[2J" in outcome.err  # shown, not sent to the terminal


def test_an_inspect_document_with_escapes_in_its_values() -> None:
    with sandbox() as box:
        doc = json.loads(Path(H100).read_text())
        doc["machine"]["gpus"][0]["name"] = "H100\x1b]0;pwned\x07"
        doc["environment"]["distributions"] = [
            {"name": "evil\x1b[2J", "version": "1\x1b[31m", "location": "/", "metadata_dir": "/"}
        ]
        path = box.project / "machine.json"
        path.write_text(json.dumps(doc))
        outcome = box.run("diff", str(path), H100)
        assert outcome.code == 1 and "\\x1b]0;pwned\\x07" in outcome.out
        outcome = box.run("diff", str(path), H100, "--json")
        assert outcome.code == 1 and json.loads(outcome.out)["same"] is False
