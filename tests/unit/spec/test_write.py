"""Writing a spec: the file is short, says where it came from, and reads back to the same Spec."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchenv.models.spec import Spec, SpecIndex, SpecTargets
from torchenv.spec import SpecError, load_spec, parse_spec_text, render_spec, spec_hash
from torchenv.spec.validate import NAME_PATTERN

MACHINE_FILES = ("a.json", "nodes/b.json", "c d.json")
WHEEL_DIRS = ("wheels", "more wheels")
CHANNEL_DIRS = ("./channel", "./more/channel")


@pytest.fixture(scope="module")
def spec_dir() -> Iterator[Path]:
    """A spec directory with the machine files and wheel folders the generated specs name."""
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        for file in MACHINE_FILES:
            (root / file).parent.mkdir(parents=True, exist_ok=True)
            (root / file).write_text("{}")
        for folder in WHEEL_DIRS:
            (root / folder).mkdir()
        for folder in CHANNEL_DIRS:
            (root / folder).mkdir(parents=True, exist_ok=True)
        yield root


def test_a_planned_spec(tmp_path: Path) -> None:
    spec = Spec(
        name="vision",
        python="3.12",
        torch="==2.15.0",
        cuda="13.2",
        libraries=("torchvision", "torchaudio"),
        targets=SpecTargets(gpus=("H100",), driver="580.65.06"),
    )
    text = render_spec(spec, "torchenv init --gpu H100 --driver 580.65.06")
    lines = text.splitlines()
    assert lines[0] == "# torchenv spec of the PyTorch environment 'vision'."
    assert lines[1] == "# Written by: torchenv init --gpu H100 --driver 580.65.06"
    assert "torchenv lock" in lines[2]
    body = text[text.index("name =") :]
    assert body.startswith('name = "vision"\npython = "3.12"\ntorch = "==2.15.0"\ncuda = "13.2"\n')
    assert "[targets]" in body and "[index]" not in body and "packages" not in body
    assert parse_spec_text(text, tmp_path / "torchenv.toml") == dataclasses.replace(
        spec, path=str(tmp_path / "torchenv.toml")
    )


def test_a_spec_for_this_machine_says_so() -> None:
    text = render_spec(Spec(name="x", cuda="cpu"))
    assert "# Written by torchenv." in text
    assert "planned for the machine that runs it" in text
    assert "\n[targets]" not in text and "python =" not in text


def test_control_characters_cannot_break_the_header(tmp_path: Path) -> None:
    spec = Spec(name="x", targets=SpecTargets(gpus=("H100\nname = 1",)))
    text = render_spec(spec, "torchenv init --gpu 'H100\nname = 1'")
    # the newline stays inside the TOML string (no second `name` key, no broken comment), and
    # reading it back names the value: a spec holds no control characters
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, tmp_path / "t.toml")
    assert [p.key for p in caught.value.problems] == ["targets.gpus[0]"]
    assert "control character '\\n'" in caught.value.problems[0].message


def test_non_default_index_and_empty_libraries_are_written(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    spec = Spec(
        name="x",
        libraries=(),
        installer="conda",
        index=SpecIndex(pytorch="https://mirror.example/whl", find_links=("wheels",)),
    )
    text = render_spec(spec)
    assert "libraries = []" in text and "pypi" not in text
    assert 'installer = "conda"' in text and "find-links = [" in text
    assert "channels" not in text  # the default is not written
    path = tmp_path / "torchenv.toml"
    path.write_text(text)
    assert load_spec(None, tmp_path) == dataclasses.replace(spec, path=str(path))


# ---------------------------------------------------------------- generated specs round-trip
# a spec refuses control characters (spec/checker.py): any other text round-trips
_printable = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)
names = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 40)
pythons = st.one_of(
    st.none(), st.builds(lambda m, t: f"3.{m}{t}", st.integers(8, 15), st.sampled_from(["", "t"]))
)
versions = st.builds(
    lambda a, b, c: f"{a}.{b}.{c}", st.integers(1, 3), st.integers(0, 20), st.integers(0, 9)
)
torches = st.one_of(
    st.none(),
    versions.map(lambda v: f"=={v}"),
    st.builds(lambda a, b: f"=={a}.{b}.*", st.integers(1, 3), st.integers(0, 20)),
    st.builds(lambda lo, hi: f">={lo},<{hi}", versions, versions),
    versions.map(lambda v: f"~={v}"),
)
cudas = st.one_of(
    st.sampled_from(["auto", "cpu"]),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(10, 13), st.integers(0, 9)),
)
libraries = st.sampled_from(
    [
        (),
        ("torchvision",),
        ("torchaudio",),
        ("torchvision", "torchaudio"),
        ("torchaudio", "torchvision"),
    ]
)
packages = st.lists(
    st.sampled_from(
        ["numpy<3", "pillow>=10", "transformers[torch]==4.50.0", "scipy; python_version >= '3.10'"]
    ),
    max_size=4,
).map(tuple)
drivers = st.builds(
    lambda a, b, c: f"{a}.{b:02d}.{c:02d}",
    st.integers(400, 999),
    st.integers(0, 99),
    st.integers(0, 99),
)
platforms = st.sampled_from(["linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64"])
gpu_names = _printable.map(str.strip).filter(bool)
described = st.builds(
    SpecTargets,
    gpus=st.lists(gpu_names, max_size=3).map(tuple),
    driver=st.one_of(st.none(), drivers),
    platform=st.one_of(st.none(), platforms),
)
from_files = st.builds(
    SpecTargets,
    machines=st.lists(st.sampled_from(MACHINE_FILES), min_size=1, max_size=3).map(tuple),
)
urls = st.one_of(
    st.builds(
        lambda host: f"https://{host}.example/simple", st.from_regex(r"[a-z]{1,10}", fullmatch=True)
    ),
    st.just("file:///srv/mirror/simple"),
)
indexes = st.builds(
    SpecIndex,
    pypi=st.one_of(st.just(SpecIndex().pypi), urls),
    pytorch=st.one_of(st.just(SpecIndex().pytorch), urls),
    find_links=st.lists(st.one_of(st.sampled_from(WHEEL_DIRS), urls), max_size=3).map(tuple),
    channels=st.one_of(
        st.just(SpecIndex().channels),
        st.lists(
            st.one_of(
                st.sampled_from(["conda-forge", "bioconda", "conda-forge/label/rc", "nvidia"]),
                st.sampled_from(CHANNEL_DIRS),
                urls,
            ),
            min_size=1,
            max_size=3,
        ).map(tuple),
    ),
)
specs = st.builds(
    Spec,
    name=names,
    python=pythons,
    torch=torches,
    cuda=cudas,
    libraries=libraries,
    packages=packages,
    installer=st.sampled_from(["uv", "pip", "conda"]),
    targets=st.one_of(described, from_files),
    index=indexes,
)


@settings(max_examples=300, deadline=None)
@given(spec=specs, origin=st.one_of(st.none(), _printable))
def test_render_then_load_gives_the_same_spec(
    spec_dir: Path, spec: Spec, origin: str | None
) -> None:
    path = spec_dir / "torchenv.toml"
    loaded = parse_spec_text(render_spec(spec, origin), path)
    assert loaded == dataclasses.replace(spec, path=str(path))
    assert spec_hash(loaded) == spec_hash(spec)


def test_channels_are_written_when_not_the_default(tmp_path: Path) -> None:
    (tmp_path / "channel").mkdir()
    spec = Spec(name="x", installer="conda", index=SpecIndex(channels=("./channel", "conda-forge")))
    text = render_spec(spec)
    assert '[index]\nchannels = [\n    "./channel",\n    "conda-forge",\n]' in text
    assert parse_spec_text(text, tmp_path / "torchenv.toml").index == spec.index
