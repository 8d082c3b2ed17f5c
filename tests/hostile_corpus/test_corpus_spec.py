"""Hostile specs: every key of torchenv.toml given values of every type and hostile text, and
TOML that is not a spec at all. A spec that loads gets a lock made for it, so that `image` and
`deploy` write their files from it; those files must carry every value inertly: the Dockerfile
has exactly its instructions, the YAML parses to the documents torchenv meant, the batch
script is valid bash."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import tomli_w
import yaml
from dockerfile_parse import DockerfileParser
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hostile import Sandbox, hostile_text, sandbox, values
from ship_project import write_sealed_lock
from torchenv.errors import TorchenvError, UsageError
from torchenv.spec import load_spec, spec_hash
from torchenv.spec.remember import remember_options
from torchenv.spec.ship import DEPLOY_KEYS, IMAGE_KEYS
from torchenv.untrusted.text import UNSAFE_IN_A_LINE, load_toml

BASE: dict[str, Any] = {
    "name": "demo",
    "python": "3.11",
    "torch": "==2.13.0",
    "cuda": "cpu",
    "libraries": [],
    "packages": ["numpy<3"],
    "installer": "uv",
    "image": {"jupyter": False, "ssh": True, "apt": ["git"]},
    "deploy": {"nodes": 2, "gpus-per-node": 1, "command": ["train.py", "--epochs", "3"]},
}
KEYS = [
    ("name",),
    ("python",),
    ("torch",),
    ("cuda",),
    ("libraries",),
    ("packages",),
    ("installer",),
    ("targets", "gpus"),
    ("targets", "driver"),
    ("targets", "platform"),
    ("targets", "machines"),
    ("index", "pypi"),
    ("index", "pytorch"),
    ("index", "find-links"),
    ("index", "channels"),
    ("image", "name"),
    ("image", "base"),
    ("image", "user"),
    ("image", "uid"),
    ("image", "apt"),
    ("image", "ssh"),
    ("deploy", "image"),
    ("deploy", "command"),
    ("deploy", "nodes"),
    ("deploy", "shm-size"),
    ("deploy", "port"),
    ("targets",),
    ("image",),
    ("unknown-key",),
]
# strings that pass the spec's own checks but carry shell, YAML and compose syntax
VALID_BUT_SHARP = st.sampled_from(
    [
        ("deploy", "command", ["train.py", "--name", "$(touch PWNED)", "`id`", "a'b\"c", "${X}"]),
        ("deploy", "command", ["train.py", "--x", "}: {", "#comment", "- item"]),
        ("image", "name", "registry.example.com:5000/team/vision"),
        ("deploy", "image", "registry.example.com/team/vision@sha256:" + "a" * 64),
        ("packages", None, ["requests[socks]>=2; python_version >= '3.10'"]),
        ("deploy", "shm-size", "64G"),
    ]
)


def _set(data: dict[str, Any], key: tuple[str, ...], value: object) -> None:
    table = data
    for part in key[:-1]:
        table = table.setdefault(part, {}) if isinstance(table.get(part, {}), dict) else {}
    table[key[-1]] = value


def _toml(data: dict[str, Any]) -> str:
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):
        return "name = 'x'\nbroken = [\n"  # a value TOML cannot hold: an unreadable spec


def _generated_files_are_inert(box: Sandbox) -> None:
    """The spec loaded: with a lock for it, image and deploy write files whose shape no value
    of the spec can change."""
    write_sealed_lock(box.project)
    out = box.project / "image"
    done = box.run("image", "--out", str(out), allowed=[out])
    if done.code != 0:
        return
    dockerfile = DockerfileParser(str(out / "Dockerfile"), cache_content=True)
    kinds = [i["instruction"] for i in dockerfile.structure]
    assert kinds.count("RUN") == 5 and kinds.count("FROM") == 3, kinds
    assert all("\n" not in value for value in dockerfile.labels.values())
    for target in ("compose", "k8s", "pytorchjob", "slurm"):
        where = box.project / "deploy" / target
        done = box.run("deploy", "--to", target, "--out", str(where), allowed=[where])
        if done.code != 0:
            continue
        for path in where.iterdir():
            if path.suffix == ".yaml":
                documents = list(yaml.safe_load_all(path.read_text()))
                assert all(
                    isinstance(d, dict) and ("kind" in d or "services" in d) for d in documents
                )
            elif path.suffix == ".sbatch":
                bash = subprocess.run(["bash", "-n", str(path)], capture_output=True, check=False)
                assert bash.returncode == 0, bash.stderr
    assert not list(box.root.rglob("PWNED"))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    changes=st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3),
)
def test_hostile_spec_values(changes: list[tuple[tuple[str, ...], object]]) -> None:
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for key, value in changes:
        _set(data, key, value)
    with sandbox() as box:
        spec = box.project / "torchenv.toml"
        spec.write_text(_toml(data), "utf-8", "surrogateescape")
        try:
            load_spec(None, box.project)
        except TorchenvError:
            event("the spec is refused")
            box.run("deploy", "--to", "slurm", allowed=[box.project / "deploy"])
            box.run("create", "--prefix", str(box.root / "env"), allowed=[box.root / "env"])
            return
        event("the spec loads: files generated from it")
        _generated_files_are_inert(box)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(change=VALID_BUT_SHARP)
def test_values_a_spec_accepts_stay_data_in_generated_files(change: tuple[Any, ...]) -> None:
    table, key, value = change
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    if key is None:
        data[table] = value
    else:
        data.setdefault(table, {})[key] = value
    with sandbox() as box:
        (box.project / "torchenv.toml").write_text(tomli_w.dumps(data))
        load_spec(None, box.project)
        _generated_files_are_inert(box)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.one_of(
        hostile_text,
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.integers(1, 200).map(lambda n: "a = " + "[" * (n * 50) + "]" * (n * 50)),
        st.integers(1, 50).map(lambda n: "".join(f"[t{i}]\n" for i in range(n)) + "a = {"),
    )
)
def test_text_that_is_not_a_spec(text: str) -> None:
    with sandbox() as box:
        (box.project / "torchenv.toml").write_text(text, "utf-8", "surrogateescape")
        done = box.run("lock", allowed=[box.project / "pylock.toml"])
        assert done.code == 2


def test_a_pyproject_spec_with_hostile_project_name(tmp_path: Path) -> None:
    with sandbox() as box:
        (box.project / "pyproject.toml").write_text(
            '[project]\nname = "a\\nb$(id)"\n[tool.torchenv]\ntorch = "==2.13.0"\n'
        )
        assert box.run("create", allowed=[box.project / ".venv"]).code == 2


SAVED_KEYS = [("image", k) for k in IMAGE_KEYS] + [("deploy", k) for k in DEPLOY_KEYS]
# values the checks accept, with shell, TOML and YAML syntax in them
SHARP_SAVES = [
    ("deploy", "command", ["train.py", "--x", '"]\n[tool]', "$(touch PWNED)", "a = 1", "#", "\\"]),
    ("deploy", "image", "registry.example.com:5000/team/vision:1"),
    ("image", "base", "python:3.11-slim-bookworm"),
    ("image", "apt", ["git", "libgl1=1.7.0-1+b2"]),
    ("deploy", "shm-size", "64G"),
    ("deploy", "gpus-per-node", 8),
    ("image", "jupyter", True),
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    case=st.one_of(
        st.tuples(
            st.sampled_from(SAVED_KEYS),
            st.one_of(
                hostile_text,
                st.lists(hostile_text, max_size=3),
                st.integers(min_value=-(2**63), max_value=2**63 - 1),
                st.booleans(),
            ),
        ).map(lambda c: (*c[0], c[1])),
        st.sampled_from(SHARP_SAVES),
    )
)
def test_command_line_values_saved_into_the_spec(case: tuple[str, str, object]) -> None:
    """What `image` and `deploy` save from their options (spec/remember.py) is refused, leaving
    the file as it was, or becomes exactly that value in a spec of the same environment, with
    the user's comments kept and a note that carries no control character."""
    table, key, value = case
    with sandbox() as box:
        spec = box.project / "torchenv.toml"
        text = "# the user's own words\n" + tomli_w.dumps(BASE)
        spec.write_text(text)
        before = spec_hash(load_spec(None, box.project))
        try:
            notes = remember_options(spec, table, {key: value})
        except UsageError:
            event("the value is refused")
            assert spec.read_text() == text
            return
        event("the value is saved")
        assert spec_hash(load_spec(None, box.project)) == before
        saved = spec.read_text()
        assert saved.startswith("# the user's own words\n")
        assert load_toml(saved)[table][key] == value
        assert all(UNSAFE_IN_A_LINE.search(note) is None for note in notes)
