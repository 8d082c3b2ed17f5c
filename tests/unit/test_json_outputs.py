"""Every command's --json output validates against its schema (src/torchenv/schemas): each
command runs in this process on the fake environments, machines, projects and indexes the
other unit tests use. create, upgrade (and lock where py-rattler-build is absent) need real
installers; their documents are made here from the dataclasses, as the commands make them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from builders import (
    FIXTURES,
    FakeEnv,
    FakeRunner,
    add_cu130_libs,
    add_dist,
    add_torch,
    add_torchvision,
    h100,
    make_venv,
    probe_context,
)
from hostile import sandbox
from indexserver import IndexServer, add_pypi, add_pytorch_index, closed_port_url, serve
from ship_project import ship_project
from torchenv import cli
from torchenv.backends import generations as g
from torchenv.cli import common
from torchenv.knowledge.store import load_knowledge
from torchenv.models import from_data
from torchenv.models.build import BuildStep, CreateReport, LockReport
from torchenv.models.diff import DiffReport
from torchenv.models.lifecycle import UpgradeReport
from torchenv.models.plan import Stack
from torchenv.models.process import RunResult
from torchenv.models.ship import BuildResult, ImageReport
from torchenv.probe.nvml import NvmlReading
from torchenv.report.render_json import render_json
from unit.backends.test_generations import add_generation, plain_env
from unit.cli.test_adopt_cli import cpu_venv, fake_lock
from unit.cli.test_verify import payload, use
from unit.commands.test_image_conda import (
    TORCH,
    channel,  # noqa: F401 - a fixture (a conda channel)
)
from unit.commands.test_listing import healthy_env
from unit.commands.test_lock_check import make
from unit.test_json_schemas import valid

H100_NODE = str(FIXTURES / "machines" / "h100-node.json")
PASCAL_NODE = str(FIXTURES / "machines" / "pascal-node.json")
H100 = ("--gpu", "H100", "--driver", "580.65.06", "--python", "3.12")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    assert out, f"{args}: exit {code}, nothing on stdout: {err}"
    return code, dict(valid(json.loads(out)))


def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, cuda: bool) -> FakeEnv:
    """Two H100s on driver 580, and a venv with torch 2.14.1+cu130 and its CUDA libraries
    and torchvision (cuda), or the CPU build of 2.13.0 (which doctor finds wrong here)."""
    env = make_venv(tmp_path)
    if cuda:
        add_torch(env.site)
        add_cu130_libs(env.site)
        add_torchvision(env.site)
    else:
        add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, installer="uv")
    runner = FakeRunner()
    runner.on_interpreter(env)
    runner.on(lambda argv: argv[1].endswith("deep_check.py"), deep_check)
    reading = NvmlReading("580.159.03", 13000, (h100(0), h100(1)))
    ctx, fake = probe_context(tmp_path, runner, nvml=reading)
    fake.nvidia_driver()
    fake.device_nodes("nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm")
    monkeypatch.setattr(common, "context", lambda: ctx)
    return env


def deep_check(argv: list[str]) -> RunResult:
    """What probe/scripts/deep_check.py prints (doctor --deep) with torch 2.14.1 on an H100."""
    answer = {
        "torch_version": "2.14.1+cu130",
        "cuda_version": "13.0",
        "cuda_available": True,
        "device_count": 1,
        "devices": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}],
        "arch_list": ["sm_90"],
        "cudnn_version": 92400,
        "nccl_version": "2.30.7",
        "op_ok": True,
        "warnings": [],
    }
    cookie = argv[2]
    return RunResult(tuple(argv), 0, f"\n{cookie}\n{json.dumps(answer)}\n{cookie}\n", "", 2.5)


# --------------------------------------------------------------------------- this machine
@pytest.mark.parametrize("cuda", [True, False], ids=["cu130", "cpu-build-on-gpus"])
def test_inspect_and_doctor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cuda: bool
) -> None:
    env = host(tmp_path, monkeypatch, cuda=cuda)
    code, doc = run_json(capsys, "inspect", "--json", "--prefix", str(env.prefix))
    assert code == 0 and len(doc["machine"]["gpus"]) == 2
    assert doc["environment"]["torch"]["cuda"] == ("13.0" if cuda else None)
    code, doc = run_json(capsys, "doctor", "--json", "--prefix", str(env.prefix))
    assert code == (0 if cuda else 1) and doc["summary"]["failed"] is not cuda
    assert cuda or doc["findings"][0]["id"] == "cpu-build-on-gpu-host"
    code, doc = run_json(capsys, "doctor", "--deep", "--json", "--prefix", str(env.prefix))
    assert doc["runtime"]["ran"] is True and doc["runtime"]["devices"][0]["capability"] == "9.0"
    code, doc = run_json(capsys, "doctor", "--list-rules", "--json")
    assert code == 0 and len(doc["rules"]) >= 20


@pytest.mark.parametrize(
    "args",
    [
        H100,
        ("--for", H100_NODE, "--for", PASCAL_NODE),
        ("--gpu", "H100", "--driver", "418.67"),  # nothing fits: stack null, exit 3
        ("--gpu", "RTX 5090", "--driver", "570.133.07", "--installer", "conda"),
        ("--gpu", "H100", "--driver", "580.65.06", "--no-pytorch-index"),
        ("--python", "3.11"),  # this machine, without a GPU: cpu
    ],
    ids=["h100", "fleet", "no-stack", "conda", "pypi-only", "cpu"],
)
def test_plan_and_init(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
) -> None:
    ctx, _ = probe_context(tmp_path, FakeRunner())
    monkeypatch.setattr(common, "context", lambda: ctx)
    code, doc = run_json(capsys, "plan", "--json", *args)
    assert code == (3 if "418.67" in args else 0) and (doc["stack"] is None) == (code == 3)
    monkeypatch.chdir(tmp_path)
    code, doc = run_json(capsys, "init", "--json", *args)
    assert (doc["spec"] is None) == (code == 3) and doc["plan"]["schema"] == "torchenv.plan/1"


@pytest.mark.parametrize("gpu", ["none", "h100", "allocator-error"])
@pytest.mark.parametrize("failing", [None, "cpu-ops"])
def test_verify(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    gpu: str,
    failing: str | None,
) -> None:
    """The check script's recorded answers of tests/unit/cli/test_verify.py: the CPU build,
    and on an H100 with throughput and the allocator's state (or why it could not be read)."""
    env = make_venv(tmp_path)
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None, installer="uv")
    answer = payload(gpu=gpu != "none", failing=failing)
    if gpu == "allocator-error":
        answer["allocator"] = [{"gpu": 0, "error": "CUDA error: an illegal memory access"}]
    use(tmp_path, monkeypatch, env, answer, gpu=gpu != "none")
    code, doc = run_json(capsys, "verify", "--prefix", str(env.prefix), "--json")
    assert code == (1 if failing else 0)
    assert len(doc["allocator"]) == len(doc["perf"]["entries"]) // 2 == int(gpu != "none")
    assert (gpu == "allocator-error") == any(a["error"] for a in doc["allocator"])


