"""Finding, reading and validating the spec: every problem at once, each at its line and key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from torchenv.errors import ExitCode, UsageError
from torchenv.models.spec import Spec, SpecIndex, SpecTargets
from torchenv.spec import (
    SpecError,
    load_spec,
    machine_paths,
    parse_spec_text,
    spec_channels,
    spec_hash,
)
from torchenv.spec.locate import KeyLocator

MACHINES = Path(__file__).parents[2] / "fixtures" / "machines"
HASH_OF_A = "a33cdb1bbaeef06724480ea39ada4a2f4a9163033422ab0e7654adbd02aacf68"  # spec-hash format 2


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(
    tmp_path: Path, text: str, name: str = "torchenv.toml"
) -> list[tuple[int | None, str]]:
    write(tmp_path, name, text)
    with pytest.raises(SpecError) as caught:
        load_spec(None, tmp_path)
    return [(p.line, p.key) for p in caught.value.problems]


def test_a_full_spec_is_read_and_normalised(tmp_path: Path) -> None:
    write(tmp_path, "nodes/a.json", "{}")
    (tmp_path / "wheels").mkdir()
    write(
        tmp_path,
        "torchenv.toml",
        """\
name = "vision"
python = "3.12.4"
torch = "2.13"
cuda = "cu126"
libraries = ["torchvision", "torchaudio"]
packages = ["numpy<3", "pillow>=10; python_version >= '3.10'"]
installer = "pip"

[targets]
machines = ["nodes/a.json"]

[index]
pypi = "https://mirror.example/simple"
find-links = ["wheels", "https://example.org/wheels/"]
""",
    )
    spec = load_spec(None, tmp_path)
    assert spec == Spec(
        name="vision",
        python="3.12",
        torch="==2.13.*",
        cuda="12.6",
        libraries=("torchvision", "torchaudio"),
        packages=("numpy<3", "pillow>=10; python_version >= '3.10'"),
        installer="pip",
        targets=SpecTargets(machines=("nodes/a.json",)),
        index=SpecIndex(
            pypi="https://mirror.example/simple",
            find_links=("wheels", "https://example.org/wheels/"),
        ),
        path=str(tmp_path / "torchenv.toml"),
    )
    assert machine_paths(spec, tmp_path) == (tmp_path / "nodes" / "a.json",)


def test_defaults_and_target_normalisation(tmp_path: Path) -> None:
    write(
        tmp_path,
        "torchenv.toml",
        'name = "x"\n[targets]\ngpus = [" H100 ", "8.6"]\nplatform = "linux"\n'
        'driver = "580.65.06"\n',
    )
    spec = load_spec(None, tmp_path)
    assert (spec.python, spec.torch, spec.cuda, spec.libraries, spec.installer) == (
        None,
        None,
        "auto",
        ("torchvision",),
        "uv",
    )
    assert spec.targets == SpecTargets(
        gpus=("H100", "8.6"), driver="580.65.06", platform="linux_x86_64"
    )
    assert spec.index == SpecIndex()


def test_a_local_label_sets_cuda_unless_cuda_disagrees(tmp_path: Path) -> None:
    spec = parse_spec_text('name = "a"\ntorch = "2.13.0+cu126"\n', tmp_path / "t.toml")
    assert (spec.torch, spec.cuda) == ("==2.13.0", "12.6")
    spec = parse_spec_text('name = "a"\ntorch = "2.13.0+cpu"\ncuda = "auto"\n', tmp_path / "t")
    assert (spec.torch, spec.cuda) == ("==2.13.0", "cpu")
    spec = parse_spec_text('name = "a"\ntorch = "2.13.0+cu126"\ncuda = "12.6"\n', tmp_path / "t")
    assert spec.cuda == "12.6"
    with pytest.raises(SpecError) as caught:
        parse_spec_text('name = "a"\ncuda = "12.8"\ntorch = "2.13.0+cu126"\n', tmp_path / "t")
    (problem,) = caught.value.problems
    assert (problem.line, problem.key) == (3, "torch")
    assert "CUDA 12.6 build" in problem.message and '"12.8"' in problem.message


def test_every_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    text = """\
name = "vision!"
python = 3.10
torch = "newest"
cuda = "12"
libraries = ["torchvision", "torchtext", "torchvision"]
packages = [
    "numpy<3",
    "torch>=2",
    "not a req ===",
    7,
]
instaler = "uv"
installer = "pixi"

