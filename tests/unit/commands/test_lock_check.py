"""``torchenv lock --check``: exit 0 for a fresh lock, 1 with what changed for every kind of
change (torch, python, packages, index, targets, the lock itself, the knowledge)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchenv import cli
from torchenv.backends.installers import Sources
from torchenv.backends.lockfile import with_tool_table
from torchenv.commands.lock import spec_plan, tool_table
from torchenv.commands.lockcheck import input_changes, recorded_inputs, run_lock_check
from torchenv.spec import load_spec, spec_hash

SPEC = """name = "gate"
python = "3.11"
torch = "==2.13.0"
libraries = []
packages = ["numpy<3"]

[targets]
gpus = ["H100"]
driver = "580.65.06"

[index]
pypi = "https://user:secret@mirror.example/simple"
"""
PYLOCK = """lock-version = "1.0"
created-by = "uv"
requires-python = "==3.11.*"

[[packages]]
name = "torch"
version = "2.13.0+cu130"
"""


def make(tmp_path: Path, spec_text: str = SPEC) -> Path:
    """A spec and the lock `torchenv lock` would write for it (uv's part stubbed)."""
    (tmp_path / "torchenv.toml").write_text(spec_text)
    spec = load_spec(None, tmp_path)
    plan = spec_plan(None, spec, tmp_path)
    assert plan.stack is not None
    sources = Sources.for_variant(spec.index, plan.stack.variant, macos=False)
    table = tool_table(spec, spec_hash(spec), plan, sources)
    (tmp_path / "pylock.toml").write_text(with_tool_table(PYLOCK, table))
    return tmp_path


def check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = cli.main(["lock", "--check", "--json", str(tmp_path / "torchenv.toml")])
    return code, json.loads(capsys.readouterr().out)


def changed(doc: dict[str, object]) -> dict[str, tuple[str, str]]:
    return {c["field"]: (c["locked"], c["now"]) for c in doc["changes"]}  # type: ignore[attr-defined,index]


def test_a_fresh_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(tmp_path)
    code, doc = check(tmp_path, capsys)
    assert code == 0 and doc["fresh"] is True and doc["schema"] == "torchenv.lock-check/1"
    assert doc["stack"] == "2.13.0+cu130" and doc["changes"] == []
    lock = (tmp_path / "pylock.toml").read_text()
    assert "secret" not in lock and '"index.pypi" = "https://mirror.example/simple"' in lock
    assert cli.main(["lock", "--check", str(tmp_path / "torchenv.toml")]) == 0
    assert "is fresh" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("old", "new", "field", "was", "now"),
    [
        ('torch = "==2.13.0"', 'torch = "==2.14.*"', "torch", "==2.13.0", "==2.14.*"),
        ('python = "3.11"', 'python = "3.12"', "python", "3.11", "3.12"),
        ('packages = ["numpy<3"]', 'packages = ["numpy<3", "rich"]', "packages", "numpy<3",
         "numpy<3, rich"),
        ("libraries = []", 'libraries = ["torchvision"]', "libraries", "", "torchvision"),
        ('gpus = ["H100"]', 'gpus = ["H100", "A100"]', "targets.gpus", "H100", "A100, H100"),
        ('driver = "580.65.06"', 'driver = "590.10.01"', "targets.driver", "580.65.06",
         "590.10.01"),
        ("pypi = \"https://user:secret@mirror.example/simple\"",
         'pypi = "https://other.example/simple"', "index.pypi",
         "https://mirror.example/simple", "https://other.example/simple"),
        ("[index]\n", "[index]\npytorch = false\n", "index.pytorch",
         "https://download.pytorch.org/whl", "false"),
    ],
)  # fmt: skip
def test_each_kind_of_spec_change_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    field: str,
    was: str,
    now: str,
) -> None:
    make(tmp_path)
    spec = tmp_path / "torchenv.toml"
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, new))
    code, doc = check(tmp_path, capsys)
    assert code == 1 and doc["fresh"] is False
    assert changed(doc)[field] == (was, now)
    assert "secret" not in json.dumps(doc)


def test_reordering_a_list_is_not_a_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tmp_path, SPEC.replace('packages = ["numpy<3"]', 'packages = ["numpy<3", "rich"]'))
    spec = tmp_path / "torchenv.toml"
    spec.write_text(spec.read_text().replace('["numpy<3", "rich"]', '["rich", "numpy<3"]'))
    assert check(tmp_path, capsys)[0] == 0


def test_an_edited_or_missing_lock_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tmp_path)
    lock = tmp_path / "pylock.toml"
    lock.write_text(lock.read_text().replace('version = "2.13.0+cu130"', 'version = "2.13.0"'))
    code, doc = check(tmp_path, capsys)
    assert code == 1 and changed(doc)["lock"] == ("as `torchenv lock` wrote it", "edited since")
    lock.unlink()
    code, doc = check(tmp_path, capsys)
    assert code == 1 and "lock" in changed(doc) and doc["stack"] == ""
    lock.write_text("not toml [")
    code = cli.main(["lock", "--check", str(tmp_path / "torchenv.toml")])
    out = capsys.readouterr().out
    assert code == 1 and "is stale" in out and "not a TOML file" in out and "torchenv lock" in out


