from __future__ import annotations

from pathlib import Path

import pytest

from builders import FakeRunner, fake_tool, probe_context, write_ld_cache
from torchenv.probe.host import detect_container, parse_os_release, probe_host
from torchenv.probe.ldcache import parse_ld_cache, probe_loader_libraries
from torchenv.probe.toolkit import (
    parse_nvcc_version,
    parse_version_json,
    probe_compilers,
    probe_toolkits,
)


def test_os_release() -> None:
    assert (
        parse_os_release('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n')
        == "Ubuntu 24.04.1 LTS"
    )
    assert parse_os_release("NAME=Alpine\nVERSION_ID=3.20\n") == "Alpine 3.20"


@pytest.mark.parametrize(
    ("env", "dockerenv", "containerenv", "cgroup", "expected"),
    [
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, True, False, None, "kubernetes"),
        ({}, False, True, None, "podman"),
        ({}, True, False, "0::/", "docker"),
        ({}, False, False, "12:pids:/kubepods/burstable/pod1/abc", "kubernetes"),
        ({}, False, False, "0::/system.slice/docker-3f2a.scope", "docker"),
        ({}, False, False, "0::/init.scope", None),
    ],
)
def test_detect_container(
    env: dict[str, str],
    dockerenv: bool,
    containerenv: bool,
    cgroup: str | None,
    expected: str | None,
) -> None:
    assert detect_container(env, dockerenv, containerenv, cgroup) == expected


