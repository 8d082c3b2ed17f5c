from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import (
    ARCH_CU130,
    FakeRunner,
    add_dist,
    add_torch,
    conda_record,
    fixture_text,
    libtorch_python_bytes,
    make_venv,
    probe_context,
    write_kernel,
)
from torchenv.errors import UsageError
from torchenv.probe.cache import Cache
from torchenv.probe.conda import channel_from_record, parse_channel_file, read_conda_meta
from torchenv.probe.distributions import (
    find_file_conflicts,
    parse_metadata_headers,
    read_distribution,
    scan_site_dirs,
)
from torchenv.probe.environment import probe_environment
from torchenv.probe.interpreter import extract_payload, interpreter_from_files, query_interpreter
from torchenv.probe.jupyter import argv0_in_prefix, probe_kernels
from torchenv.probe.runner import RunResult
from torchenv.probe.target import choose_target
from torchenv.probe.torch_build import (
    cached_scan,
    parse_version_py,
    probe_domain_library,
    scan_library,
)


# --------------------------------------------------------------------------- distributions
def test_real_torch_metadata_headers() -> None:
    headers = parse_metadata_headers(fixture_text("metadata", "torch-2.14.1.METADATA"))
    assert headers["version"] == ["2.14.1"]
    assert any(r.startswith("nvidia-nccl-cu13==2.30.7") for r in headers["requires-dist"])


def test_metadata_continuation_lines() -> None:
    headers = parse_metadata_headers(
        "Name: x\nSummary: one\n  two\nVersion: 1\n\nbody: not a header\n"
    )
    assert headers["summary"] == ["one two"] and headers["version"] == ["1"]


def test_garbage_metadata_is_an_error_not_an_exception(tmp_path: Path) -> None:
    add_dist(tmp_path, "weird-pkg", "1.0", metadata="\x00\x01\x02 binary junk\nno colon here\n")
    dist = read_distribution(str(tmp_path), "weird_pkg-1.0.dist-info")
    assert dist.name == "weird-pkg" and dist.version == "1.0"  # from the directory name
    assert dist.error and "malformed" in dist.error


def test_unreadable_metadata(tmp_path: Path) -> None:
    dist_dir = add_dist(tmp_path, "pkg", "2.0")
    (dist_dir / "METADATA").unlink()
    (dist_dir / "METADATA").mkdir()  # reading a directory fails even as root
    dist = read_distribution(str(tmp_path), dist_dir.name)
    assert dist.error == "METADATA is unreadable: it is a directory, not a regular file"
    assert dist.version == "2.0"
    (dist_dir / "METADATA").rmdir()
    assert read_distribution(str(tmp_path), dist_dir.name).error == "METADATA is missing"


def test_origin_evidence(tmp_path: Path) -> None:
    dist_dir = add_dist(tmp_path, "mylib", "0.1", installer="uv")
    (dist_dir / "direct_url.json").write_text(
        json.dumps({"url": "file:///src/mylib", "dir_info": {"editable": True}})
    )
    dist = read_distribution(str(tmp_path), dist_dir.name)
    assert (dist.installer, dist.requested, dist.editable) == ("uv", True, True)
    assert dist.direct_url == "file:///src/mylib"


def test_egg_info_and_missing_site_dirs(tmp_path: Path) -> None:
    (tmp_path / "old_pkg-0.9-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: old-pkg\nVersion: 0.9\n"
    )
    dists = scan_site_dirs([str(tmp_path), str(tmp_path / "missing")])
    assert [(d.name, d.version) for d in dists] == [("old-pkg", "0.9")]


def test_identical_files_are_not_conflicts(tmp_path: Path) -> None:
    add_dist(tmp_path, "nvidia-cublas-cu12", "12.8", files={"nvidia/__init__.py": ""})
    add_dist(tmp_path, "nvidia-cudnn-cu12", "9.10", files={"nvidia/__init__.py": ""})
    add_dist(tmp_path, "nvidia-nccl-cu12", "2.27", files={"nvidia/nccl/lib/libnccl.so.2": b"a"})
    add_dist(tmp_path, "nvidia-nccl-cu13", "2.30", files={"nvidia/nccl/lib/libnccl.so.2": b"b"})
    conflicts = find_file_conflicts(scan_site_dirs([str(tmp_path)]))
    assert [(c.path, c.owners) for c in conflicts] == [
        ("nvidia/nccl/lib/libnccl.so.2", ("nvidia-nccl-cu12", "nvidia-nccl-cu13"))
    ]


