"""`torchenv list` (commands/listing.py) on environments on disk: a healthy one, then one
thing wrong at a time, each giving its own health word and a detail that names it; a managed
(generation) prefix; and registries and records that someone else wrote."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from builders import add_dist, add_torch, make_venv
from torchenv.backends import generations as g
from torchenv.backends.registry import register
from torchenv.commands.listing import run_list
from torchenv.models.build import env_record
from torchenv.models.lifecycle import LIST_SCHEMA, EnvironmentRow
from torchenv.report.render_list import render_list
from torchenv.spec import load_spec, spec_hash
from unit.backends.test_generations import add_generation, plain_env

SPEC = (
    'name = "demo"\npython = "3.11"\ntorch = "==2.13.0"\ncuda = "cpu"\nlibraries = []\n'
    'packages = []\ninstaller = "uv"\n'
)
LOCK = b'lock-version = "1.0"\n# stands in for a pylock.toml: only its bytes are hashed\n'


def healthy_env(root: Path, name: str = "env") -> Path:
    """A venv with torch and filelock installed, its spec and lock beside it, and a record
    that matches all three: health "ok"."""
    project = root / f"{name}-project"
    project.mkdir(parents=True)
    spec = project / "torchenv.toml"
    spec.write_text(SPEC)
    lock = project / "pylock.toml"
    lock.write_bytes(LOCK)
    env = make_venv(project, name)
    add_torch(env.site, "2.13.0+cpu", cuda=None, dist_version="2.13.0+cpu")
    add_dist(env.site, "filelock", "3.16.1")
    record = env_record(
        backend="uv",
        spec=(str(spec), spec_hash(load_spec(spec, project))),
        lock={
            "path": str(lock),
            "sha256": hashlib.sha256(LOCK).hexdigest(),
            "packages": {"torch": "2.13.0+cpu", "filelock": "3.16.1"},
        },
        plan={"variant": "cpu", "python": "3.11"},
    )
    (env.prefix / "torchenv-env.json").write_text(json.dumps(record))
    return env.prefix


def registry_with(tmp_path: Path, *prefixes: Path) -> Path:
    registry = tmp_path / "data" / "environments.json"
    for prefix in prefixes:
        entry = {"spec": None, "lock_sha256": "a" * 64, "backend": "uv", "created": "2026-01-01"}
        register(registry, str(prefix), entry)
    return registry


def only_row(registry: Path) -> EnvironmentRow:
    report = run_list(registry)
    assert report.schema == LIST_SCHEMA and len(report.environments) == 1, report
    return report.environments[0]


def test_a_healthy_environment_is_ok_with_its_facts(tmp_path: Path) -> None:
    prefix = healthy_env(tmp_path)
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("ok",) and row.detail == ()
    assert (row.prefix, row.torch, row.variant, row.python) == (
        str(prefix),
        "2.13.0+cpu",
        "cpu",
        "3.11.7",
    )
    assert row.backend == "uv" and row.generation is None
    assert row.spec == str(prefix.parent / "torchenv.toml")


def test_an_empty_or_missing_registry_lists_nothing(tmp_path: Path) -> None:
    report = run_list(tmp_path / "none" / "environments.json")
    assert report.environments == () and report.notes == ()
    lines: list[str] = []
    render_list(lambda segments: lines.append("".join(t for t, _ in segments)), report)
    assert lines[0].startswith("No environments yet: `torchenv create`")


@pytest.mark.parametrize("how", ["removed", "dangling-link", "a-file"])
def test_gone(tmp_path: Path, how: str) -> None:
    prefix = healthy_env(tmp_path)
    registry = registry_with(tmp_path, prefix)
    os.rename(prefix, tmp_path / "moved")
    if how == "dangling-link":
        prefix.symlink_to(tmp_path / "nowhere")
    elif how == "a-file":
        prefix.write_text("")
    row = only_row(registry)
    assert row.health == ("gone",) and len(row.detail) == 1
    expected = {"removed": "there is nothing at", "dangling-link": "dangling link"}
    assert expected.get(how, "is not a directory") in row.detail[0]
    assert row.backend == "uv"  # what the registry still knows


@pytest.mark.parametrize("how", ["missing", "dangling", "directory", "not-executable"])
def test_python_broken(tmp_path: Path, how: str) -> None:
    prefix = healthy_env(tmp_path)
    python = prefix / "bin" / "python"
    python.unlink()
    if how == "dangling":
        python.symlink_to("/usr/bin/python3.0-removed-by-an-upgrade")
    elif how == "directory":
        python.mkdir()
    elif how == "not-executable":
        python.write_text("")
        python.chmod(0o644)
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("python-broken",), row
    expected = {
        "missing": "bin/python is missing",
        "dangling": "is a dangling link (to /usr/bin/python3.0-removed-by-an-upgrade)",
        "directory": "is not a regular file",
        "not-executable": "is not executable",
    }
    assert expected[how] in row.detail[0]
    assert row.torch == "2.13.0+cpu"  # the packages are still read from its files


@pytest.mark.parametrize("content", ["{not json", "fifo", "missing", '{"lock": 3}'])
def test_record_unusable(tmp_path: Path, content: str) -> None:
    prefix = healthy_env(tmp_path)
    record = prefix / "torchenv-env.json"
    record.unlink()
    if content == "fifo":
        os.mkfifo(record)  # read without blocking: list must not hang on it
    elif content != "missing":
        record.write_text(content)
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("record-unusable",), row
    expected = {
        "{not json": "is not JSON",
        "fifo": "FIFO",
        "missing": "torchenv-env.json is missing",
        '{"lock": 3}': '"lock" that is not a table',
    }
    assert expected[content] in row.detail[0] and str(record) in row.detail[0]
    assert row.torch == "2.13.0+cpu" and row.python == "3.11.7"


@pytest.mark.parametrize("how", ["lock-edited", "lock-removed", "lock-fifo", "spec-edited"])
def test_lock_stale(tmp_path: Path, how: str) -> None:
    prefix = healthy_env(tmp_path)
    lock, spec = prefix.parent / "pylock.toml", prefix.parent / "torchenv.toml"
    if how == "lock-edited":
        lock.write_bytes(LOCK + b"# relocked\n")
    elif how == "lock-removed":
        lock.unlink()
    elif how == "lock-fifo":
        lock.unlink()
        os.mkfifo(lock)
    else:
        spec.write_text(SPEC.replace("packages = []", 'packages = ["numpy"]'))
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("lock-stale",), row
    expected = {
        "lock-edited": f"the lock {lock} changed since the environment was built",
        "lock-removed": f"the lock {lock} is gone",
        "lock-fifo": f"the lock {lock} cannot be read: ",
        "spec-edited": f"the spec {spec} changed since the environment was built",
    }
    assert row.detail[0].startswith(expected[how]), row.detail


def test_a_spec_that_no_longer_loads_makes_the_lock_stale(tmp_path: Path) -> None:
    prefix = healthy_env(tmp_path)
    (prefix.parent / "torchenv.toml").write_text("torch = [unclosed\n")
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("lock-stale",) and "cannot be read now" in row.detail[0]


def test_drifted_names_each_difference(tmp_path: Path) -> None:
    prefix = healthy_env(tmp_path)
    site = next(prefix.glob("lib/python*/site-packages"))
    add_dist(site, "numpy", "2.1.0")
    for old in site.glob("filelock-*.dist-info"):
        (old / "METADATA").write_text("Metadata-Version: 2.1\nName: filelock\nVersion: 3.0.0\n")
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("drifted",), row
    assert row.detail == ("filelock is 3.0.0, the lock has 3.16.1", "numpy 2.1.0 was added")


def test_many_differences_are_shown_in_part(tmp_path: Path) -> None:
    prefix = healthy_env(tmp_path)
    site = next(prefix.glob("lib/python*/site-packages"))
    for index in range(12):
        add_dist(site, f"extra{index:02d}", "1.0")
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("drifted",) and len(row.detail) == 9
    assert row.detail[-1] == "and 4 more differences from the lock"


def test_several_words_at_once_in_their_order(tmp_path: Path) -> None:
    # plain_env: no bin/python, a record naming /p/pylock.toml and /p/torchenv.toml (absent),
    # and torch locked but not installed
    prefix = plain_env(tmp_path)
    row = only_row(registry_with(tmp_path, prefix))
    assert row.health == ("python-broken", "lock-stale", "drifted"), row
    assert row.detail[1] == "the lock /p/pylock.toml is gone"
    assert row.detail[-1] == "torch 2.12.0+cpu is missing"
    assert (row.torch, row.variant, row.python) == ("2.12.0+cpu", "cpu", "3.11")


def test_a_managed_prefix_shows_its_live_generation_and_reads_through_the_link(
    tmp_path: Path,
) -> None:
    prefix = plain_env(tmp_path)
    g.make_first(prefix)
    add_generation(prefix, 2, "2.13.0+cpu")
    g.switch(prefix, 2)
    row = only_row(registry_with(tmp_path, prefix))
    assert row.generation == 2 and row.prefix == str(prefix)
    assert row.torch == "2.13.0+cpu"  # generation 2's record, not generation 1's
    assert "gone" not in row.health
    # the live generation deleted under the link: the prefix leads nowhere
    os.rename(g.generation_path(prefix, 2), tmp_path / "g2-moved")
    row = only_row(registry_with(tmp_path))
    assert row.health == ("gone",) and row.generation == 2 and "dangling link" in row.detail[0]


def test_a_registry_with_garbage_entries(tmp_path: Path) -> None:
    good = healthy_env(tmp_path)
    registry = tmp_path / "environments.json"
    entries = {
        str(good): {"spec": 7, "backend": ["uv"], "lock_sha256": None},
        str(tmp_path / "not-a-table"): "garbage",
        "relative/.venv": {},
        "/with\u0000nul": {},
        "\ud800": {},
        "/x" * 3000: {},
    }
    registry.write_text(json.dumps(entries))
    report = run_list(registry)
    rows = {row.prefix: row for row in report.environments}
    assert list(rows) == sorted(rows)
    assert set(rows) == {str(good), str(tmp_path / "not-a-table"), "/x" * 3000}
    assert rows[str(good)].health == ("record-unusable",)
    assert rows[str(good)].detail == (
        f'its entry in {registry} has a "spec" that is not text',
        f'its entry in {registry} has a "backend" that is not text',
    )
    assert rows[str(good)].backend == "uv"  # from the environment's own record
    assert rows[str(tmp_path / "not-a-table")].health == ("gone", "record-unusable")
    assert rows["/x" * 3000].health == ("gone",)
    assert len(report.notes) == 3 and all(
        n.startswith("skipped the registry entry") for n in report.notes
    )
    assert any("not an absolute path" in n for n in report.notes)


@pytest.mark.parametrize(
    "form",
    [b'[{"%s": {}}]', b'{"%s": {"spec": ', b'\xff\xfe\x00{"%s": {}}'],
    ids=["a-list", "cut-short", "not-utf8"],
)
def test_a_registry_that_is_not_an_object_lists_what_its_text_names(
    tmp_path: Path, form: bytes
) -> None:
    good = healthy_env(tmp_path)
    registry = tmp_path / "environments.json"
    registry.write_bytes(form % str(good).encode())
    before = registry.read_bytes()
    report = run_list(registry)
    assert [row.prefix for row in report.environments] == [str(good)]
    assert "the next `torchenv create` rebuilds it" in report.notes[0]
    assert registry.read_bytes() == before and list(tmp_path.glob("*.corrupt-*")) == []


def test_a_registry_that_cannot_be_read_is_an_error(tmp_path: Path) -> None:
    from torchenv.errors import UsageError

    registry = tmp_path / "environments.json"
    os.mkfifo(registry)
    with pytest.raises(UsageError) as caught:
        run_list(registry)
    assert caught.value.reference == "registry-unreadable" and "FIFO" in caught.value.message


def test_a_record_naming_paths_that_cannot_be_files(tmp_path: Path) -> None:
    prefix = healthy_env(tmp_path)
    record = json.loads((prefix / "torchenv-env.json").read_text())
    record["lock"]["path"] = "/p/pylock\u0000.toml"
    record["spec"]["path"] = "relative/torchenv.toml"
    (prefix / "torchenv-env.json").write_text(json.dumps(record))
    row = only_row(registry_with(tmp_path, prefix))
    # the record's own reader refuses such a record whole (models/envrecord.py)
    assert row.health == ("record-unusable",), row
    assert "not an absolute path" in " ".join(row.detail)


def test_rows_are_sorted_and_rendered_one_line_each(tmp_path: Path) -> None:
    b = healthy_env(tmp_path, "b")
    a = plain_env(tmp_path, "a\x1b[2J")
    report = run_list(registry_with(tmp_path, b, a))
    assert [row.prefix for row in report.environments] == sorted([str(a), str(b)])
    lines: list[list[tuple[str, str | None]]] = []
    render_list(lines.append, report)
    text = ["".join(t for t, _ in segments) for segments in lines]
    assert text[0].split() == [
        "PREFIX",
        "GEN",
        "TORCH",
        "VARIANT",
        "PYTHON",
        "INSTALLER",
        "HEALTH",
        "SPEC",
    ]
    assert "\x1b" not in "\n".join(text) and "a\\x1b[2J" in text[1]
    assert ("ok", "green") in lines[2] and ("python-broken", "bold red") in lines[1]
    assert "  - torch 2.12.0+cpu is missing" in text
    assert text[-1] == "2 environments: 1 ok, 1 with problems"
