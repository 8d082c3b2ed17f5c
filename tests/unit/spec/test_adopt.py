"""spec.adopt: the facts of an environment -> the spec that rebuilds it, and what it cannot pin."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import (
    FakeRunner,
    add_cu130_libs,
    add_dist,
    add_torch,
    add_torchvision,
    make_venv,
    probe_context,
)
from torchenv.errors import UsageError
from torchenv.models.environment import (
    Conda,
    CondaRecord,
    Distribution,
    Environment,
    Interpreter,
    TorchBuild,
)
from torchenv.models.spec import SpecIndex
from torchenv.probe.environment import probe_environment
from torchenv.spec import parse_spec_text, render_spec
from torchenv.spec.adopt import DirectOrigin, adopt_spec, lock_differences, spec_name

SITE = "/env/lib/python3.11/site-packages"


def dist(name: str, version: str | None = "1.0", **fields: object) -> Distribution:
    return Distribution(name, version, SITE, f"{SITE}/{name}-{version}.dist-info", **fields)  # type: ignore[arg-type]


def environment(
    *dists: Distribution,
    torch: str | None = "2.13.0+cpu",
    cuda: str | None = None,
    python: str = "3.11.7",
    conda: Conda | None = None,
    **build: object,
) -> Environment:
    torch_build = (
        TorchBuild(torch, f"{SITE}/torch", cuda=cuda, **build)  # type: ignore[arg-type]
        if torch is not None
        else None
    )
    stack = (dist("torch", torch.split("+")[0], requires=("filelock",)),) if torch else ()
    return Environment(
        prefix="/env",
        kind="conda" if conda is not None else "venv",
        selected_by="--prefix",
        interpreter=Interpreter(
            "/env/bin/python", python, "cpython", platform="linux-x86_64", runs=True
        ),
        distributions=(*stack, *dists),
        conda=conda,
        torch=torch_build,
    )


def probed(tmp_path: Path, build: object) -> Environment:
    """A fake venv on disk, read by the real probe (its interpreter answers through a fake)."""
    env = make_venv(tmp_path)
    build(env.site)  # type: ignore[operator]
    runner = FakeRunner()
    runner.on_interpreter(env)
    ctx, _ = probe_context(tmp_path, runner)
    return probe_environment(ctx, None, str(env.prefix))


def test_a_cpu_venv() -> None:
    env = environment(dist("six", "1.16.0"), dist("filelock", "3.13.1"), dist("pip", "24.0"))
    adoption = adopt_spec(env, "train")
    spec = adoption.spec
    assert (spec.name, spec.python, spec.torch, spec.cuda) == ("train", "3.11", "==2.13.0", "cpu")
    assert spec.libraries == () and spec.installer == "uv" and spec.index == SpecIndex()
    assert spec.packages == ("filelock==3.13.1", "six==1.16.0")
    assert (adoption.torch, adoption.variant, adoption.unpinned) == ("2.13.0+cpu", "cpu", ())
    assert any("own tooling (pip)" in note for note in adoption.notes)


def test_the_spec_renders_and_reads_back(tmp_path: Path) -> None:
    env = environment(dist("six", "1.16.0"))
    index = SpecIndex(pytorch="file:///srv/none", find_links=(str(tmp_path),))
    spec = adopt_spec(env, "train", index).spec
    back = parse_spec_text(render_spec(spec, "torchenv adopt --prefix /env"), tmp_path / "t.toml")
    assert back.packages == spec.packages and back.torch == "==2.13.0" and back.cuda == "cpu"
    assert back.index == index and back.libraries == ()


def test_tooling_stays_when_something_requires_it() -> None:
    # torch 2.13 requires setuptools>=77.0.3 (its real METADATA)
    torch = dist("torch", "2.13.0", requires=("filelock", "setuptools>=77.0.3"))
    env = environment(dist("setuptools", "80.0.0"), dist("wheel", "0.45.0"), dist("filelock"))
    env = Environment(**{**env.__dict__, "distributions": (torch, *env.distributions[1:])})
    spec = adopt_spec(env, "x").spec
    assert spec.packages == ("filelock==1.0", "setuptools==80.0.0")


def test_a_marker_that_does_not_apply_leaves_tooling_out() -> None:
    torch = dist("torch", "2.13.0", requires=('setuptools ; python_version >= "3.12"',))
    env = environment(dist("setuptools", "80.0.0"))
    env = Environment(**{**env.__dict__, "distributions": (torch, *env.distributions[1:])})
    assert adopt_spec(env, "x").spec.packages == ()
    on_312 = Environment(
        **{**env.__dict__, "interpreter": Interpreter("/env/bin/python", "3.12.4", "cpython")}
    )
    assert adopt_spec(on_312, "x").spec.packages == ("setuptools==80.0.0",)


def test_a_cuda_build_leaves_its_cuda_wheels_to_torch(tmp_path: Path) -> None:
    def build(site: Path) -> None:
        add_torch(site)  # 2.14.1+cu130 with the real Requires-Dist
        add_cu130_libs(site)
        add_torchvision(site)
        add_dist(site, "nvidia-ml-py", "13.580.82")  # NVML bindings: the user's own
        add_dist(site, "numpy", "2.3.4")

    adoption = adopt_spec(probed(tmp_path, build), "gpu")
    spec = adoption.spec
    assert (spec.torch, spec.cuda, spec.libraries) == ("==2.14.1", "13.0", ("torchvision",))
    assert adoption.variant == "cu130" and adoption.torch == "2.14.1+cu130"
    assert spec.packages == ("numpy==2.3.4", "nvidia-ml-py==13.580.82")
    note = next(n for n in adoption.notes if "torch's own pins" in n)
    assert "left 16 CUDA package(s)" in note  # cuda-toolkit and the 15 nvidia-* it pulls in


def test_a_default_pypi_build_takes_its_cuda_from_version_py() -> None:
    env = environment(torch="2.14.1", cuda="13.0")
    adoption = adopt_spec(env, "x")
    assert (adoption.spec.cuda, adoption.variant, adoption.spec.torch) == (
        "13.0",
        "cu130",
        "==2.14.1",
    )


def test_a_build_that_does_not_tell_its_cuda_is_auto() -> None:
    adoption = adopt_spec(environment(torch="2.14.1"), "x")
    assert adoption.spec.cuda == "auto" and adoption.variant is None
    assert any('cuda = "auto"' in note for note in adoption.notes)


@pytest.mark.parametrize(
    ("version", "build", "expected"),
    [
        ("2.9.1+rocm6.4", {}, "the rocm6.4 build, which torchenv does not plan"),
        ("2.9.1", {"hip": "6.4.1"}, "a ROCm build"),
        ("2.9.1+xpu", {}, "the xpu build"),
    ],
)
def test_builds_torchenv_does_not_plan(version: str, build: dict[str, str], expected: str) -> None:
    adoption = adopt_spec(environment(torch=version, **build), "x")
    assert adoption.spec.cuda == "auto" and adoption.spec.torch == "==2.9.1"
    assert len(adoption.unpinned) == 1 and adoption.unpinned[0].startswith("torch: ")
    assert expected in adoption.unpinned[0]


def test_a_source_build_is_not_pinned() -> None:
    adoption = adopt_spec(environment(torch="2.14.0a0+git1a2b3c"), "x")
    assert adoption.spec.torch is None
    assert "not a release" in adoption.unpinned[0]


def test_free_threaded_python() -> None:
    env = environment()
    ft = Interpreter("/env/bin/python", "3.14.0", "cpython", gil_disabled=True)
    assert adopt_spec(Environment(**{**env.__dict__, "interpreter": ft}), "x").spec.python == (
        "3.14t"
    )


def test_an_unreadable_python_version_is_left_to_the_plan() -> None:
    env = environment(python="3.11.7\x1b[2J")
    ugly = Interpreter("/env/bin/python", "banana", None)
    adoption = adopt_spec(Environment(**{**env.__dict__, "interpreter": ugly}), "x")
    assert adoption.spec.python is None
    assert any("could not be read" in note for note in adoption.notes)


def test_what_cannot_be_pinned() -> None:
    origins = {
        "mylib": DirectOrigin("file:///home/me/mylib", "directory", editable=True),
        "fork": DirectOrigin("https://tok:SECRET@github.com/me/fork.git", "vcs", "git"),
        "local": DirectOrigin("file:///tmp/local-1.0-py3-none-any.whl", "archive"),
        "remote": DirectOrigin("https://example.com/remote-2.0.tar.gz", "archive"),
    }
    env = environment(
        dist("mylib", "0.1", direct_url="file:///home/me/mylib", editable=True),
        dist("fork", "1.0", direct_url="https://tok:SECRET@github.com/me/fork.git"),
        dist("local", "1.0", direct_url="file:///tmp/local-1.0-py3-none-any.whl"),
        dist("remote", "2.0", direct_url="https://example.com/remote-2.0.tar.gz"),
        dist("plain", "3.0", direct_url="file:///srv/plain"),  # no direct_url.json read
        dist("noversion", None, error="METADATA is missing"),
        dist("weird", "not a version"),
        dist("scatter", "2.1.2+pt25cu124"),
        dist("evil\nrun-1-0", "1.0"),
        dist("six", "1.16.0"),
    )
    adoption = adopt_spec(env, "x", origins=origins)
    assert adoption.spec.packages == ("six==1.16.0",)
    lines = dict(line.split(": ", 1) for line in adoption.unpinned)
    assert (
        lines["mylib"]
        == "an editable install of file:///home/me/mylib (a working copy, not a release)"
    )
    assert lines["fork"].startswith("installed from git https://github.com/me/fork.git")
    assert lines["local"] == "installed from the local file file:///tmp/local-1.0-py3-none-any.whl"
    assert lines["remote"].startswith("installed from the URL https://example.com/remote-2.0")
    assert lines["plain"] == "installed from the local file file:///srv/plain"
    assert lines["noversion"] == "its metadata has no version (METADATA is missing)"
    assert lines["weird"] == "version 'not a version' is not a PEP 440 version"
    assert "a local build (+pt25cu124)" in lines["scatter"]
    assert lines["evil\\nrun-1-0"] == "not a valid distribution name in its metadata"
    assert "SECRET" not in "".join(adoption.unpinned)


def test_hostile_metadata_never_reaches_the_spec(tmp_path: Path) -> None:
    def build(site: Path) -> None:
        add_torch(site, "2.13.0+cpu", cuda=None, arch=None)
        add_dist(site, "six", "1.16.0")
        add_dist(site, "evil", "1.0", metadata="Name: evil\x1b[2J\x1b]0;pwned\x07\nVersion: 1.0\n")
        add_dist(site, "ver", "1.0", metadata="Name: ver\nVersion: 1.0\x1b[31m\n")
        add_dist(site, "fold", "1.0", metadata="Name: fold\n --index-url http://x\nVersion: 1\n")

    adoption = adopt_spec(probed(tmp_path, build), "x")
    text = render_spec(adoption.spec)
    assert adoption.spec.packages == ("six==1.16.0",)
    assert "\x1b" not in text and "evil" not in text and "index-url" not in text
    assert len(adoption.unpinned) == 3
    assert all("\x1b" not in line and "\n" not in line for line in adoption.unpinned)


def test_the_first_distribution_on_sys_path_is_the_one_pinned() -> None:
    env = environment(dist("six", "1.16.0"), dist("six", "1.10.0"))
    assert adopt_spec(env, "x").spec.packages == ("six==1.16.0",)


def test_no_torch_is_refused() -> None:
    with pytest.raises(UsageError, match="no torch in /env"):
        adopt_spec(environment(dist("six"), torch=None), "x")


def test_a_conda_environment_whose_torch_came_from_conda() -> None:
    records = (
        CondaRecord("python", "3.11.9", "h_0_cpython", "conda-forge"),
        CondaRecord("pytorch", "2.5.1", "cpu_mkl_py311_h1234_100", "conda-forge"),
        CondaRecord("msgpack-python", "1.1.0", "py311_0", "conda-forge"),
        CondaRecord("openssl", "3.4.0", "h_0", "conda-forge"),
        CondaRecord("pip", "24.3.1", "pyh_0", "conda-forge"),
    )
    env = environment(
        dist("msgpack", "1.1.0", installer="conda"),
        dist("pip", "24.3.1", installer="conda"),
        dist("requests", "2.32.3", installer="pip"),
        torch="2.5.1",
        conda=Conda(records),
    )
    adoption = adopt_spec(env, "x")
    spec = adoption.spec
    assert spec.installer == "conda" and spec.cuda == "cpu" and spec.torch == "==2.5.1"
    assert spec.packages == ("msgpack-python==1.1.0",)
    assert adoption.unpinned == (
        "requests: installed by pip into a conda environment, and a conda spec pins conda "
        "packages only",
    )
    assert any("1 conda package(s) that are not Python" in note for note in adoption.notes)


def test_a_conda_environment_with_torch_from_pip() -> None:
    records = (
        CondaRecord("python", "3.11.9", "h_0_cpython", "conda-forge"),
        CondaRecord("openssl", "3.4.0", "h_0", "conda-forge"),
        CondaRecord("six", "1.16.0", "pyh_0", "conda-forge"),
    )
    env = environment(dist("six", "1.16.0", installer="conda"), conda=Conda(records))
    adoption = adopt_spec(env, "x")
    assert adoption.spec.installer == "uv" and adoption.spec.packages == ("six==1.16.0",)
    assert adoption.unpinned == (
        "openssl: a conda package (3.4.0), not a Python distribution, which a uv environment "
        "cannot hold",
    )


@pytest.mark.parametrize(
    ("prefix", "name"),
    [
        ("/srv/envs/train", "train"),
        ("/srv/.venv", "venv"),
        ("/srv/my env!", "my-env"),
        ("/", "adopted"),
    ],
)
def test_spec_name(prefix: str, name: str) -> None:
    assert spec_name(prefix) == name


def test_lock_differences() -> None:
    env = environment(dist("six", "1.16.0"), dist("torchvision", "0.28.0"), dist("idna", "3.10"))
    adoption = adopt_spec(env, "x")
    installed = {"torchvision": "0.28.0"}
    same = {"torch": "2.13.0+cpu", "six": "1.16.0", "torchvision": "0.28.0+cpu", "idna": "3.10"}
    assert lock_differences(adoption, installed, same) == []
    changed = {**same, "torchvision": "0.29.1+cpu", "six": "1.17.0"}
    del changed["idna"]
    assert lock_differences(adoption, installed, changed) == [
        "idna 3.10 is installed, but the lock has no idna",
        "six: 1.16.0 is installed, the lock has 1.17.0",
        "torchvision: 0.28.0 is installed, the lock has 0.29.1+cpu",
    ]
    # a default build without a label is the same release as the lock's +cu130 of it
    cuda = adopt_spec(environment(torch="2.14.1", cuda="13.0"), "x")
    assert lock_differences(cuda, {}, {"torch": "2.14.1+cu130"}) == []
    assert lock_differences(cuda, {}, {"torch": "2.14.0+cu130"}) == [
        "torch: 2.14.1 is installed, the lock has 2.14.0+cu130"
    ]