[targets]
gpus = ["H100", ""]
driver = "58"
platform = "solaris"
machines = ["nope.json"]
gpu = []

[index]
pypi = "ftp://mirror"
pytorch = "download.pytorch.org/whl"
find-links = ["/nonexistent/wheels", "https://ok.example/wheels"]
"""
    found = problems(tmp_path, text)
    assert found == [
        (1, "name"),
        (2, "python"),
        (3, "torch"),
        (4, "cuda"),
        (5, "libraries[1]"),
        (5, "libraries[2]"),
        (8, "packages[1]"),
        (9, "packages[2]"),
        (10, "packages[3]"),
        (12, "instaler"),
        (13, "installer"),
        (16, "targets.gpus[1]"),
        (17, "targets.driver"),
        (18, "targets.platform"),
        (19, "targets.machines[0]"),
        (19, "targets.machines"),
        (20, "targets.gpu"),
        (23, "index.pypi"),
        (24, "index.pytorch"),
        (25, "index.find-links[0]"),
    ]
    with pytest.raises(SpecError) as caught:
        load_spec(None, tmp_path)
    error = caught.value
    assert isinstance(error, UsageError) and error.exit_code == ExitCode.USAGE == 2
    lines = error.message.splitlines()
    file = str(tmp_path / "torchenv.toml")
    assert lines[0] == f"{file} has 20 problems:"
    assert lines[1].startswith(f"{file}:1: name: ")
    assert len(lines) == 21
    by_key = {p.key: p.message for p in error.problems}
    assert 'did you mean "installer"' in by_key["instaler"]
    assert 'did you mean "gpus"' in by_key["targets.gpu"]
    assert "put the version in quotes" in by_key["python"]
    assert "PEP 508" in by_key["packages[2]"] and "`torch` key" in by_key["packages[1]"]
    assert "listed twice" in by_key["libraries[2]"]
    assert "give one or the other" in by_key["targets.machines"]
    assert "http(s):// or file:// URL" in by_key["index.pytorch"]


def test_wrong_types(tmp_path: Path) -> None:
    text = 'name = 1\nlibraries = "torchvision"\ntargets = ["H100"]\nindex = 3\n'
    assert problems(tmp_path, text) == [
        (1, "name"),
        (2, "libraries"),
        (3, "targets"),
        (4, "index"),
    ]


def test_a_missing_name_is_a_problem(tmp_path: Path) -> None:
    assert problems(tmp_path, 'python = "3.12"\n') == [(None, "name")]


def test_toml_syntax_error_is_one_problem_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, "torchenv.toml", 'name = "a"\npython = "3.12"\ntorch = \n')
    with pytest.raises(SpecError) as caught:
        load_spec(None, tmp_path)
    (problem,) = caught.value.problems
    assert problem.line == 3 and problem.key == ""
    assert problem.message.startswith("not valid TOML: ")
    assert f"{tmp_path / 'torchenv.toml'}:3: not valid TOML" in caught.value.message


def test_keys_are_located_in_inline_and_dotted_forms(tmp_path: Path) -> None:
    text = """\
name = "a"  # a comment with [brackets] and key = "value"
targets.driver = "5"
index = { pypi = "gopher://x" }
packages = [ "numpy", # first
  "torch",
]
"""
    assert problems(tmp_path, text) == [
        (2, "targets.driver"),
        (3, "index.pypi"),
        (5, "packages[1]"),
    ]


def test_locator_on_arrays_spread_over_lines() -> None:
    text = 'a = [\n  "x", "y",\n  # comment, with "quotes"\n  ["n", "m"],\n  "z"\n]\n[t]\nb = 1\n'
    locator = KeyLocator(text)
    assert [locator.line_of(f"a[{i}]") for i in range(5)] == [2, 2, 4, 5, 1]
    assert locator.line_of("t.b") == 8
    assert locator.line_of("t.missing") == 7
    assert locator.line_of("nowhere") is None


def test_pyproject_table(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """\
[project]
name = "my-app"

