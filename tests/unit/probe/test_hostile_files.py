"""Files torchenv reads but does not own, replaced by what would hang or exhaust a plain read: a
FIFO (an open for reading waits for a writer forever), a symbolic link to /dev/zero (never
ends) and a 16 GiB sparse file. Every probe must finish and say what it could not read.

Each probe runs in a thread that the test waits 20 s for: a probe that blocks fails the test
instead of hanging the run (pytest-timeout is not installed).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from builders import (
    FakeRunner,
    add_dist,
    add_torch,
    add_torchvision,
    conda_record,
    make_venv,
    probe_context,
    write_kernel,
    write_ld_cache,
)
from torchenv.probe.cache import Cache
from torchenv.probe.conda import read_conda_meta
from torchenv.probe.distributions import find_file_conflicts, scan_site_dirs
from torchenv.probe.host import probe_host
from torchenv.probe.interpreter import interpreter_from_files, query_interpreter
from torchenv.probe.jupyter import probe_kernels
from torchenv.probe.jupyter_servers import listening_sockets, probe_jupyter_servers
from torchenv.probe.ldcache import probe_loader_libraries
from torchenv.probe.numpy_abi import numpy1_modules
from torchenv.probe.nvidia import (
    probe_driver_and_gpus,
    probe_pci_device_ids,
    probe_pci_nvidia,
)
from torchenv.probe.runner import RunResult
from torchenv.probe.toolkit import probe_toolkits
from torchenv.probe.torch_build import probe_domain_library, probe_torch

T = TypeVar("T")
KINDS = ("fifo", "dev-zero", "huge-sparse")
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError on this


def plant(path: Path, kind: str) -> Path:
    """Put a hostile file of ``kind`` at ``path``, in place of whatever was there."""
    if path.is_symlink() or path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b"")
        os.truncate(path, 16 << 30)  # sparse: no disk space used
    return path


def finishes(call: Callable[[], T]) -> T:
    """``call()``, run in a thread that must finish within a generous bound (else it hung)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001  (re-raised in the test)
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the probe hung on a hostile file"
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --------------------------------------------------------------------------- environment metadata
def test_dist_info_files(tmp_path: Path, kind: str) -> None:
    site = tmp_path / "site"
    metadata = add_dist(site, "meta-pkg", "1.0")
    installer = add_dist(site, "installer-pkg", "2.0", installer="uv")
    direct = add_dist(site, "direct-pkg", "3.0")
    plant(metadata / "METADATA", kind)
    plant(installer / "INSTALLER", kind)
    plant(direct / "direct_url.json", kind)
    dists = {d.name: d for d in finishes(lambda: scan_site_dirs([str(site)]))}
    # the directory name still gives name and version
    assert dists["meta-pkg"].version == "1.0" and dists["meta-pkg"].error
    if kind == "huge-sparse":  # a regular file: its first 256 kB (zeros) are not headers
        assert "METADATA is malformed" in dists["meta-pkg"].error
    else:
        assert dists["meta-pkg"].error.startswith("METADATA is unreadable: it is a ")
    assert dists["installer-pkg"].installer is None and dists["installer-pkg"].error is None
    assert dists["direct-pkg"].direct_url is None and dists["direct-pkg"].error is None


def test_record_files(tmp_path: Path, kind: str) -> None:
    site = tmp_path / "site"
    add_dist(site, "numpy", "2.1.0")
    one = add_dist(site, "one", "1.0", requires=["numpy"], files={"shared/x.py": "a"})
    add_dist(site, "two", "1.0", files={"shared/x.py": "b"})
    plant(one / "RECORD", kind)
    dists = scan_site_dirs([str(site)])
    ctx, _ = probe_context(tmp_path)
    assert finishes(lambda: find_file_conflicts(dists)) == []  # one's RECORD is unreadable
    assert finishes(lambda: numpy1_modules(ctx, dists)) == ()


def test_extension_module_scanned_for_the_numpy_abi(tmp_path: Path, kind: str) -> None:
    site = tmp_path / "site"
    add_dist(site, "numpy", "2.1.0")
    add_dist(site, "ext", "1.0", requires=["numpy>=1.20"], files={"ext/_a.so": b"\x7fELF"})
    plant(site / "ext/_a.so", kind)
    ctx, _ = probe_context(tmp_path, cache=True)
    assert finishes(lambda: numpy1_modules(ctx, scan_site_dirs([str(site)]))) == ()