# --------------------------------------------------------------------------- conda
def test_conda_records_and_corrupt_json(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path, cache=True)
    conda_record(tmp_path, "pytorch", "2.5.1", "py3.11_cuda12.4_cudnn9.1.0_0", "pytorch")
    (tmp_path / "conda-meta/numpy-1.26.4-py311h0_0.json").write_text("{ truncated")
    (tmp_path / "conda-meta/history").write_text("==> 2024 <==\n")
    for _ in range(2):  # the second read comes from the cache
        conda = read_conda_meta(ctx, tmp_path)
        assert conda is not None
        assert [(r.name, r.version, r.channel) for r in conda.records] == [
            ("numpy", "1.26.4", None),  # from the file name
            ("pytorch", "2.5.1", "pytorch"),
        ]
        assert "unreadable conda record" in conda.notes[0].message


def test_not_a_conda_prefix(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    assert read_conda_meta(ctx, tmp_path) is None


def test_channel_from_record() -> None:
    assert (
        channel_from_record({"channel": "https://conda.anaconda.org/conda-forge/linux-64"})
        == "conda-forge"
    )
    assert channel_from_record({"channel": "pypi"}) == "pypi"
    assert (
        channel_from_record({"url": "https://conda.anaconda.org/pytorch/linux-64/x.conda"})
        == "pytorch"
    )
    assert channel_from_record({}) is None


def test_channel_file() -> None:
    channels, pins = parse_channel_file(
        "channels: [pytorch, nvidia, conda-forge]\ndependencies:\n  - pytorch::pytorch=2.6\n"
        "  - pytorch-cuda=12.1\n  - numpy\n  - pip:\n    - requests\n"
    )
    assert channels == ("pytorch", "nvidia", "conda-forge")
    assert pins == ("pytorch::pytorch=2.6", "pytorch-cuda=12.1")


# --------------------------------------------------------------------------- torch build
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("torch-2.14.1+cu130.py", {"__version__": "2.14.1+cu130", "cuda": "13.0", "hip": None}),
        ("torch-2.13.0+cpu.py", {"__version__": "2.13.0+cpu", "cuda": None}),
        ("torch-2.1.2+cu121.py", {"__version__": "2.1.2+cu121", "cuda": "12.1"}),
        ("torchvision-0.28.0+cu130.py", {"__version__": "0.28.0+cu130"}),
    ],
)
def test_version_py_formats(name: str, expected: dict[str, object]) -> None:
    values = parse_version_py(fixture_text("versionpy", name))
    assert {k: values.get(k) for k in expected} == expected


def test_scan_library_and_cache(tmp_path: Path) -> None:
    lib = tmp_path / "libtorch_python.so"
    lib.write_bytes(libtorch_python_bytes(ARCH_CU130 + " compute_120", "numpy1"))
    assert scan_library(lib) == ((*ARCH_CU130.split(), "compute_120"), "numpy1")
    ctx, _ = probe_context(tmp_path, cache=True)
    assert cached_scan(ctx, lib)[1] == "numpy1"
    assert ctx.cache.get("torch-library", str(lib), "stale") is None
    lib.write_bytes(libtorch_python_bytes(None, None))  # rewritten: the stamp changes
    assert cached_scan(ctx, lib) == ((), None)


def test_torch_with_broken_version_py(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site, version_py="__version__ = (")
    runner = FakeRunner()
    runner.on_interpreter(env)
    ctx, _ = probe_context(tmp_path, runner)
    torch = probe_environment(ctx, None, str(env.prefix)).torch
    assert torch is not None and torch.version == "2.14.1"  # from the dist-info
    assert any("unreadable" in n.message for n in torch.notes)


def test_domain_library_requirement(tmp_path: Path) -> None:
    add_dist(
        tmp_path,
        "torchvision",
        "0.29.1",
        metadata=fixture_text("metadata", "torchvision-0.29.1.METADATA"),
        files={
            "torchvision/__init__.py": "",
            "torchvision/version.py": "__version__ = '0.29.1+cu130'\n",
        },
    )
    dists = scan_site_dirs([str(tmp_path)])
    lib = probe_domain_library("torchvision", [str(tmp_path)], dists)
    assert lib is not None
    assert (lib.version, lib.local, lib.requires_torch) == ("0.29.1+cu130", "cu130", ">=2.14.0")