[tool.torchenv]
python = "3.11"
cuda = "cpu"

[tool.torchenv.targets]
platform = "win_amd64"
""",
    )
    spec = load_spec(None, tmp_path)
    assert (spec.name, spec.python, spec.cuda) == ("my-app", "3.11", "cpu")
    assert spec.targets.platform == "win_amd64"
    assert spec.path == str(tmp_path / "pyproject.toml")
    assert load_spec(Path("pyproject.toml"), tmp_path) == spec


def test_pyproject_problems_name_the_full_key(tmp_path: Path) -> None:
    text = """\
[project]
name = "app"

[tool.torchenv]
cuda = "13"
colour = "blue"

[tool.torchenv.targets]
driver = "x"
"""
    found = problems(tmp_path, text, name="pyproject.toml")
    assert found == [
        (5, "tool.torchenv.cuda"),
        (6, "tool.torchenv.colour"),
        (9, "tool.torchenv.targets.driver"),
    ]


def test_torchenv_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.torchenv]\nname = "from-pyproject"\n')
    write(tmp_path, "torchenv.toml", 'name = "from-torchenv"\n')
    assert load_spec(None, tmp_path).name == "from-torchenv"
    assert load_spec(tmp_path / "pyproject.toml", tmp_path).name == "from-pyproject"
    assert load_spec(Path("."), tmp_path).name == "from-torchenv"


def test_pyproject_without_the_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "app"\n')
    for path in (None, Path("pyproject.toml")):
        with pytest.raises(UsageError) as caught:
            load_spec(path, tmp_path)
        assert "has no [tool.torchenv] table" in caught.value.message
        assert caught.value.exit_code == 2


def test_missing_spec(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        load_spec(None, tmp_path)
    assert caught.value.reference == "spec-not-found"
    assert "torchenv init" in (caught.value.hint or "")
    with pytest.raises(UsageError, match="No spec at"):
        load_spec(Path("other.toml"), tmp_path)


def test_any_file_name_is_read_as_a_torchenv_spec(tmp_path: Path) -> None:
    write(tmp_path, "envs/gpu.toml", 'name = "gpu"\n')
    assert load_spec(Path("envs/gpu.toml"), tmp_path).name == "gpu"


def test_not_utf8_and_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "torchenv.toml").write_bytes(b'name = "a"\npython = "\xff"\n')
    with pytest.raises(UsageError) as caught:
        load_spec(None, tmp_path)
    assert caught.value.reference == "spec-not-utf8"
    assert "not UTF-8" in caught.value.message and "line 2" in caught.value.message

    def denied(path: object, limit: int = 0) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("torchenv.untrusted.files.read_bytes", denied)
    with pytest.raises(UsageError, match=r"Cannot read the spec .*Permission denied"):
        load_spec(None, tmp_path)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "torchenv.toml").write_bytes(b'\xef\xbb\xbfname = "a"\n')
    assert load_spec(None, tmp_path).name == "a"


def test_machines_exist_relative_to_the_spec(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "h100.json").write_text((MACHINES / "h100-node.json").read_text())
    write(
        tmp_path, "proj/torchenv.toml", 'name = "a"\n[targets]\nmachines = ["../fleet/h100.json"]\n'
    )
    spec = load_spec(Path("proj"), tmp_path)
    assert machine_paths(spec, tmp_path) == (tmp_path / "proj" / "../fleet/h100.json",)
    assert machine_paths(spec, tmp_path)[0].is_file()


def test_spec_hash_is_stable() -> None:
    spec = Spec(name="a", python="3.12", torch="==2.13.0", cuda="12.6", packages=("b", "a"))
    same = dataclasses.replace(spec, packages=("a", "b"), path="/elsewhere/torchenv.toml")
    assert spec_hash(spec) == spec_hash(same)
    assert len(spec_hash(spec)) == 64
    assert spec_hash(spec) != spec_hash(dataclasses.replace(spec, cuda="12.8"))
    assert spec_hash(spec) != spec_hash(
        dataclasses.replace(spec, index=SpecIndex(find_links=("/w",)))
    )
    # a fixed value: the hash is recorded in lock files, so it must not change between runs or
    # versions without a deliberate bump of its format
    assert spec_hash(Spec(name="a")) == HASH_OF_A


def test_spec_hash_ignores_key_order_in_the_file(tmp_path: Path) -> None:
    one = parse_spec_text(
        'name = "a"\ncuda = "cpu"\n[index]\npypi = "https://m/simple"\n', tmp_path
    )
    two = parse_spec_text(
        'index = { pypi = "https://m/simple" }\ncuda = "cpu"\nname = "a"\n', tmp_path / "x"
    )
    assert spec_hash(one) == spec_hash(two)


# ---------------------------------------------------------------- [index] channels (conda)
def test_channels_default_to_conda_forge(tmp_path: Path) -> None:
    spec = parse_spec_text('name = "a"\ninstaller = "conda"\n', tmp_path / "torchenv.toml")
    assert spec.index.channels == ("conda-forge",)
    assert spec_channels(spec, tmp_path) == ("conda-forge",)


def test_channels_names_urls_and_local_paths(tmp_path: Path) -> None:
    (tmp_path / "proj" / "local-channel").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    write(
        tmp_path,
        "proj/torchenv.toml",
        'name = "a"\ninstaller = "conda"\n[index]\nchannels = [\n'
        '  "./local-channel", "../shared", "conda-forge/label/rc",\n'
        '  "https://prefix.dev/conda-forge", "file:///srv/channel", "bioconda",\n]\n',
    )
    spec = load_spec(Path("proj"), tmp_path)
    # kept as written: the hash must not depend on where the project lies
    assert spec.index.channels == (
        "./local-channel",
        "../shared",
        "conda-forge/label/rc",
        "https://prefix.dev/conda-forge",
        "file:///srv/channel",
        "bioconda",
    )
    assert spec_channels(spec, tmp_path) == (
        str(tmp_path / "proj" / "local-channel"),
        str(tmp_path / "shared"),
        "conda-forge/label/rc",
        "https://prefix.dev/conda-forge",
        "file:///srv/channel",
        "bioconda",
    )


def test_channel_problems_are_located(tmp_path: Path) -> None:
    text = """\
