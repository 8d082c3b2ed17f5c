"""Launch files written from hostile values: a project directory, a spec file name or a spec's
command holding a newline, a quote, `$`, a backtick, an ESC byte, `:` or `}` stays what it
is in the file that carries it, and runs nothing. (The batch script is also run by bash, in
tests/integration/test_ship_checks.py.)"""

from __future__ import annotations

import dataclasses
import re
import shlex
from typing import Any

import pytest
import yaml

from ship_project import stack
from torchenv.models.ship import SpecDeploy, SpecImage
from torchenv.ship.base import choose_base
from torchenv.ship.cluster import render_k8s_job, render_pytorchjob, render_slurm
from torchenv.ship.compose import render_dev_compose, render_train_compose
from torchenv.ship.dockerfile import ImageInputs, render_dockerfile
from torchenv.ship.yamltext import comment_lines, yaml_text

HOSTILE = [
    "p$(touch x)",
    "p`touch x`",
    'p"q',
    "p'q",
    "p\nq",
    "p\n#SBATCH --nodes=99\ntouch x",
    "p;touch x",
    "p\\",
    "p$HOME",
    "p\x1b[31mred",
    "p:q}r {s}",
]
COMMAND = ("train.py", "--run=$USER", "--x=$(id)", "--y=$$", "`id`")


