"""Saving command-line options into the spec's [image] and [deploy] tables: the user's file keeps
its comments and layout, only a regular file is replaced, and only with a valid spec of the same
environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from torchenv.errors import UsageError
from torchenv.models.ship import SpecDeploy, SpecImage
from torchenv.spec import load_spec, spec_hash
from torchenv.spec.remember import remember_options

SPEC = """\
# torchenv spec of the PyTorch environment 'demo'.
# Edit it freely.

name = "demo"  # the environment
python = "3.11"
libraries = [
    "torchvision",  # images
]

[targets]
# the lab's cards
gpus = ["H100"]

# how it ships
[image]
jupyter = false  # off for now
ssh = true

# and where it runs
[deploy]
nodes = 2
"""


def spec_file(tmp_path: Path, text: str = SPEC, name: str = "torchenv.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_only_the_edited_table_changes_byte_for_byte(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    notes = remember_options(path, "image", {"jupyter": True, "base": "python:3.11-slim"})
    assert notes == [
        "saved [image] jupyter = true in torchenv.toml",
        'saved [image] base = "python:3.11-slim" in torchenv.toml',
    ]
    # the new key goes after the table's last key, not after the comment of [deploy]
    assert path.read_text() == SPEC.replace(
        "jupyter = false  # off for now\nssh = true\n",
        'jupyter = true  # off for now\nssh = true\nbase = "python:3.11-slim"\n',
    )


def test_a_missing_table_is_added_at_the_end(tmp_path: Path) -> None:
    text = SPEC[: SPEC.index("# and where")]
    path = spec_file(tmp_path, text)
    notes = remember_options(path, "deploy", {"gpus-per-node": 8, "shm-size": "32g"})
    assert notes == [
        "saved [deploy] gpus-per-node = 8 in torchenv.toml",
        'saved [deploy] shm-size = "32g" in torchenv.toml',
    ]
    # the file ended in a blank line: it is not doubled
    assert path.read_text() == text + '[deploy]\ngpus-per-node = 8\nshm-size = "32g"\n'
    path.write_text(text.rstrip("\n") + "\n")
    remember_options(path, "deploy", {"nodes": 3})
    assert path.read_text() == text + "[deploy]\nnodes = 3\n"


def test_a_file_without_a_final_newline_gets_the_table_on_a_line_of_its_own(
    tmp_path: Path,
) -> None:
    path = spec_file(tmp_path, 'name = "demo"\npython = "3.11"')
    remember_options(path, "image", {"ssh": True})
    assert path.read_text() == 'name = "demo"\npython = "3.11"\n\n[image]\nssh = true\n'


def test_an_existing_key_is_updated_in_place(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    assert remember_options(path, "deploy", {"nodes": 4}) == [
        "saved [deploy] nodes = 4 in torchenv.toml"
    ]
    assert path.read_text() == SPEC.replace("nodes = 2", "nodes = 4")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("image = { jupyter = false }", 'image = { jupyter = true, base = "python:3.11-slim" }'),
        ("image = {ssh = true}", 'image = {ssh = true, jupyter = true, base = "python:3.11-slim"}'),
        (
            "image.jupyter = false  # dotted\nimage.ssh = true",
            'image.jupyter = true  # dotted\nimage.base = "python:3.11-slim"\nimage.ssh = true',
        ),
    ],
    ids=["inline", "inline-compact", "dotted"],
)
def test_inline_tables_and_dotted_keys_keep_their_form(
    tmp_path: Path, before: str, after: str
) -> None:
    head = '# demo\nname = "demo"\npython = "3.11"\n'
    tail = '\n\n[targets]\ngpus = ["H100"]\n'
    path = spec_file(tmp_path, head + before + tail)
    remember_options(path, "image", {"jupyter": True, "base": "python:3.11-slim"})
    assert path.read_text() == head + after + tail
    assert load_spec(path, tmp_path).image == SpecImage(
        jupyter=True, ssh="ssh" in before, base="python:3.11-slim"
    )


def test_a_table_of_comments_only_gets_its_keys_under_the_header(tmp_path: Path) -> None:
    text = 'name = "demo"\npython = "3.11"\n[image]\n# set below\n\n# next\n[deploy]\nnodes = 1\n'
    path = spec_file(tmp_path, text)
    remember_options(path, "image", {"ssh": True})
    assert path.read_text() == text.replace("# set below\n", "# set below\nssh = true\n")


def test_unchanged_values_leave_the_file_alone(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    before = os.stat(path)
    assert remember_options(path, "image", {"jupyter": False, "ssh": True}) == []
    assert remember_options(path, "deploy", {"nodes": 2}) == []
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert path.read_text() == SPEC


def test_only_the_keys_that_change_get_a_note(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    notes = remember_options(path, "image", {"jupyter": True, "ssh": True})
    assert notes == ["saved [image] jupyter = true in torchenv.toml"]


def test_a_default_the_file_lacks_is_written_since_the_user_said_it(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    assert remember_options(path, "image", {"compiler": False}) == [
        "saved [image] compiler = false in torchenv.toml"
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"base": "python"}, "has no tag"),
        ({"uid": 0}, "out of range"),
        ({"user": "root"}, "login name other than root"),
        ({"jupyter": "yes"}, "expected true or false"),
    ],
)
def test_an_invalid_value_is_refused_with_the_checkers_words(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    path = spec_file(tmp_path)
    before = os.stat(path)
    with pytest.raises(UsageError) as err:
        remember_options(path, "image", values)
    assert err.value.reference == "spec-not-saved"
    assert message in err.value.message and str(path) in err.value.message
    assert path.read_text() == SPEC and os.stat(path).st_ino == before.st_ino


def test_a_value_with_a_control_character_is_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    for values in (
        {"user": "ml\nRUN id"},
        {"command": ["train.py", "\x1b[31m"]},
        {"command": ["\u202etrain.py"]},
        {"image": "bad\udcff"},
    ):
        with pytest.raises(UsageError, match="control character"):
            remember_options(path, "image" if "user" in values else "deploy", values)
    assert path.read_text() == SPEC


def test_what_a_caller_cannot_pass_is_a_programming_error(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    with pytest.raises(ValueError, match="no key"):
        remember_options(path, "image", {"gpus-per-node": 8})
    with pytest.raises(ValueError, match="cannot save"):
        remember_options(path, "deploy", {"nodes": 2.5})
    with pytest.raises(ValueError, match="cannot save"):
        remember_options(path, "deploy", {"command": ["train.py", 3]})
    assert path.read_text() == SPEC


def test_a_list_is_written_as_a_toml_array(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    command = ("train.py", "--name", 'a"b', "c'd", "$(id)")
    notes = remember_options(path, "deploy", {"command": command})
    assert notes == [
        'saved [deploy] command = ["train.py", "--name", "a\\"b", "c\'d", "$(id)"] in torchenv.toml'
    ]
    assert 'command = ["train.py", "--name", "a\\"b", "c\'d", "$(id)"]\n' in path.read_text()
    assert load_spec(path, tmp_path).deploy.command == command


def test_the_environment_does_not_change(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    before = spec_hash(load_spec(path, tmp_path))
    remember_options(path, "image", {"jupyter": True, "apt": ["git"], "uid": 1234})
    remember_options(path, "deploy", {"command": ["train.py"], "port": 29400})
    assert spec_hash(load_spec(path, tmp_path)) == before


def test_it_reads_back_to_the_values_saved(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    remember_options(
        path,
        "image",
        {"name": "registry.example.com/team/demo", "jupyter": True, "user": "ml", "gid": 100},
    )
    remember_options(
        path,
        "deploy",
        {"image": "registry.example.com/team/demo:1", "gpus-per-node": 8, "shm-size": "32G"},
    )
    spec = load_spec(path, tmp_path)
    assert spec.image == SpecImage(
        name="registry.example.com/team/demo", jupyter=True, ssh=True, user="ml", gid=100
    )
    assert spec.deploy == SpecDeploy(
        image="registry.example.com/team/demo:1", nodes=2, gpus_per_node=8, shm_size="32g"
    )


def test_the_permission_bits_are_kept(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    os.chmod(path, 0o640)
    remember_options(path, "image", {"jupyter": True})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name != "torchenv.toml"]  # no temp left


def test_line_endings_and_a_byte_order_mark_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "torchenv.toml"
    path.write_bytes(b'\xef\xbb\xbfname = "demo"\r\npython = "3.11"\r\n[image]\r\nssh = true\r\n')
    remember_options(path, "image", {"jupyter": True})
    assert path.read_bytes() == (
        b'\xef\xbb\xbfname = "demo"\r\npython = "3.11"\r\n[image]\r\nssh = true\r\n'
        b"jupyter = true\r\n"
    )


def test_a_pyproject_gets_tool_torchenv_tables(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "demo"\n\n[tool.torchenv]\npython = "3.11"\n\n'
        "# the linter\n[tool.ruff]\nline-length = 100\n"
    )
    path = spec_file(tmp_path, text, "pyproject.toml")
    notes = remember_options(path, "deploy", {"nodes": 2})
    assert notes == ["saved [tool.torchenv.deploy] nodes = 2 in pyproject.toml"]
    assert path.read_text() == text.replace(
        '"3.11"\n\n', '"3.11"\n\n[tool.torchenv.deploy]\nnodes = 2\n\n'
    )
    assert load_spec(path, tmp_path).deploy.nodes == 2


def test_a_pyproject_without_the_spec_is_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path, '[project]\nname = "demo"\n', "pyproject.toml")
    with pytest.raises(UsageError, match=r"no \[tool.torchenv\] table"):
        remember_options(path, "image", {"jupyter": True})
    assert path.read_text() == '[project]\nname = "demo"\n'


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no spec at") as err:
        remember_options(tmp_path / "torchenv.toml", "image", {"jupyter": True})
    assert "torchenv init" in (err.value.hint or "")
    assert not list(tmp_path.iterdir())


def test_a_symlink_is_refused_and_both_ends_stay(tmp_path: Path) -> None:
    target = spec_file(tmp_path, SPEC, "real.toml")
    link = tmp_path / "torchenv.toml"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="symbolic link") as err:
        remember_options(link, "image", {"jupyter": True})
    assert err.value.reference == "spec-not-saved"
    assert "`jupyter = true`" in (err.value.hint or "")  # what to add by hand
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == SPEC


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_what_is_not_a_regular_file_is_refused_without_waiting(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "torchenv.toml"
    if kind == "fifo":
        os.mkfifo(path)  # an open for reading would wait for a writer forever
    else:
        path.mkdir()
    with pytest.raises(UsageError, match=r"FIFO|directory"):
        remember_options(path, "image", {"jupyter": True})
    assert (stat.S_ISFIFO if kind == "fifo" else stat.S_ISDIR)(os.lstat(path).st_mode)


def test_an_unreadable_or_huge_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge" / "torchenv.toml"
    huge.parent.mkdir()
    with open(huge, "wb") as handle:
        handle.truncate(64 << 20)  # sparse: past the cap without the disk
    with pytest.raises(UsageError, match="larger than"):
        remember_options(huge, "image", {"jupyter": True})
    path = spec_file(tmp_path)

    def denied(file: object, limit: int) -> bytes:  # root reads a file of mode 000 anyway
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr("torchenv.untrusted.files.read_bytes", denied)
    with pytest.raises(UsageError, match=r"cannot read the spec .*Permission denied"):
        remember_options(path, "image", {"jupyter": True})


def test_a_failed_write_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = spec_file(tmp_path)

    def read_only(file: object, data: bytes, mode: int | None = None) -> None:
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr("torchenv.untrusted.files.write_atomic", read_only)
    with pytest.raises(UsageError, match=r"cannot write .*Permission denied") as err:
        remember_options(path, "image", {"jupyter": True})
    assert "`jupyter = true`" in (err.value.hint or "")
    assert path.read_text() == SPEC


@pytest.mark.parametrize(
    "text",
    [
        'name = "demo"\n[image\n',
        'name = "demo"\nname = "again"\n',
        "\x00\x01",
        'image = 3\nname = "demo"\n',
        'name = "demo"\n[[image]]\nssh = true\n',
    ],
    ids=["broken", "duplicate", "binary", "image-not-a-table", "array-of-tables"],
)
def test_a_file_that_is_not_a_valid_spec_is_refused(tmp_path: Path, text: str) -> None:
    path = spec_file(tmp_path, text)
    with pytest.raises(UsageError) as err:
        remember_options(path, "image", {"jupyter": True})
    assert err.value.reference == "spec-not-saved" and str(path) in err.value.message
    assert "Fix the spec first" in (err.value.hint or "")
    assert path.read_text() == text


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "torchenv.toml"
    path.write_bytes(b'name = "d\xffmo"\n')
    with pytest.raises(UsageError, match="not UTF-8"):
        remember_options(path, "image", {"jupyter": True})
