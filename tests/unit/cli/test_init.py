"""`torchenv init` end to end on the packaged knowledge base: the spec it writes, overwriting,
exit codes, and that what it writes (or a user edits badly) is read back with every problem."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from builders import FakeRunner, probe_context
from torchenv import cli
from torchenv.cli import common
from torchenv.commands.init import _relative
from torchenv.spec import SpecError, load_spec, spec_hash

MACHINES = Path(__file__).parents[2] / "fixtures" / "machines"
H100 = ("--gpu", "H100", "--driver", "580.65.06", "--python", "3.12")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "My Project"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["init", *args])
    out, err = capsys.readouterr()
    return code, out, err


def init_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "--json", *args)
    assert out, err
    return code, json.loads(out)


def test_init_for_a_gpu(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *H100)
    assert code == 0, err
    assert out.splitlines() == [
        "wrote torchenv.toml",
        "stack: torch 2.15.0+cu132, torchvision 0.29.2, torchaudio 2.11.1, Python 3.12, CUDA 13.2",
        "next: torchenv lock",
    ]
    text = (project / "torchenv.toml").read_text()
    assert text.startswith("# torchenv spec of the PyTorch environment 'My-Project'.\n")
    assert "# Written by: torchenv init --python 3.12 --gpu H100 --driver 580.65.06\n" in text
    spec = load_spec(None, project)
    assert (spec.name, spec.python, spec.torch, spec.cuda) == (
        "My-Project",
        "3.12",
        "==2.15.0",
        "13.2",
    )
    assert spec.libraries == ("torchvision", "torchaudio") and spec.installer == "uv"
    assert (spec.targets.gpus, spec.targets.driver, spec.targets.machines) == (
        ("H100",),
        "580.65.06",
        (),
    )
    assert spec.index.find_links == ()
    # written through a temporary file next to it, which is gone
    assert sorted(p.name for p in project.iterdir()) == ["torchenv.toml"]


def test_json_document(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = init_json(capsys, *H100, "--name", "vision", "--installer", "pip")
    assert code == 0
    assert next(iter(doc)) == "schema" and doc["schema"] == "torchenv.init/1"
    assert doc["path"] == str(project / "torchenv.toml")
    assert doc["plan"]["schema"] == "torchenv.plan/1"
    assert doc["plan"]["stack"]["variant"] == "cu132"
    assert set(doc["plan"]["install"]) == {"pip"}
    spec = doc["spec"]
    assert (spec["name"], spec["installer"], spec["torch"]) == ("vision", "pip", "==2.15.0")
    loaded = load_spec(None, project)
    assert spec["path"] == loaded.path
    assert spec_hash(loaded)


def test_torchaudio_is_listed_when_paired(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = init_json(capsys, "--gpu", "RTX 5090", "--driver", "570.133.07", "--python", "3.12")
    assert code == 0
    # torchaudio 2.11.1 (requires torch>=2.11, py3-none) pairs with 2.13.0 (audit, S2)
    assert doc["plan"]["stack"]["torchaudio"] == "2.11.1"
    assert doc["spec"]["libraries"] == ["torchvision", "torchaudio"]
    assert (doc["spec"]["torch"], doc["spec"]["cuda"]) == ("==2.13.0", "12.9")


def test_init_for_machine_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for name in ("h100-node.json", "pascal-node.json"):
        shutil.copy(MACHINES / name, fleet / name)
    (tmp_path / "proj").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys,
        "--for",
        "fleet/h100-node.json",
        "--for",
        str(fleet / "pascal-node.json"),
        "--out",
        "proj",
    )
    assert code == 0, err
    assert out.startswith(f"wrote {Path('proj') / 'torchenv.toml'}\n")
    spec = load_spec(Path("proj"), tmp_path)
    assert spec.name == "proj"
    assert (spec.torch, spec.cuda) == ("==2.14.1", "12.6")
    # relative to the spec's directory, so the project can move as a whole
    assert spec.targets.machines == ("../fleet/h100-node.json", "../fleet/pascal-node.json")
    assert spec.targets.gpus == () and spec.targets.driver is None


def test_machine_files_elsewhere_stay_absolute(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = MACHINES / "h100-node.json"
    code, doc = init_json(capsys, "--for", str(node))
    assert code == 0
    # a path that shares only the root with the project stays absolute (a relative one would be
    # fragile); where the checkout and tmp_path share more (CI clones into /tmp) it is relative
    shared = Path(os.path.commonpath([node, project]))
    expected = str(node) if shared == Path(node.anchor) else os.path.relpath(node, project)
    assert doc["spec"]["targets"]["machines"] == [expected]
    assert _relative(Path("/a/b/node.json"), Path("/c/d")) == "/a/b/node.json"
    assert _relative(Path("/c/fleet/node.json"), Path("/c/d")) == "../fleet/node.json"


def test_this_machine_without_a_gpu(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx, _ = probe_context(tmp_path, FakeRunner())
    monkeypatch.setattr(common, "context", lambda: ctx)
    code, out, err = run(capsys, "--python", "3.11")
    assert code == 0, err
    assert "stack: torch 2.15.0+cpu, torchvision" in out and out.endswith(
        "CPU only\nnext: torchenv lock\n"
    )
    text = (project / "torchenv.toml").read_text()
    assert "planned for the machine that runs it" in text and "\n[targets]" not in text
    spec = load_spec(None, project)
    assert spec.cuda == "cpu" and spec.targets.gpus == () and spec.targets.machines == ()


def test_refuses_to_overwrite_without_force(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "torchenv.toml").write_text("# mine\n")
    code, out, err = run(capsys, *H100)
    assert code == 2 and out == ""
    assert f"{project / 'torchenv.toml'} already exists" in err and "--force" in err
    assert (project / "torchenv.toml").read_text() == "# mine\n"
    code, out, _ = run(capsys, *H100, "--force")
    assert code == 0 and out.startswith("wrote torchenv.toml")
    assert load_spec(None, project).torch == "==2.15.0"


def test_no_compatible_stack_exits_3_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--gpu", "H100", "--driver", "418.67")
    assert code == 3
    assert "No PyTorch build fits" in out
    assert "driver 418.67 is older than 450.80.02" in out
    assert not (project / "torchenv.toml").exists()
    code, doc = init_json(capsys, "--gpu", "H100", "--driver", "418.67")
    assert code == 3
    assert doc["schema"] == "torchenv.init/1" and doc["spec"] is None and doc["path"] is None
    assert doc["plan"]["stack"] is None and doc["plan"]["rejected"]
    assert list(project.iterdir()) == []


def test_bad_options(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *H100, "--name", "my env")
    assert code == 2 and '--name "my env"' in err
    code, _, err = run(capsys, *H100, "--installer", "pixi")
    assert code == 2 and "pixi" in err
    code, _, err = run(capsys, *H100, "--out", "missing/torchenv.toml")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "--gpu", "H100", "--for", str(MACHINES / "h100-node.json"))
    assert code == 2 and "one or the other" in err
    assert list(project.iterdir()) == []


def test_conda_installer(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = init_json(capsys, *H100, "--installer", "conda")
    assert code == 0
    assert doc["plan"]["stack"]["channel"] == "conda-forge"
    spec = load_spec(None, project)
    assert spec.installer == "conda" and spec.torch == f"=={doc['plan']['stack']['torch']}"


def test_an_edited_spec_reports_all_its_problems(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *H100)[0] == 0
    path = project / "torchenv.toml"
    lines = path.read_text().splitlines()
    number = {line.split(" =")[0]: i for i, line in enumerate(lines, start=1) if " = " in line}
    edited = [
        line.replace('"3.12"', "3.12").replace('"13.2"', '"13"').replace('"H100"', "100")
        for line in lines
    ]
    path.write_text("\n".join([*edited, 'extra = "x"', ""]))
    with pytest.raises(SpecError) as caught:
        load_spec(None, project)
    gpu_line = next(i for i, line in enumerate(edited, start=1) if line.strip() == "100,")
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (number["python"], "python"),
        (number["cuda"], "cuda"),
        (gpu_line, "targets.gpus[0]"),
        (len(lines) + 1, "targets.extra"),  # appended to the last table
    ]
    message = caught.value.message.splitlines()
    assert message[1] == (
        f'{path}:{number["python"]}: python: expected a string such as "3.12", got a float '
        "(put the version in quotes)"
    )


def test_a_pyproject_spec_with_several_problems(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.torchenv]\ntorch = "2.13"\n'
        'packages = ["torchvision==0.20"]\n\n[tool.torchenv.index]\nfind-links = ["nowhere"]\n'
    )
    with pytest.raises(SpecError) as caught:
        load_spec(None, project)
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (6, "tool.torchenv.packages[0]"),
        (9, "tool.torchenv.index.find-links[0]"),
    ]
    # init writes its own torchenv.toml, which then wins over pyproject.toml
    assert run(capsys, *H100)[0] == 0
    assert load_spec(None, project).name == "My-Project"