name = "a"
[index]
channels = [
  "./missing",
  "ftp://x",
  "conda forge",
  3,
  "/nonexistent/channel",
]
"""
    found = problems(tmp_path, text)
    assert found == [
        (4, "index.channels[0]"),
        (5, "index.channels[1]"),
        (6, "index.channels[2]"),
        (7, "index.channels[3]"),
        (8, "index.channels[4]"),
    ]
    with pytest.raises(SpecError) as caught:
        load_spec(None, tmp_path)
    by_key = {p.key: p.message for p in caught.value.problems}
    assert "existing channel directory" in by_key["index.channels[0]"]
    assert "http(s):// or file:// URL" in by_key["index.channels[1]"]
    assert "channel name" in by_key["index.channels[2]"]
    assert problems(tmp_path, 'name = "a"\n[index]\nchannels = []\n') == [(3, "index.channels")]
    assert problems(tmp_path, 'name = "a"\n[index]\nchannels = "conda-forge"\n') == [
        (3, "index.channels")
    ]


def test_channels_are_in_the_hash_in_their_order(tmp_path: Path) -> None:
    spec = Spec(name="a", installer="conda")
    other = dataclasses.replace(spec, index=SpecIndex(channels=("conda-forge", "bioconda")))
    swapped = dataclasses.replace(spec, index=SpecIndex(channels=("bioconda", "conda-forge")))
    # channel order is priority: a reordered list is another environment
    assert len({spec_hash(spec), spec_hash(other), spec_hash(swapped)}) == 3


@pytest.mark.parametrize(("written", "read"), [("2.11.*", "==2.11.*"), ("=2.11", "==2.11.*")])
def test_a_spec_takes_the_torch_forms_of_conda(tmp_path: Path, written: str, read: str) -> None:
    write(tmp_path, "torchenv.toml", f'name = "a"\ntorch = "{written}"\n')
    assert load_spec(None, tmp_path).torch == read
