"""Hostile machine files (`plan --for`, `[targets] machines`), environment metadata (what
`inspect` and `doctor` read in a prefix) and command-line values: any content, any type, any
nesting, terminal escapes and lines of any length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from builders import add_dist, add_torch, conda_record, make_venv
from hostile import PIECES, hostile_text, sandbox, values

FIXTURES = Path(__file__).parents[1] / "fixtures" / "machines"
MACHINE = json.loads((FIXTURES / "h100-node.json").read_text())
MACHINE_PATHS = [
    ("schema",),
    ("machine",),
    ("machine", "host"),
    ("machine", "host", "os"),
    ("machine", "host", "arch"),
    ("machine", "host", "libc"),
    ("machine", "host", "jetson"),
    ("machine", "driver"),
    ("machine", "driver", "version"),
    ("machine", "driver", "cuda_driver_api"),
    ("machine", "gpus"),
    ("machine", "gpus", 0),
    ("machine", "gpus", 0, "name"),
    ("machine", "gpus", 0, "compute_capability"),
    ("machine", "gpus", 0, "index"),
    ("machine", "gpus", 0, "memory_total_mib"),
    ("machine", "toolkits"),
    ("environment", "interpreter", "version"),
    ("environment", "interpreter", "gil_disabled"),
    ("environment",),
]


def _replace(doc: Any, path: tuple[Any, ...], value: object) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    changes=st.lists(st.tuples(st.sampled_from(MACHINE_PATHS), values), min_size=1, max_size=3),
    text_output=st.booleans(),
)
def test_hostile_machine_files(
    changes: list[tuple[tuple[Any, ...], object]], text_output: bool
) -> None:
    doc = json.loads(json.dumps(MACHINE))
    for path, value in changes:
        try:
            _replace(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    with sandbox() as box:
        machine = box.project / "node.json"
        machine.write_text(json.dumps(doc), "utf-8", "surrogateescape")
        args = ("plan", "--for", str(machine)) + (() if text_output else ("--json",))
        code = box.run(*args).code
        event(f"plan exit {code}")
        assert code in (0, 2, 3)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.one_of(
        values.map(lambda v: json.dumps(v, allow_nan=True)),
        st.integers(1, 40).map(lambda n: "[" * (n * 2500) + "]" * (n * 2500)),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    )
)
def test_machine_files_that_are_not_inspect_documents(text: str) -> None:
    with sandbox() as box:
        machine = box.project / "node.json"
        machine.write_text(text, "utf-8", "surrogateescape")
        assert box.run("plan", "--for", str(machine), "--json").code == 2


METADATA_FILES = ["METADATA", "RECORD", "INSTALLER", "direct_url.json", "entry_points.txt"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    target=st.sampled_from(
        [*METADATA_FILES, "version.py", "pyvenv.cfg", "conda-meta", "torchenv-env.json"]
    ),
    content=st.one_of(
        hostile_text,
        values.map(lambda v: json.dumps(v, allow_nan=True)),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.integers(1, 20).map(lambda n: "{" * (n * 5000)),
    ),
    command=st.sampled_from(["inspect", "doctor"]),
)
def test_hostile_environment_metadata(target: str, content: str, command: str) -> None:
    with sandbox() as box:
        env = make_venv(box.root)
        torch = add_torch(env.site)
        add_dist(env.site, "numpy", "2.1.0")
        if target in METADATA_FILES:
            path = next(env.site.glob("numpy-*.dist-info")) / target
        elif target == "version.py":
            path = env.site / "torch" / "version.py"
        elif target == "conda-meta":
            conda_record(env.prefix, "pytorch", "2.13.0", "cpu_0", "conda-forge")
            path = next((env.prefix / "conda-meta").glob("*.json"))
        else:
            path = env.prefix / target
        assert torch.exists()
        path.write_text(content, "utf-8", "surrogateescape")
        done = box.run(command, "--prefix", str(env.prefix), "--json")
        assert done.code in (0, 1)
        json.loads(done.out)
        if command == "doctor":
            box.run(command, "--prefix", str(env.prefix))  # the text report too


ARGUMENT = st.one_of(hostile_text, st.sampled_from(PIECES), st.just(""))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    option=st.sampled_from(
        [
            ("plan", "--gpu"),
            ("plan", "--driver"),
            ("plan", "--torch"),
            ("plan", "--python"),
            ("plan", "--cuda"),
            ("plan", "--platform"),
            ("plan", "--installer"),
            ("matrix", "--torch"),
            ("init", "--name"),
            ("init", "--torch"),
            ("verify", "--timeout"),
            ("doctor", "--deep-timeout"),
            ("doctor", "--fail-on"),
            ("deploy", "--command"),
            ("deploy", "--image"),
            ("deploy", "--nodes"),
            ("image", "--builder"),
            ("create", "--backend"),
            ("ci", "--gpu-runner"),
            ("ci", "--image-ref"),
            ("ci", "--install"),
            ("verify", "--junit"),
        ]
    ),
    value=ARGUMENT,
)
def test_hostile_command_line_values(option: tuple[str, str], value: str) -> None:
    command, flag = option
    with sandbox() as box:
        args = [command, flag, value]
        if command in ("plan", "init") and flag != "--gpu":
            args += ["--gpu", "H100", "--driver", "580.65.06"]
        if command in ("verify", "doctor"):
            args += ["--prefix", str(box.root / "missing")]
        if command == "ci":
            (box.project / "torchenv.toml").write_text('name = "x"\ntorch = "==2.13.0"\n')
            args += ["--to", "github"]
        workflow = box.project / ".github"
        allowed = [box.project / "torchenv.toml", workflow]
        if flag == "--junit":  # the report is written even when verify cannot run: asked for
            allowed.append(box.project / value)
        done = box.run(*args, allowed=allowed)
        assert done.code in (0, 1, 2, 3)
        if command == "ci" and done.code == 0:
            # a value that passed is data in the workflow, never a new key, step or line
            text = (workflow / "workflows" / "torchenv.yml").read_text()
            doc = yaml.safe_load(text)
            assert list(doc["jobs"]) in (["environment"], ["environment", "gpu"],
                                         ["environment", "image"])  # fmt: skip
            runs = [s["run"] for s in doc["jobs"]["environment"]["steps"] if "run" in s]
            assert len(runs) == 4 and all("\n" not in r for r in runs)


def test_prefix_and_python_paths_of_every_kind(tmp_path: Path) -> None:
    with sandbox() as box:
        for kind in ["\x1b]0;x\x07", "a\nb", "$(id)", "/dev/null", "/proc/self", "-rf"]:
            for command in ("inspect", "doctor", "verify"):
                box.run(command, "--prefix", kind)
                box.run(command, "--python", kind)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    option=st.sampled_from(
        [
            ("image", "--base"),
            ("image", "--name"),
            ("deploy", "--image"),
            ("deploy", "--command"),
            ("deploy", "--shm-size"),
            ("deploy", "--port"),
        ]
    ),
    value=ARGUMENT,
)
def test_hostile_options_kept_in_the_spec(option: tuple[str, str], value: str) -> None:
    """The options `image` and `deploy` keep in the spec: a value is refused with the spec left
    byte for byte, or it is saved and the spec still loads, as the same environment."""
    from ship_project import ship_project
    from torchenv.spec import load_spec, spec_hash

    command, flag = option
    with sandbox() as box:
        spec = ship_project(box.project)
        before, hashed = spec.read_bytes(), spec_hash(load_spec(spec, box.project))
        args = [command, flag, value] + (["--to", "k8s"] if command == "deploy" else [])
        written = box.project / ("image" if command == "image" else "deploy")
        done = box.run(*args, allowed=[spec, written])
        assert done.code in (0, 2)
        if done.code == 2:
            assert spec.read_bytes() == before
        else:
            assert spec_hash(load_spec(spec, box.project)) == hashed
