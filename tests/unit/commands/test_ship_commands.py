"""`image` and `deploy` on a project on disk: what they write, what they refuse, and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from builders import FakeRunner, fake_tool, probe_context
from ship_project import edit_lock, ship_project
from torchenv.backends.tools import BackendError
from torchenv.commands.deploy import run_deploy
from torchenv.commands.image import run_image
from torchenv.errors import UsageError
from torchenv.probe.context import ProbeContext


def context(tmp_path: Path) -> tuple[ProbeContext, FakeRunner]:
    runner = FakeRunner()
    runner.on(lambda argv: argv[-1] == "--version", _uv)
    ctx, _ = probe_context(tmp_path, runner)
    return ctx, runner


def _uv(argv: list[str]):  # type: ignore[no-untyped-def]
    from torchenv.models.process import RunResult

    return RunResult(tuple(argv), 0, "uv 0.13.9 (abc 2026-11-01)\n")


def test_image_writes_a_context_that_installs_exactly_the_lock(tmp_path: Path) -> None:
    spec = ship_project(tmp_path / "p", "[image]\nssh = true\n", variant="cu130")
    ctx, _ = context(tmp_path)
    report = run_image(ctx, str(spec), tmp_path)
    out = tmp_path / "p" / "image"
    assert report.out == str(out) and report.base == "python:3.11-slim-bookworm"
    assert report.image.startswith("demo:2.13.0-cu130-")
    assert {
        "Dockerfile",
        ".dockerignore",
        "pylock.toml",
        "entrypoint.sh",
        "sshd_config",
        "compose.yaml",
        "torchenv-env.json",
        "torchenv/constraints.txt",
    } <= set(report.files)
    # the local wheel travels in the context, named by a path relative to the lock
    lock = (out / "pylock.toml").read_text()
    assert 'path = "wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"' in lock
    assert "file://" not in lock and (out / "wheels").is_dir()
    assert "ghcr.io/astral-sh/uv:0.13.9" in (out / "Dockerfile").read_text()
    record = json.loads((out / "torchenv-env.json").read_text())
    assert record["lock"]["path"] == "/etc/torchenv/pylock.toml"
    assert record["lock"]["packages"] == {"torch": "2.13.0+cu130", "triton": "3.6.0"}
    assert report.labels["io.torchenv.driver-floor"] == "580.65.06"
    assert report.build is None


def test_jupyter_needs_jupyterlab_in_the_lock(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path)
    spec = ship_project(tmp_path / "p")
    with pytest.raises(UsageError, match="jupyterlab is not in") as err:
        run_image(ctx, str(spec), tmp_path, jupyter=True)
    assert "packages" in (err.value.hint or "")
    assert not (tmp_path / "p" / "image").exists()
    spec = ship_project(tmp_path / "q", packages=("jupyterlab",))
    report = run_image(ctx, str(spec), tmp_path, jupyter=True)
    token = tmp_path / "q" / "image" / "secrets" / "jupyter_token"
    assert len(token.read_text().strip()) == 64 and token.stat().st_mode & 0o077 == 0
    first = token.read_text()
    run_image(ctx, str(spec), tmp_path, jupyter=True)
    assert token.read_text() == first  # the user's token survives a rewrite
    assert "secrets/jupyter_token" in report.files
    assert "!secrets" not in (tmp_path / "q" / "image" / ".dockerignore").read_text()


def test_the_image_user_is_the_invoking_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchenv.probe import host

    monkeypatch.setattr(host, "user_ids", lambda: (4242, 4343))
    ctx, _ = context(tmp_path)
    spec = ship_project(tmp_path / "p")
    run_image(ctx, str(spec), tmp_path)
    text = (tmp_path / "p" / "image" / "Dockerfile").read_text()
    assert "ARG UID=4242\nARG GID=4343\n" in text
    report = run_deploy(str(spec), tmp_path, to="k8s")
    assert "runAsUser: 4242" in (Path(report.out) / "demo.yaml").read_text()
    fixed = ship_project(tmp_path / "q", "[image]\nuid = 1500\ngid = 100\n")
    run_image(ctx, str(fixed), tmp_path)
    assert "ARG UID=1500\nARG GID=100\n" in (tmp_path / "q/image/Dockerfile").read_text()


def test_no_secret_reaches_the_build_context(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path)
    spec = ship_project(tmp_path / "p", "[image]\nssh = true\n", packages=("jupyterlab",))
    run_image(ctx, str(spec), tmp_path, jupyter=True)
    out = tmp_path / "p" / "image"
    token = (out / "secrets" / "jupyter_token").read_text().strip()
    allowed = [
        line[1:] for line in (out / ".dockerignore").read_text().splitlines() if line[:1] == "!"
    ]
    assert not any(a.startswith("secrets") for a in allowed)
    for path in out.rglob("*"):
        if path.is_file() and "secrets" not in path.parts and path.suffix != ".whl":
            assert token not in path.read_text(errors="replace"), path


def test_image_refusals(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path)
    conda = ship_project(tmp_path / "c", installer="conda")
    with pytest.raises(UsageError, match="There is no conda lock"):
        run_image(ctx, str(conda), tmp_path)
    stale = ship_project(tmp_path / "s")
    stale.write_text(stale.read_text().replace('python = "3.11"', 'python = "3.12"'))
    with pytest.raises(UsageError, match="another version"):
        run_image(ctx, str(stale), tmp_path)
    spec = ship_project(tmp_path / "w")
    next((tmp_path / "w" / "wheels-here").iterdir()).unlink()
    with pytest.raises(UsageError, match="not on this machine"):
        run_image(ctx, str(spec), tmp_path)
    old = ship_project(tmp_path / "o")
    edit_lock(tmp_path / "o" / "pylock.toml", 'python = "3.11"', 'python = "3.9"')
    with pytest.raises(UsageError, match=r"needs Python 3\.10 or newer"):
        run_image(ctx, str(old), tmp_path)
    mac = ship_project(tmp_path / "m")
    edit_lock(tmp_path / "m" / "pylock.toml", '"linux_x86_64"', '"macos_arm64"')
    with pytest.raises(UsageError, match="images run Linux"):
        run_image(ctx, str(mac), tmp_path)
    edited = ship_project(tmp_path / "e")
    edit_lock(tmp_path / "e" / "pylock.toml", 'version = "3.6.0"', 'version = "3.5.0"', seal=False)
    with pytest.raises(UsageError, match="changed after `torchenv lock`") as caught:
        run_image(ctx, str(edited), tmp_path)
    assert caught.value.reference == "lock-edited"


def test_a_lock_for_two_architectures_expects_what_both_get(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path)
    spec = ship_project(tmp_path / "p")
    edit_lock(tmp_path / "p" / "pylock.toml", '"linux_x86_64",', '"linux_x86_64", "linux_aarch64",')
    run_image(ctx, str(spec), tmp_path)
    record = json.loads((tmp_path / "p" / "image" / "torchenv-env.json").read_text())
    assert record["lock"]["packages"] == {"torch": "2.13.0+cpu"}  # triton is x86_64 only


def test_build_without_a_builder_keeps_the_files_and_says_why(tmp_path: Path) -> None:
    ctx, runner = context(tmp_path)
    fake_tool(tmp_path, "docker")
    runner.on_program("docker", returncode=1, stderr="Cannot connect to the Docker daemon")
    spec = ship_project(tmp_path / "p")
    with pytest.raises(BackendError, match="No image builder works"):
        run_image(ctx, str(spec), tmp_path, build=True)
    assert (tmp_path / "p" / "image" / "Dockerfile").is_file()


def test_image_build_runs_the_builder(tmp_path: Path) -> None:
    ctx, runner = context(tmp_path)
    fake_tool(tmp_path, "buildah")
    runner.on_program("buildah")
    spec = ship_project(tmp_path / "p")
    report = run_image(ctx, str(spec), tmp_path, build=True, build_args=("UID=4242",))
    assert report.build is not None and report.build.tool == "buildah"
    assert runner.calls[-1][1:] == [
        "bud",
        "--format",
        "docker",
        "--layers",
        "--build-arg",
        "UID=4242",
        "--tag",
        report.image,
        str(tmp_path / "p" / "image"),
    ]


@pytest.mark.parametrize(
    ("target", "file"),
    [
        ("compose", "compose.yaml"),
        ("k8s", "demo.yaml"),
        ("pytorchjob", "demo-pytorchjob.yaml"),
        ("slurm", "demo.sbatch"),
    ],
)
def test_deploy_targets(tmp_path: Path, target: str, file: str) -> None:
    spec = ship_project(
        tmp_path / "p",
        '[deploy]\ngpus-per-node = 8\ncommand = ["train.py"]\n',
        variant="cu130",
    )
    report = run_deploy(str(spec), tmp_path, to=target, image="r.io/demo:1")
    assert report.files == (file,) and report.gpus_per_node == 8
    assert report.out == str(tmp_path / "p" / "deploy" / target)
    text = (Path(report.out) / file).read_text()
    if file.endswith(".yaml"):
        image_of = {
            "compose": lambda d: d["services"]["train"]["image"],
            "k8s": lambda d: d["spec"]["template"]["spec"]["containers"][0]["image"],
            "pytorchjob": lambda d: d["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"][
                "containers"
            ][0]["image"],
        }[target]
        assert image_of(list(yaml.safe_load_all(text))[-1]) == "r.io/demo:1"
    else:
        assert "srun --container-image" in text and "--nproc-per-node=8" in text
    assert "train.py" in text


def test_deploy_tags_the_image_name_as_image_does(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path)
    spec = ship_project(tmp_path / "p", '[image]\nname = "r.io/team/demo"\n')
    built = run_image(ctx, str(spec), tmp_path)
    deployed = run_deploy(str(spec), tmp_path, to="k8s")
    assert deployed.image == built.image and built.image.startswith("r.io/team/demo:2.13.0-cpu-")


def test_deploy_options_and_refusals(tmp_path: Path) -> None:
    spec = ship_project(tmp_path / "p")  # a CPU build
    report = run_deploy(str(spec), tmp_path, to="k8s", nodes=2, command="train.py --x 'a b'")
    assert report.gpus_per_node == 0 and any("CPU build" in n for n in report.notes)
    assert any("names no registry" in n for n in report.notes)
    text = (Path(report.out) / "demo.yaml").read_text()
    assert "- a b" in text and "nvidia.com/gpu" not in text
    with pytest.raises(UsageError, match="one machine"):
        run_deploy(str(spec), tmp_path, to="compose", nodes=2)
    with pytest.raises(UsageError, match="--command"):
        run_deploy(str(spec), tmp_path, to="slurm", command="train.py 'open")
    with pytest.raises(UsageError, match="Unknown target"):
        run_deploy(str(spec), tmp_path, to="nomad")