# --------------------------------------------------------------------------- projects
def test_lock_check_fresh_and_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = make(tmp_path) / "torchenv.toml"
    code, doc = run_json(capsys, "lock", "--check", "--json", str(spec))
    assert code == 0 and doc["fresh"] is True
    spec.write_text(spec.read_text().replace('python = "3.11"', 'python = "3.12"'))
    code, doc = run_json(capsys, "lock", "--check", "--json", str(spec))
    assert code == 1 and doc["changes"]


def test_lock_of_a_conda_spec(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The one lock a unit test makes: conda, on the local channel test_image_conda.py makes
    with py-rattler-build (skipped where that is not installed)."""
    local = request.getfixturevalue("channel")
    (tmp_path / "torchenv.toml").write_text(
        f'name = "demo"\npython = "3.11"\ntorch = "=={TORCH}"\ncuda = "cpu"\nlibraries = []\n'
        f'installer = "conda"\n\n[index]\nchannels = ["{local}"]\n'
    )
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(tmp_path / "rattler"))
    monkeypatch.chdir(tmp_path)
    code, doc = run_json(capsys, "lock", "--json")
    assert code == 0 and doc["stack"]["channel"] == "conda-forge" and "pytorch" in doc["packages"]


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CUDA project with its sealed lock (tests/ship_project.py), the working directory."""
    runner = FakeRunner()
    runner.on(lambda a: a[-1] == "--version", lambda a: RunResult(tuple(a), 0, "uv 0.13.9\n"))
    ctx, _ = probe_context(tmp_path, runner)
    monkeypatch.setattr(common, "context", lambda: ctx)
    root = tmp_path / "p"
    ship_project(root, "[deploy]\nnodes = 2\ngpus-per-node = 4\n", variant="cu130")
    monkeypatch.chdir(root)
    return root


def test_image_deploy_export_and_ci(shipped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "image", "--ssh", "--json")
    assert code == 0 and doc["build"] is None and doc["labels"]
    for target in ("compose", "k8s", "pytorchjob", "slurm"):
        nodes = ("--nodes", "1") if target == "compose" else ()
        code, doc = run_json(capsys, "deploy", "--to", target, *nodes, "--json")
        assert code == 0 and doc["target"] == target and doc["files"]
    code, doc = run_json(capsys, "export", "--format", "pixi.toml", "--json")
    assert code == 0 and "text" in doc
    code, doc = run_json(capsys, "export", "--format", "pixi.toml", "--out", "e", "--json")
    assert code == 0 and doc["out"] == str(shipped / "e")
    code, doc = run_json(capsys, "ci", "--to", "github", "--gpu-runner", "h1", "--image", "--json")
    assert code == 0 and doc["jobs"] == ["environment", "gpu", "image"]
    code, doc = run_json(capsys, "ci", "--to", "gitlab", "--json")
    assert code == 0 and doc["to"] == "gitlab"


def test_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(capsys, "diff", H100_NODE, PASCAL_NODE, "--json")
    assert code == 1 and doc["machine"]["changed"]
    ctx, _ = probe_context(tmp_path)
    monkeypatch.setattr(common, "context", lambda: ctx)
    a, b = make_venv(tmp_path, "a"), make_venv(tmp_path, "b")
    add_torch(a.site, "2.13.0+cpu", cuda=None, arch=None)
    add_torch(b.site)
    add_dist(a.site, "six", "1.16.0")
    add_dist(b.site, "idna", "3.10")
    code, doc = run_json(capsys, "diff", str(a.prefix), str(b.prefix), "--json")
    assert code == 1 and doc["added"] and doc["removed"] and doc["torch"]["changed"]
    ship_project(tmp_path / "cpu")
    ship_project(tmp_path / "cuda", variant="cu130", packages=("rich",))
    locks = [str(tmp_path / p / "pylock.toml") for p in ("cpu", "cuda")]
    code, doc = run_json(capsys, "diff", *locks, "--json")
    assert code == 1 and doc["a"]["kind"] == "pylock" and doc["torch"]["changed"]


# --------------------------------------------------------------------------- environments
def test_list_history_rollback_and_adopt() -> None:
    """In the hostile-input sandbox (tests/hostile.py), as the lifecycle tests run them."""
    with sandbox() as box:
        good, managed = healthy_env(box.project, "good"), plain_env(box.project, "managed")
        g.make_first(managed)
        add_generation(managed, 2, "2.13.0+cpu")
        g.switch(managed, 2)
        registry = Path(box.env["TORCHENV_DATA_DIR"]) / "environments.json"
        registry.parent.mkdir(parents=True)
        entry = {"spec": None, "lock_sha256": "a" * 64, "backend": "uv", "created": "2026-01-01"}
        gone = box.project / "gone"
        registry.write_text(json.dumps({str(p): entry for p in (good, managed, gone)}))
        listed = valid(json.loads(box.run("list", "--json").out))
        assert len(listed["environments"]) == 3
        history = valid(json.loads(box.run("history", "--prefix", str(managed), "--json").out))
        assert [r["number"] for r in history["generations"]] == [1, 2]
        allowed = [g.store(managed), managed, registry.parent]
        done = box.run("rollback", "--prefix", str(managed), "--yes", "--json", allowed=allowed)
        assert valid(json.loads(done.out))["live"] == 1
        env = cpu_venv(box.root)
        with mock.patch("torchenv.commands.lock.run_lock", fake_lock()):
            adopted = box.run("adopt", "--prefix", str(env.prefix), "--json", allowed=[box.project])
        assert valid(json.loads(adopted.out))["pinned"] == 3


# --------------------------------------------------------------------------- the knowledge
@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IndexServer]:
    """Recorded PyPI and PyTorch index pages served here (tests/indexserver.py), with a data
    directory of this test's own."""
    monkeypatch.setenv("TORCHENV_DATA_DIR", str(tmp_path / "data"))
    load_knowledge.cache_clear()
    with serve() as server:
        yield server
    load_knowledge.cache_clear()