@pytest.mark.parametrize("victim", ["torch/version.py", "torch/lib/libtorch_python.so"])
def test_torch_files(tmp_path: Path, kind: str, victim: str) -> None:
    site = tmp_path / "site"
    add_torch(site)
    plant(site / victim, kind)
    ctx, _ = probe_context(tmp_path)
    dists = scan_site_dirs([str(site)])
    torch = finishes(lambda: probe_torch(ctx, [str(site)], dists))
    assert torch is not None and torch.version  # the dist-info version when version.py fails
    message = next(n.message for n in torch.notes if n.source == str(site / victim))
    if victim.endswith(".py"):
        assert message.startswith("unreadable: it is ")
    else:
        assert message.startswith("could not scan: it is ") and torch.arch_list == ()


def test_domain_library_version_py(tmp_path: Path, kind: str) -> None:
    site = tmp_path / "site"
    add_torchvision(site)
    plant(site / "torchvision/version.py", kind)
    dists = scan_site_dirs([str(site)])
    lib = finishes(lambda: probe_domain_library("torchvision", [str(site)], dists))
    assert lib is not None and lib.version == "0.29.1"  # from the dist-info
    assert lib.notes[0].message.startswith("unreadable: it is ")


def test_torch_version_py_nested_too_deeply(tmp_path: Path) -> None:
    site = tmp_path / "site"
    add_torch(site, version_py="x = " + "-" * 200_000 + "1\n")
    ctx, _ = probe_context(tmp_path)
    torch = probe_torch(ctx, [str(site)], scan_site_dirs([str(site)]))
    assert torch is not None and torch.version == "2.14.1"
    assert any(n.message.startswith("unreadable: MemoryError") for n in torch.notes)


def test_conda_meta_and_channel_files(tmp_path: Path, kind: str) -> None:
    conda_record(tmp_path, "python", "3.11.7", "h955ad1f_0", "conda-forge")
    plant(conda_record(tmp_path, "pytorch", "2.5.1", "py3.11_0", "pytorch"), kind)
    plant(tmp_path / ".condarc", kind)
    ctx, _ = probe_context(tmp_path)
    conda = finishes(lambda: read_conda_meta(ctx, tmp_path))
    assert conda is not None and conda.channel_files == ()
    assert [(r.name, r.channel) for r in conda.records] == [
        ("python", "conda-forge"),
        ("pytorch", None),  # from the file name
    ]
    assert conda.notes[0].message.startswith("unreadable conda record: it is ")


def test_conda_record_nested_too_deeply(tmp_path: Path) -> None:
    (tmp_path / "conda-meta").mkdir()
    (tmp_path / "conda-meta/numpy-2.1.0-py311_0.json").write_text(DEEP)
    ctx, _ = probe_context(tmp_path)
    conda = read_conda_meta(ctx, tmp_path)
    assert conda is not None and conda.records[0].name == "numpy"
    assert "nested too deeply" in conda.notes[0].message


def test_pyvenv_cfg(tmp_path: Path, kind: str) -> None:
    env = make_venv(tmp_path, python_version="3.12.1")
    (env.prefix / "lib/python3.11").rename(env.prefix / "lib/python3.12")
    plant(env.prefix / "pyvenv.cfg", kind)
    interp = finishes(lambda: interpreter_from_files(env.prefix, None, "does not run"))
    assert interp.version == "3.12"  # from lib/python3.12, not from pyvenv.cfg


def test_kernelspec(tmp_path: Path, kind: str) -> None:
    env = make_venv(tmp_path)
    spec = write_kernel(env.prefix / "share/jupyter/kernels", "py", str(env.python))
    plant(spec, kind)
    ctx, _ = probe_context(tmp_path)
    (found,) = finishes(lambda: probe_kernels(ctx, env.prefix))
    assert found.name == "py" and (found.error or "").startswith("unreadable: it is ")