def test_probe_host_reads_the_fake_root(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.write("/etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    host.write("/.dockerenv", "")
    host.write("/proc/version", "Linux version 5.15.167.4-microsoft-standard-WSL2\n")
    (tmp_path / "root/dev/shm").mkdir(parents=True)
    facts = probe_host(ctx)
    assert facts.os_release == "Debian GNU/Linux 12 (bookworm)"
    assert facts.container == "docker" and facts.wsl is True
    assert facts.shm_bytes and facts.shm_bytes > 0 and facts.shm_writable is True


def test_missing_shm_is_a_note(tmp_path: Path) -> None:
    ctx, _ = probe_context(tmp_path)
    facts = probe_host(ctx)
    assert facts.shm_bytes is None
    assert facts.notes[0].source == "/dev/shm"


def test_ld_cache_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ld.so.cache"
    write_ld_cache(
        path,
        [
            ("libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1"),
            ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
        ],
    )
    assert parse_ld_cache(path.read_bytes()) == {
        "libcuda.so.1": ["/usr/lib/x86_64-linux-gnu/libcuda.so.1"],
        "libz.so.1": ["/lib/x86_64-linux-gnu/libz.so.1"],
    }


def test_ld_cache_garbage_raises() -> None:
    with pytest.raises(ValueError):
        parse_ld_cache(b"not a cache at all")
    with pytest.raises(ValueError, match="truncated"):
        parse_ld_cache(b"glibc-ld.so.cache1.1" + b"\xff\xff\x00\x00" + b"\0" * 30)


def test_loader_libraries_resolve_versions_and_shadowing(tmp_path: Path) -> None:
    lib_dir = tmp_path / "cuda/lib64"
    lib_dir.mkdir(parents=True)
    (lib_dir / "libcublasLt.so.12.4.5.8").write_bytes(b"x")
    (lib_dir / "libcublasLt.so.12").symlink_to("libcublasLt.so.12.4.5.8")
    (lib_dir / "libz.so.1").write_bytes(b"x")
    ctx, host = probe_context(tmp_path, env={"LD_LIBRARY_PATH": f"{lib_dir}::/missing"})
    real = host.write("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.570.124.06", b"x")
    (real.parent / "libnvidia-ml.so.1").symlink_to(real.name)
    write_ld_cache(
        tmp_path / "root/etc/ld.so.cache",
        [("libnvidia-ml.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1")],
    )
    libs = probe_loader_libraries(ctx)
    assert libs.libnvidia_ml == (str(real),)
    assert libs.ld_library_path == (str(lib_dir), "/missing")
    assert set(libs.shadowing) == {"libcublasLt.so.12"}


def test_where_the_first_libcuda_comes_from(tmp_path: Path) -> None:
    # nvidia/cuda images: LD_LIBRARY_PATH=/usr/local/cuda/compat, /usr/local/cuda -> cuda-12.8
    real_dir = tmp_path / "cuda-12.8/compat"
    real_dir.mkdir(parents=True)
    (real_dir / "libcuda.so.570.124.06").write_bytes(b"x")
    (real_dir / "libcuda.so.1").symlink_to("libcuda.so.570.124.06")
    (tmp_path / "cuda").symlink_to(tmp_path / "cuda-12.8")
    entry = f"{tmp_path}/cuda/compat/"
    ctx, host = probe_context(tmp_path, env={"LD_LIBRARY_PATH": f"/missing:{entry}"})
    real = host.write("/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05", b"x")
    (real.parent / "libcuda.so.1").symlink_to(real.name)
    write_ld_cache(
        tmp_path / "root/etc/ld.so.cache",
        [("libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1")],
    )
    libs = probe_loader_libraries(ctx)
    assert libs.libcuda == (str(real_dir / "libcuda.so.570.124.06"), str(real))
    assert libs.libcuda_from == entry  # as written: what the user has to remove
    ctx, _ = probe_context(tmp_path)
    assert probe_loader_libraries(ctx).libcuda_from == "/etc/ld.so.cache"


def test_corrupt_ld_cache_is_a_note(tmp_path: Path) -> None:
    ctx, host = probe_context(tmp_path)
    host.write("/etc/ld.so.cache", b"\x00" * 10)
    libs = probe_loader_libraries(ctx)
    assert libs.libcuda == () and "unreadable" in libs.notes[0].message


NVCC_12_5 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Jun__6_02:18:23_PDT_2024
Cuda compilation tools, release 12.5, V12.5.82
Build cuda_12.5.r12.5/compiler.34385749_0
"""  # feuyeux/hello-ai toolkit/cuda.version.md

NVCC_10_1 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2019 NVIDIA Corporation
Built on Sun_Jul_28_19:07:16_PDT_2019
Cuda compilation tools, release 10.1, V10.1.243
"""  # k2-fsa/k2 PR 584


def test_parse_nvcc() -> None:
    assert parse_nvcc_version(NVCC_12_5) == "12.5.82"
    assert parse_nvcc_version(NVCC_10_1) == "10.1.243"
    assert parse_nvcc_version("garbage") is None


def test_parse_version_json_both_formats() -> None:
    assert parse_version_json('{"cuda": {"name": "CUDA SDK", "version": "13.0.2"}}') == "13.0.2"
    assert parse_version_json('{"cuda": {"version": "11.6.20220110"}}') == "11.6"  # spack#29155


def test_toolkits_from_cuda_home_and_path(tmp_path: Path) -> None:
    home = tmp_path / "cuda-12.6"
    (home / "bin").mkdir(parents=True)
    (home / "version.json").write_text('{"cuda": {"version": "12.6.20241114"}}')
    nvcc = home / "bin/nvcc"
    nvcc.write_text("#!/bin/sh\n")
    nvcc.chmod(0o755)
    runner = FakeRunner()
    runner.on_program("nvcc", NVCC_12_5)
    ctx, _ = probe_context(tmp_path, runner, env={"CUDA_HOME": str(home)})
    fake_tool(tmp_path, "nvcc")  # a different nvcc on PATH
    kits = probe_toolkits(ctx)
    assert [(k.found_by, k.version) for k in kits] == [
        ("CUDA_HOME", "12.6"),
        ("nvcc on PATH", "12.5.82"),
    ]
    assert len(runner.calls) == 1  # the CUDA_HOME toolkit was read from version.json


def test_compilers(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on_program("g++", "12.2.0\n")
    ctx, _ = probe_context(tmp_path, runner)
    assert probe_compilers(ctx).cc is None
    fake_tool(tmp_path, "gcc")
    fake_tool(tmp_path, "g++")
    compilers = probe_compilers(ctx)
    assert compilers.cc and compilers.cc.endswith("/gcc")
    assert compilers.cxx_version == "12.2.0"