def interpolate(value: str, environment: dict[str, str]) -> str:
    """``value`` as Compose interpolates it (compose-go template/template.go): `$$` is `$`,
    `${NAME:-default}` the variable or its default (itself interpolated), the first "}" ends
    it. A lone `$` would be read as a variable, so in a file torchenv wrote it is a bug."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("${", i):
            end = value.index("}", i)
            name, separator, default = value[i + 2 : end].partition(":-")
            assert separator, value
            out.append(environment.get(name) or interpolate(default, environment))
            i = end + 1
        else:
            assert value[i] != "$", f"unescaped $ in {value!r}"
            out.append(value[i])
            i += 1
    return "".join(out)


def header_and_body(text: str) -> tuple[list[str], str]:
    lines = text.splitlines(keepends=True)
    count = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return lines[:count], "".join(lines[count:])


# --- the batch script ---------------------------------------------------------------------


def split_at_prefix(script: str) -> tuple[str, str]:
    """The value bash gives `default_prefix` (the word after "=", up to the `prefix=` line),
    and the script without that word."""
    start = script.index("\ndefault_prefix=") + len("\ndefault_prefix=")
    end = script.index('\nprefix="${TORCHENV_PREFIX:-$default_prefix}"\n', start)
    (word,) = shlex.split(script[start:end])  # POSIX quoting, as bash reads it
    return word, script[:start] + script[end:]


@pytest.mark.parametrize("directory", HOSTILE)
def test_the_batch_script_assigns_any_directory_name_as_it_is(directory: str) -> None:
    prefix = f"/shared/{directory}/.venv"
    script = render_slurm(stack(), SpecDeploy(command=COMMAND), None, prefix)
    assigned, rest = split_at_prefix(script)
    assert assigned == prefix
    assert directory not in rest  # the path is written nowhere but in that quoted word
    # the spec's command reaches torchrun as written
    last = script.rstrip("\n").splitlines()[-1]
    assert shlex.split(last) == list(COMMAND)


def test_the_batch_script_header_and_job_name_hold_no_line_break() -> None:
    hostile = dataclasses.replace(stack(), name="demo\n#SBATCH --nodes=99\ntouch /pwned")
    script = render_slurm(hostile, SpecDeploy(nodes=2), "r.io/demo:1", "/x")
    lines = script.splitlines()
    assert [line for line in lines if line.startswith("#SBATCH --nodes")] == ["#SBATCH --nodes=2"]
    assert all(line.startswith("#") for line in lines if "pwned" in line)
    job_name = next(line for line in lines if line.startswith("#SBATCH --job-name="))
    assert re.fullmatch(r"#SBATCH --job-name=[A-Za-z0-9_.-]+", job_name)


# --- compose -------------------------------------------------------------------------------


def volume_sources(document: dict[str, Any], service: str) -> list[str]:
    return [v["source"] for v in document["services"][service]["volumes"]]


def test_compose_mounts_a_path_with_dollar_colon_brace_and_space_exactly() -> None:
    project = "/srv/$HOME/a:b}c d"
    (dev,) = yaml.safe_load_all(
        render_dev_compose(stack(), SpecImage(), SpecDeploy(), "i:1", project)
    )
    assert [interpolate(s, {}) for s in volume_sources(dev, "dev")] == [project]
    (train,) = yaml.safe_load_all(render_train_compose(stack(), SpecDeploy(), "i:1", project))
    # a brace cannot be in a variable's default: the paths are mounted as they are
    assert [
        interpolate(s, {"TORCHENV_DATA": "/elsewhere"}) for s in volume_sources(train, "train")
    ] == [
        project,
        f"{project}/data",
        f"{project}/checkpoints",
    ]
    assert "are not read" in render_train_compose(stack(), SpecDeploy(), "i:1", project)


def test_compose_defaults_keep_their_dollar_and_colon() -> None:
    project = "../$HOME/a:b c"
    text = render_train_compose(stack(), SpecDeploy(command=COMMAND), "i:1", project)
    (train,) = yaml.safe_load_all(text)
    sources = volume_sources(train, "train")
    assert [interpolate(s, {}) for s in sources] == [
        project,
        f"{project}/data",
        f"{project}/checkpoints",
    ]
    # the variables still point elsewhere when set
    moved = {"TORCHENV_DATA": "/data", "TORCHENV_CHECKPOINTS": "/ckpt"}
    assert [interpolate(s, moved) for s in sources] == [project, "/data", "/ckpt"]
    command = [interpolate(part, {}) for part in train["services"]["train"]["command"]]
    assert command[3:] == list(COMMAND)


def test_a_relative_path_starting_with_a_tilde_is_not_the_home_directory() -> None:
    (dev,) = yaml.safe_load_all(render_dev_compose(stack(), SpecImage(), SpecDeploy(), "i:1", "~x"))
    assert volume_sources(dev, "dev") == ["./~x"]


@pytest.mark.parametrize("directory", HOSTILE)
def test_compose_files_hold_any_directory_name(directory: str) -> None:
    project = f"../{directory}"
    for text in (
        render_dev_compose(
            stack(), SpecImage(jupyter=True, ssh=True), SpecDeploy(), "i:1", project
        ),
        render_train_compose(stack(), SpecDeploy(), "i:1", project),
    ):
        header, _ = header_and_body(text)
        documents = list(yaml.safe_load_all(text))
        assert len(documents) == 1 and set(documents[0]) <= {"name", "services", "secrets"}
        (service,) = documents[0]["services"].values()
        assert interpolate(service["volumes"][0]["source"], {}) == project
        assert "\x1b" not in "".join(header)


# --- Kubernetes ----------------------------------------------------------------------------


def test_kubernetes_args_reach_torchrun_as_written() -> None:
    deploy = SpecDeploy(command=COMMAND)
    _, job = yaml.safe_load_all(render_k8s_job(stack(), SpecImage(), deploy, "r.io/demo:1"))
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    # the kubelet reads "$$" as "$" and expands "$(VAR)": every "$" is doubled
    assert [a.replace("$$", "$") for a in args[-len(COMMAND) :]] == list(COMMAND)
    assert args[-2] == "--y=$$$$" and args[-3] == "--x=$$(id)"
    (pytorchjob,) = yaml.safe_load_all(render_pytorchjob(stack(), SpecImage(), deploy, "r.io/d:1"))
    master = pytorchjob["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert master["containers"][0]["args"][1:] == args[-len(COMMAND) :]


# --- comment lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a\nkind: Pod",
        "a\rkind: Pod",
        "a\r\nkind: Pod",
        "a\x85kind: Pod",
        "a\u2028kind: Pod",
        "a\u2029kind: Pod",
        "a\x0bkind: Pod",
        "a\x1b]0;title\x07",
        "a\udcffb",
    ],
)
def test_a_line_break_in_a_header_never_starts_an_uncommented_line(text: str) -> None:
    written = yaml_text(f"Spec {text} here.", [{"kind": "Job"}])
    header, body = header_and_body(written)
    assert body == "kind: Job\n"
    assert yaml.safe_load(written) == {"kind": "Job"}  # PyYAML reads the whole file
    assert all(line.startswith("#") for line in header)
    written.encode("utf-8")  # writable as UTF-8: no lone surrogate left
    for line in comment_lines(text):
        assert line.startswith("# ") and not re.search("[\x00-\x1f\x7f-\x9f]", line)


def test_the_dockerfile_comments_hold_a_hostile_spec_file_name() -> None:
    image = SpecImage()
    inputs = ImageInputs(
        stack("cpu"),
        image,
        choose_base(stack("cpu"), compiler=False, base=None),
        "0.13.9",
        "torchenv-0.1.0-py3-none-any.whl",
        False,
        "0.1.0",
        "x.toml\nRUN touch /pwned\r\nUSER root",
    )
    text = render_dockerfile(inputs)
    assert all(line.startswith("#") for line in text.splitlines() if "pwned" in line)
    assert "\nUSER root" not in text