def test_kernelspec_nested_too_deeply(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    write_kernel(env.prefix / "share/jupyter/kernels", "py", str(env.python)).write_text(DEEP)
    ctx, _ = probe_context(tmp_path)
    (found,) = probe_kernels(ctx, env.prefix)
    assert "nested too deeply" in (found.error or "")


# --------------------------------------------------------------------------- machine files
@pytest.mark.parametrize("victim", ["version.json", "version.txt"])
def test_cuda_toolkit_version_files(tmp_path: Path, kind: str, victim: str) -> None:
    cuda = tmp_path / "cuda"
    (cuda / "bin").mkdir(parents=True)
    if victim == "version.txt":  # read when there is no version.json
        (cuda / "version.txt").write_text("CUDA Version 10.2.89\n")
    else:
        (cuda / "version.json").write_text(json.dumps({"cuda": {"version": "12.4.1"}}))
    plant(cuda / victim, kind)
    ctx, _ = probe_context(tmp_path, env={"CUDA_HOME": str(cuda)})
    (toolkit,) = finishes(lambda: probe_toolkits(ctx))
    assert toolkit.version is None
    assert any(
        n.source == str(cuda / victim) and n.message.startswith("unreadable: it is ")
        for n in toolkit.notes
    )


def test_ld_so_cache(tmp_path: Path, kind: str) -> None:
    ctx, host = probe_context(tmp_path)
    write_ld_cache(host.root / "etc/ld.so.cache", [("libcuda.so.1", "/usr/lib/libcuda.so.1")])
    plant(host.root / "etc/ld.so.cache", kind)
    libs = finishes(lambda: probe_loader_libraries(ctx))
    assert libs.libcuda == ()
    assert libs.notes[0].message.startswith("unreadable: it is ")


def test_os_release_proc_and_sys_files(tmp_path: Path, kind: str) -> None:
    ctx, host = probe_context(tmp_path)
    host.nvidia_driver("580.65.06")
    host.pci_gpu("0000:19:00.0")
    for victim in (
        "/etc/os-release",
        "/proc/version",
        "/proc/1/cgroup",
        "/sys/module/nvidia/version",
        "/proc/driver/nvidia/version",
        "/sys/bus/pci/devices/0000:19:00.0/vendor",
    ):
        plant(host.root / victim.lstrip("/"), kind)
    facts = finishes(lambda: probe_host(ctx))
    assert facts.os_release is None and facts.wsl is False
    driver, gpus = finishes(lambda: probe_driver_and_gpus(ctx))
    assert driver.kernel_module is None and gpus == ()
    assert finishes(lambda: probe_pci_nvidia(ctx)) == ()


def test_jupyter_server_file_and_proc_net(tmp_path: Path, kind: str) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    ctx, host = probe_context(tmp_path, env={"JUPYTER_RUNTIME_DIR": str(runtime)})
    plant(runtime / "jpserver-1.json", kind)
    servers = finishes(lambda: probe_jupyter_servers(ctx))
    assert [s.error is not None for s in servers] == [True]
    plant(host.root / "proc/net/tcp", kind)
    assert finishes(lambda: listening_sockets(ctx)) == {}


def test_pci_device_id_file(tmp_path: Path, kind: str) -> None:
    ctx, host = probe_context(tmp_path)
    host.pci_gpu("0000:19:00.0")
    plant(host.root / "sys/bus/pci/devices/0000:19:00.0/device", kind)
    assert finishes(lambda: probe_pci_nvidia(ctx)) == ("0000:19:00.0",)
    assert finishes(lambda: probe_pci_device_ids(ctx, ("0000:19:00.0",))) == ("",)


def test_probe_cache_entry(tmp_path: Path, kind: str) -> None:
    cache = Cache(tmp_path / "cache")
    cache.put("interpreter", "/usr/bin/python3", "stamp", {"version": "3.11.7"})
    (entry,) = (tmp_path / "cache").rglob("*.json")
    plant(entry, kind)
    assert finishes(lambda: cache.get("interpreter", "/usr/bin/python3", "stamp")) is None


def test_probe_cache_entry_nested_too_deeply(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.put("interpreter", "/usr/bin/python3", "stamp", {"version": "3.11.7"})
    (entry,) = (tmp_path / "cache").rglob("*.json")
    entry.write_text(DEEP)
    assert cache.get("interpreter", "/usr/bin/python3", "stamp") is None


def test_interpreter_answer_nested_too_deeply(tmp_path: Path) -> None:
    env = make_venv(tmp_path)
    runner = FakeRunner()

    def answer(argv: list[str]) -> RunResult:
        return RunResult(tuple(argv), 0, f"\n{argv[2]}\n{DEEP}\n{argv[2]}\n", "")

    runner.on(lambda argv: argv[0] == env.python, answer)
    ctx, _ = probe_context(tmp_path, runner)
    interp = query_interpreter(ctx, env.python)
    assert not interp.runs and "nested too deeply" in interp.notes[0].message