def test_the_knowledge_no_longer_admitting_the_build_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the lock says cu130 for a Pascal GPU: the knowledge knows it has no kernels for it
    make(tmp_path)
    lock = tmp_path / "pylock.toml"
    spec = tmp_path / "torchenv.toml"
    text = spec.read_text().replace('gpus = ["H100"]', 'gpus = ["GTX 1080"]')
    spec.write_text(text)
    code, doc = check(tmp_path, capsys)
    assert code == 1 and "no kernels for" in changed(doc)["knowledge"][1]
    assert lock.exists()  # nothing written


def test_recorded_inputs_are_checked_like_any_lock_data() -> None:
    assert recorded_inputs({"torch": "==2.13.0"}) == {"torch": "==2.13.0"}
    assert recorded_inputs({"torch": 3}) is None and recorded_inputs(["torch"]) is None
    assert recorded_inputs({"Bad Key": "x"}) is None
    assert recorded_inputs({"torch": "x" * 70000}) is None
    assert "\x1b" not in recorded_inputs({"torch": "a\x1b[31mb"})["torch"]  # type: ignore[index]
    assert input_changes({"a": "1", "gone": "x"}, {"a": "2", "new": "y"}) == [
        *input_changes({"a": "1"}, {"a": "2"}),
        *input_changes({}, {"new": "y"}),
        *input_changes({"gone": "x"}, {}),
    ]


def test_an_old_lock_without_inputs_still_says_the_spec_changed(tmp_path: Path) -> None:
    make(tmp_path)
    lock = tmp_path / "pylock.toml"
    text = lock.read_text()
    start = text.index("[tool.torchenv.inputs]")
    end = text.index("\n\n", start) + 2 if "\n\n" in text[start:] else len(text)
    lock.write_text(text[:start] + text[end:])  # as an older torchenv wrote it (unsealed now)
    spec = tmp_path / "torchenv.toml"
    spec.write_text(spec.read_text().replace('python = "3.11"', 'python = "3.12"'))
    report = run_lock_check(None, str(spec), tmp_path)
    fields = {c.field for c in report.changes}
    assert not report.fresh and "spec" in fields and "python" not in fields
    assert any("older torchenv" in n for n in report.notes)


def test_a_conda_lock_and_its_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from torchenv.backends.conda import CONDA_LOCK_FILE, meta_path, render_meta
    from torchenv.commands.lock import plan_table

    text = SPEC.replace('torch = "==2.13.0"', 'torch = "==2.13.0"\ninstaller = "conda"')
    text = text.replace('packages = ["numpy<3"]\n', "").split("[index]")[0]
    (tmp_path / "torchenv.toml").write_text(text)
    spec = load_spec(None, tmp_path)
    plan = spec_plan(None, spec, tmp_path)
    assert plan.stack is not None and plan.stack.channel == "conda-forge"
    data = b"version: 6\n"  # the lock's bytes: only its sha256 is checked here
    channels = {"channels": ["https://conda.anaconda.org/conda-forge"]}
    table = plan_table(spec, spec_hash(spec), plan, channels)
    lock = tmp_path / CONDA_LOCK_FILE
    lock.write_bytes(data)
    meta_path(lock).write_text(render_meta(table, data))
    code, doc = check(tmp_path, capsys)
    assert code == 0 and str(doc["stack"]).startswith("conda-forge pytorch 2.13.0")
    lock.write_bytes(data + b"# edited\n")
    code, doc = check(tmp_path, capsys)
    assert code == 1 and changed(doc)["lock"] == ("as `torchenv lock` wrote it", "edited since")


def test_a_change_the_inputs_cannot_show_is_still_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # only the password of the index changed: create would refuse the lock (its hash), so the
    # check must too, even though the recorded inputs (kept without credentials) read the same
    make(tmp_path)
    spec = tmp_path / "torchenv.toml"
    spec.write_text(spec.read_text().replace("user:secret@", "user:other@"))
    code, doc = check(tmp_path, capsys)
    assert code == 1 and "spec" in changed(doc) and "other" not in json.dumps(doc)
    assert any("credentials" in str(n) for n in doc["notes"])  # type: ignore[attr-defined]


def test_a_token_in_a_package_url_is_not_kept(tmp_path: Path) -> None:
    url = "priv @ https://bob:SECRET@files.example/priv-1.0-py3-none-any.whl"
    make(tmp_path, SPEC.replace('packages = ["numpy<3"]', f'packages = ["{url}"]'))
    lock = (tmp_path / "pylock.toml").read_text()
    assert "SECRET" not in lock and "https://files.example/priv-1.0" in lock


def test_a_spec_without_targets_is_checked_for_the_locks_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # locked on a GPU machine (recorded: linux_x86_64); checked on any other machine, the
    # plan is for the lock's platform, not for the machine running the check
    make(tmp_path)
    spec = tmp_path / "torchenv.toml"
    spec.write_text(
        spec.read_text().split("[targets]")[0]
        + "[index]\n"
        + spec.read_text().split("[index]\n")[1]
    )
    report = run_lock_check(None, str(spec), tmp_path)
    assert [c.field for c in report.changes] == ["targets.gpus", "targets.driver"]


def test_a_release_the_knowledge_does_not_know_is_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tmp_path)
    lock = tmp_path / "pylock.toml"
    from torchenv.backends.lockfile import reseal

    lock.write_text(reseal(lock.read_text().replace('torch = "2.13.0"', 'torch = "2.99.0"')))
    code, doc = check(tmp_path, capsys)
    assert code == 0 and any("does not know torch 2.99.0" in str(n) for n in doc["notes"])  # type: ignore[attr-defined]