def test_matrix_matrix_check_and_db_update(
    index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(capsys, "matrix", "--json")
    assert code == 0 and len(doc["rows"]) >= 30
    code, doc = run_json(capsys, "matrix", "--torch", ">=2.14", "--json")
    assert code == 0 and doc["torch_spec"] == ">=2.14"
    pypi, pytorch = add_pypi(index), add_pytorch_index(index)
    indexes = ("--pypi-index", pypi, "--pytorch-index", pytorch)
    code, doc = run_json(capsys, "matrix", "--check", "--json", *indexes, "--only", "2.13")
    assert code == 1 and doc["differences"]
    kinds = {type(d["packaged"]).__name__ for d in doc["differences"]}
    assert len(kinds) > 1  # "packaged" and "fresh" hold any JSON value (models/matrix.py)
    dead = ("--pypi-index", pypi, "--pytorch-index", closed_port_url() + "/whl")
    code, doc = run_json(capsys, "matrix", "--check", "--json", *dead)
    assert code == 1 and doc["missing"] + doc["absent"]
    code, doc = run_json(capsys, "db", "update", "--json", *indexes)
    assert code == 0 and doc["written"] is True and doc["changed"]


# --------------------------------------------------------------------------- made by hand
def test_documents_of_the_commands_that_need_real_installers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """create, upgrade and lock run uv, pip or conda against real indexes (tests/integration),
    and image --build a container builder: their documents are made here from the dataclasses,
    the way the commands make them, around a real diff of two locks."""
    ship_project(tmp_path / "old")
    ship_project(tmp_path / "new", variant="cu130", packages=("rich",))
    locks = [str(tmp_path / p / "pylock.toml") for p in ("old", "new")]
    change = from_data(DiffReport, run_json(capsys, "diff", *locks, "--json")[1])
    steps = (
        BuildStep("lock", 4.2),
        BuildStep("venv", 0.4, ("uv", "venv", "--python", "3.11", "/srv/.venv.new")),
        BuildStep("install", 31.5, ("uv", "pip", "sync", "/p/pylock.toml")),
        BuildStep("check", 3.1),
        BuildStep("move", 0.01),
        BuildStep("switch", 0.01),
    )
    stack = Stack("2.13.0", "cu130", "13.0", "3.11", None, None, "pytorch-index")
    reports: list[object] = [
        CreateReport(
            "torchenv.create/1", "/srv/env", "uv", "/p/torchenv.toml", "/p/pylock.toml",
            "a" * 64, "2.13.0+cu130", 42, steps[1:5], notes=("registered /srv/env",),
        ),
        UpgradeReport(
            "torchenv.upgrade/1", "/srv/env", "upgraded", change, 3, 2, "uv", "/p/pylock.toml",
            verify="passed", steps=steps, notes=("pruned generation(s) 1",),
        ),
        UpgradeReport(
            "torchenv.upgrade/1", "/srv/env", "dry-run", change, 2, None, "pip", "/p/pylock.toml"
        ),
        LockReport(
            "torchenv.lock/1", "/p/torchenv.toml", "/p/pylock.toml", "a" * 64,
            dataclasses.replace(stack, archs=("sm_80", "sm_90"), pins={"cudnn": "9.24.0.43"}),
            {"torch": "2.13.0+cu130", "nvidia-cudnn-cu13": "9.24.0.43"}, ("linux_x86_64",),
        ),
        ImageReport(
            "torchenv.image/1", "/p/image", "demo:2.13.0-cu130", "nvidia/cuda:13.0.2-base",
            ("Dockerfile", "pylock.toml"), {"io.torchenv.variant": "cu130"},
            BuildResult("podman", "demo:2.13.0-cu130", 93.2, ("podman", "build", ".")),
        ),
    ]  # fmt: skip
    for report in reports:
        valid(json.loads(render_json(report)))
