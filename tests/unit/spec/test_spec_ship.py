"""The spec's [image] and [deploy] tables: read, every problem reported at once, written back,
and never part of the spec's hash (shipping does not change the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchenv.models.ship import SpecDeploy, SpecImage, parse_reference
from torchenv.spec import SpecError, load_spec, parse_spec_text, render_spec, spec_hash

BASE = 'name = "demo"\npython = "3.11"\n'


def parse(text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_spec_text(BASE + text, tmp_path / "torchenv.toml")


def test_tables_are_read(tmp_path: Path) -> None:
    spec = parse(
        '[image]\nname = "registry.example.com/team/demo"\nbase = "python:3.11-slim-bookworm"\n'
        'jupyter = true\nssh = true\nuser = "ml"\nuid = 1234\ngid = 100\napt = ["git", "libgl1"]\n'
        '[deploy]\nnodes = 4\ngpus-per-node = 8\ncommand = ["train.py", "--epochs", "3"]\n'
        'shm-size = "32G"\nport = 29400\nimage = "registry.example.com/team/demo:1"\n',
        tmp_path,
    )
    assert spec.image == SpecImage(
        name="registry.example.com/team/demo",
        base="python:3.11-slim-bookworm",
        jupyter=True,
        ssh=True,
        user="ml",
        uid=1234,
        gid=100,
        apt=("git", "libgl1"),
    )
    assert spec.deploy == SpecDeploy(
        image="registry.example.com/team/demo:1",
        command=("train.py", "--epochs", "3"),
        nodes=4,
        gpus_per_node=8,
        shm_size="32g",
        port=29400,
    )


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    text = (
        '[image]\nbase = "python"\nname = "Bad Name"\njupyter = "yes"\nuser = "root"\nuid = 0\n'
        'apt = ["Git!"]\nsize = 3\n'
        '[deploy]\nnodes = 0\ngpus-per-node = "8"\ncommand = []\nshm-size = "lots"\n'
        'image = "demo:latest"\n'
    )
    with pytest.raises(SpecError) as err:
        parse(text, tmp_path)
    problems = {p.key: (p.line, p.message) for p in err.value.problems}
    assert "no tag" in problems["image.base"][1] and problems["image.base"][0] == 4
    assert "image reference" in problems["image.name"][1]
    assert problems["image.jupyter"][1] == "expected true or false"
    assert "other than root" in problems["image.user"][1]
    assert "out of range" in problems["image.uid"][1]
    assert "Debian package" in problems["image.apt[0]"][1]
    assert "unknown key" in problems["image.size"][1]
    assert "out of range" in problems["deploy.nodes"][1]
    assert "integer" in problems["deploy.gpus-per-node"][1]
    assert "empty" in problems["deploy.command"][1]
    assert "size such as" in problems["deploy.shm-size"][1]
    assert '"latest"' in problems["deploy.image"][1]


def test_shipping_does_not_change_the_hash(tmp_path: Path) -> None:
    plain = parse("", tmp_path)
    shipped = parse("[image]\nssh = true\n[deploy]\nnodes = 2\n", tmp_path)
    assert spec_hash(plain) == spec_hash(shipped)


def test_written_back_only_when_set(tmp_path: Path) -> None:
    plain = parse("", tmp_path)
    assert "[image]" not in render_spec(plain) and "[deploy]" not in render_spec(plain)
    shipped = parse('[image]\nssh = true\napt = ["git"]\n[deploy]\ngpus-per-node = 8\n', tmp_path)
    text = render_spec(shipped)
    assert "[image]" in text and "[deploy]" in text and "gpus-per-node = 8" in text
    path = tmp_path / "again.toml"
    path.write_text(text)
    again = load_spec(path, tmp_path)
    assert again.image == shipped.image and again.deploy == shipped.deploy


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("python:3.11-slim", (None, "python", "3.11-slim", None)),
        ("localhost/base:1", ("localhost", "base", "1", None)),
        ("team/demo", (None, "team/demo", None, None)),
        ("r.io:5000/a/b:v@sha256:" + "0" * 64, ("r.io:5000", "a/b", "v", "sha256:" + "0" * 64)),
    ],
)
def test_image_references(text: str, parts: tuple[str | None, ...]) -> None:
    found = parse_reference(text)
    assert found is not None
    assert (found["host"], found["path"], found["tag"], found["digest"]) == parts


@pytest.mark.parametrize("text", ["", "UPPER/case:1", "a b", "x::1", "x@sha256:123"])
def test_not_image_references(text: str) -> None:
    assert parse_reference(text) is None