# --------------------------------------------------------------------------- interpreter
def test_payload_between_cookies() -> None:
    assert extract_payload('junk\nCOOKIE\n{"a": 1}\nCOOKIE\n', "COOKIE") == {"a": 1}
    with pytest.raises(ValueError, match="no result"):
        extract_payload("Traceback ...", "COOKIE")


def test_interpreter_answer_is_cached_until_a_site_dir_changes(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    runner = FakeRunner()
    runner.on_interpreter(env)
    ctx, _ = probe_context(tmp_path, runner, cache=True)
    first = query_interpreter(ctx, env.python)
    assert first.runs and first.version == "3.11.7"
    assert query_interpreter(ctx, env.python) == first
    assert len(runner.calls) == 1
    (env.site / "new.pth").write_text("/somewhere\n")  # changes sys.path: ask again
    query_interpreter(ctx, env.python)
    assert len(runner.calls) == 2


def test_interpreter_that_crashes(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    runner = FakeRunner()
    runner.on(
        lambda a: True,
        lambda a: RunResult(
            tuple(a), 127, "", "error while loading shared libraries: libpython3.11.so.1.0"
        ),
    )
    ctx, _ = probe_context(tmp_path, runner)
    interp = query_interpreter(ctx, env.python)
    assert not interp.runs and "libpython3.11.so.1.0" in interp.notes[0].message


def test_interpreter_from_files(tmp_path: Path) -> None:
    env = make_venv(tmp_path, python_version="3.12.4")
    (env.prefix / "pyvenv.cfg").write_text("home = /x\nversion_info = 3.12.4.final.0\n")
    (env.prefix / "lib/python3.12/site-packages").mkdir(parents=True)
    interp = interpreter_from_files(env.prefix, env.python, "does not run")
    assert interp.version == "3.12.4" and interp.source == "files"
    assert interp.sys_path == (str(env.prefix / "lib/python3.12/site-packages"),)


# --------------------------------------------------------------------------- target
def test_target_order(tmp_path: Path) -> None:
    venv = make_venv(tmp_path, "venv")
    conda = make_venv(tmp_path, "conda")
    ctx, _ = probe_context(
        tmp_path, env={"VIRTUAL_ENV": str(venv.prefix), "CONDA_PREFIX": str(conda.prefix)}
    )
    choice = choose_target(ctx, None, None)
    assert (choice.prefix, choice.selected_by) == (venv.prefix, "$VIRTUAL_ENV")
    ctx, _ = probe_context(tmp_path, env={"CONDA_PREFIX": str(conda.prefix)})
    assert choose_target(ctx, None, None).selected_by == "$CONDA_PREFIX"
    ctx, _ = probe_context(tmp_path)
    (tmp_path / "bin/python3").write_text("")
    (tmp_path / "bin/python3").chmod(0o755)
    assert choose_target(ctx, None, None).selected_by == "python3 on PATH"


@pytest.mark.parametrize(
    ("python", "prefix", "reference"),
    [
        (None, "/does/not/exist", "prefix-not-found"),
        ("/no/such/python", None, "python-not-found"),
        ("x", "y", "conflicting-target"),
    ],
)
def test_target_errors(
    tmp_path: Path, python: str | None, prefix: str | None, reference: str
) -> None:
    ctx, _ = probe_context(tmp_path)
    with pytest.raises(UsageError) as info:
        choose_target(ctx, python, prefix)
    assert info.value.reference == reference and info.value.hint


def test_prefix_that_is_a_file(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        choose_target(ctx, None, str(tmp_path / "file"))


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(0o755)
    return path


def test_torchenvs_own_venv_on_path_is_passed_over(tmp_path: Path) -> None:
    """torchenv in a venv of its own, that venv's bin first on PATH, nothing activated: the
    next python3 on PATH is the target, and the choice says what it passed over."""
    own = make_venv(tmp_path, "torchenv-venv")
    executable(own.prefix / "bin/python3")
    other = executable(tmp_path / "usr/bin/python3")
    path = f"{own.prefix / 'bin'}:{other.parent}"
    ctx, _ = probe_context(tmp_path, env={"PATH": path})
    ctx.own_prefix = own.prefix
    choice = choose_target(ctx, None, None)
    assert choice.python == str(other)
    assert choice.selected_by == (
        f"python3 on PATH, passing over torchenv's own environment {own.prefix}"
    )
    # activated or named, it is the user's choice
    ctx.env = {"PATH": path, "VIRTUAL_ENV": str(own.prefix)}
    assert choose_target(ctx, None, None).selected_by == "$VIRTUAL_ENV"
    assert choose_target(ctx, None, str(own.prefix)).prefix == own.prefix
    assert choose_target(ctx, str(own.prefix / "bin/python3"), None).selected_by == "--python"


def test_torchenv_installed_beside_torch_looks_at_that_environment(tmp_path: Path) -> None:
    """`pip install torchenv` into the training venv: that venv, with torch, is the target."""
    own = make_venv(tmp_path, "train")
    add_torch(own.site, "2.13.0+cpu", cuda=None, arch=None)
    executable(own.prefix / "bin/python3")
    other = executable(tmp_path / "usr/bin/python3")
    path = f"{own.prefix / 'bin'}:{other.parent}"
    ctx, _ = probe_context(tmp_path, env={"PATH": path, "VIRTUAL_ENV": str(own.prefix)})
    ctx.own_prefix = own.prefix
    assert choose_target(ctx, None, None).selected_by == "$VIRTUAL_ENV"
    ctx.env = {"PATH": path}
    assert choose_target(ctx, None, None).python == str(own.prefix / "bin/python3")


def test_a_system_interpreter_is_never_passed_over(tmp_path: Path) -> None:
    """torchenv installed into a system Python (an NGC container's /usr, torch in dist-packages):
    for_host sets no own prefix there, so /usr/bin/python3 is the target."""
    usr = tmp_path / "usr"
    python = executable(usr / "bin/python3")
    (usr / "lib/python3/dist-packages/torch").mkdir(parents=True)
    ctx, _ = probe_context(tmp_path, env={"PATH": str(usr / "bin")})
    assert ctx.own_prefix is None  # what the tests' context and a system torchenv both have
    assert choose_target(ctx, None, None).python == str(python)


def test_a_windows_conda_prefix_keeps_python_at_its_root(tmp_path: Path) -> None:
    own = tmp_path / "miniforge"
    executable(own / "python")
    other = executable(tmp_path / "usr/bin/python")
    ctx, _ = probe_context(tmp_path, env={"PATH": f"{own}:{other.parent}"})
    ctx.own_prefix = own
    choice = choose_target(ctx, None, None)
    assert choice.python == str(other) and str(own) in choice.selected_by


def test_a_relative_path_entry_gives_an_absolute_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(tmp_path / "rel/bin/python3")
    ctx, _ = probe_context(tmp_path, env={"PATH": "rel/bin"})
    monkeypatch.chdir(tmp_path)
    assert choose_target(ctx, None, None).python == str(tmp_path / "rel/bin/python3")


def test_torchenvs_own_venv_spelled_another_way_is_still_its_own(tmp_path: Path) -> None:
    own = make_venv(tmp_path, "own")
    executable(own.prefix / "bin/python3")
    (tmp_path / "link").symlink_to(own.prefix)
    ctx, _ = probe_context(tmp_path, env={"PATH": str(tmp_path / "link/bin")})
    ctx.own_prefix = own.prefix
    with pytest.raises(UsageError) as info:
        choose_target(ctx, None, None)
    assert info.value.reference == "only-own-environment"
    assert "torchenv's own" in info.value.message and "--prefix DIR" in (info.value.hint or "")


def test_no_python_anywhere(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    with pytest.raises(UsageError, match="No active environment"):
        choose_target(ctx, None, None)


# --------------------------------------------------------------------------- jupyter
def test_kernels(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    write_kernel(env.prefix / "share/jupyter/kernels", "mine", str(env.prefix / "bin/python"))
    write_kernel(tmp_path / "home/.local/share/jupyter/kernels", "bare", "python3")
    spec = tmp_path / "home/.local/share/jupyter/kernels/ir/kernel.json"
    spec.parent.mkdir()
    spec.write_text(json.dumps({"argv": ["R"], "language": "R"}))
    broken = tmp_path / "home/.local/share/jupyter/kernels/broken/kernel.json"
    broken.parent.mkdir()
    broken.write_text("{not json")
    ctx, _ = probe_context(tmp_path)
    specs = {s.name: s for s in probe_kernels(ctx, env.prefix)}
    assert set(specs) == {"mine", "bare", "broken"}  # the R kernel is not a Python kernel
    assert specs["mine"].in_environment is True and specs["mine"].scope == "env"
    assert specs["bare"].in_environment is None
    assert specs["broken"].error and "unreadable" in specs["broken"].error


def test_venv_python_symlink_is_not_followed(tmp_path: Path) -> None:
    assert argv0_in_prefix(str(tmp_path / "env/bin/python"), tmp_path / "env") is True
    assert argv0_in_prefix("/usr/bin/python3", tmp_path / "env") is False


def test_cache_survives_garbage(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put("ns", "key", "stamp", {"v": 1})
    assert cache.get("ns", "key", "stamp") == {"v": 1}
    assert cache.get("ns", "key", "other") is None
    for entry in (tmp_path / "v1/ns").iterdir():
        entry.write_text("{broken")
    assert cache.get("ns", "key", "stamp") is None
    Cache(tmp_path / "file-not-dir").put("ns", "k", "s", 1)  # unwritable: silently off
    (tmp_path / "blocker").write_text("")
    Cache(tmp_path / "blocker").put("ns", "k", "s", 1)


def test_file_conflicts_are_cached_until_a_record_changes(tmp_path: Path) -> None:
    from torchenv.probe.distributions import cached_file_conflicts

    site = tmp_path / "site"
    add_dist(site, "a", "1", files={"x.so": b"1"})
    b = add_dist(site, "b", "1", files={"x.so": b"2"})
    ctx, _ = probe_context(tmp_path, cache=True)
    first = cached_file_conflicts(ctx, scan_site_dirs([str(site)]))
    assert [c.owners for c in first] == [("a", "b")]
    assert cached_file_conflicts(ctx, scan_site_dirs([str(site)])) == first
    (b / "RECORD").write_text("")  # b no longer claims the file
    assert cached_file_conflicts(ctx, scan_site_dirs([str(site)])) == []


def test_lib64_symlink_does_not_double_the_packages(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    add_torch(env.site, "2.13.0+cpu", cuda=None, arch=None)
    (env.prefix / "lib64").symlink_to("lib")
    ctx, _ = probe_context(tmp_path)  # no interpreter: read from files (lib and lib64)
    e = probe_environment(ctx, None, str(env.prefix))
    assert [d.name for d in e.distributions] == ["torch"]
    assert e.torch is not None and len(e.torch.copies) == 1


def test_unindented_continuation_is_tolerated() -> None:
    text = (
        "Metadata-Version: 1.1\nName: old\nVersion: 1.0\nLicense: BSD\nCopyright (c) 2009 someone\n"
    )
    headers = parse_metadata_headers(text)
    assert headers["version"] == ["1.0"] and headers["license"] == [
        "BSD Copyright (c) 2009 someone"
    ]


def test_more_bad_input_never_raises(tmp_path: Path) -> None:
    from torchenv.probe.conda import parse_channel_file
    from torchenv.probe.ldcache import parse_ld_cache
    from torchenv.report.rules.conda import pin_wants_newer

    assert parse_channel_file("channels: conda-forge\ndependencies: pytorch\n") == (
        ("conda-forge",),
        (),
    )
    assert pin_wants_newer("pytorch=", "2.5.1") is False
    assert pin_wants_newer("pytorch =", "2.5.1") is False
    with pytest.raises(ValueError):
        parse_ld_cache(b"glibc-ld.so.cache1.1\x01\x00")
    home = tmp_path / "cuda"
    (home / "bin").mkdir(parents=True)
    (home / "version.txt").write_bytes(b"CUDA Version \xff\xfe 10.2.89")
    runner = FakeRunner()
    ctx, _ = probe_context(tmp_path, runner, env={"CUDA_HOME": str(home)})
    from torchenv.probe.toolkit import probe_toolkits

    assert probe_toolkits(ctx)[0].root == str(home)


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "soon"])
def test_bad_tool_timeout_is_a_usage_error(value: str) -> None:
    from torchenv.probe.context import parse_timeout

    with pytest.raises(UsageError, match="TORCHENV_TOOL_TIMEOUT"):
        parse_timeout(value, "TORCHENV_TOOL_TIMEOUT")
    assert parse_timeout("2.5", "X") == 2.5
