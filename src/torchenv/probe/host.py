"""Host facts: OS, libc, CPUs, container kind, WSL, Jetson, /dev/shm.

All from files and the running interpreter; no subprocess. Container detection follows the
markers listed in the failure catalog (section 2.4): /.dockerenv, /run/.containerenv, the
Kubernetes service variables and the cgroup path of PID 1.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping

from torchenv.models import Host, ProbeNote
from torchenv.probe.context import ProbeContext

_CGROUP_MARKERS = (
    ("kubepods", "kubernetes"),
    ("docker", "docker"),
    ("libpod", "podman"),
    ("containerd", "containerd"),
    ("lxc", "lxc"),
)


def user_ids() -> tuple[int, int]:
    """UID and GID of the user running torchenv, for an image's user; 1000 (the first user of
    Debian and Ubuntu) for root and where there are none (Windows)."""
    getuid, getgid = getattr(os, "getuid", None), getattr(os, "getgid", None)
    if getuid is None or getgid is None or getuid() == 0:
        return 1000, 1000
    return getuid(), getgid()


def parse_os_release(text: str) -> str | None:
    """PRETTY_NAME (or NAME VERSION_ID) from /etc/os-release."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    if "PRETTY_NAME" in values:
        return values["PRETTY_NAME"]
    name = " ".join(v for v in (values.get("NAME"), values.get("VERSION_ID")) if v)
    return name or None


def detect_container(
    env: Mapping[str, str],
    dockerenv: bool,
    containerenv: bool,
    pid1_cgroup: str | None,
) -> str | None:
    """The container runtime this process runs under, or None on a plain host."""
    if env.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if containerenv:
        return "podman"
    if dockerenv:
        return "docker"
    for line in (pid1_cgroup or "").splitlines():
        path = line.rpartition(":")[2]
        for marker, kind in _CGROUP_MARKERS:
            if marker in path:
                return kind
    container = env.get("container")  # set by systemd-nspawn, lxc and podman for PID 1's env
    return container or None


def probe_host(ctx: ProbeContext) -> Host:
    notes: list[ProbeNote] = []
    os_release_text = ctx.read_text("/etc/os-release")
    proc_version = ctx.read_text("/proc/version") or ""
    libc_name, libc_version = platform.libc_ver()
    shm_bytes, shm_writable = _shm(ctx, notes)
    try:
        cpu_count: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpu_count = os.cpu_count()
    return Host(
        os=platform.system().lower(),
        arch=platform.machine(),
        os_release=parse_os_release(os_release_text) if os_release_text else None,
        kernel=platform.release() or None,
        libc=f"{libc_name} {libc_version}".strip() if libc_name else None,
        cpu_count=cpu_count,
        container=detect_container(
            ctx.env,
            dockerenv=ctx.path("/.dockerenv").exists(),
            containerenv=ctx.path("/run/.containerenv").exists(),
            pid1_cgroup=ctx.read_text("/proc/1/cgroup"),
        ),
        wsl="microsoft" in proc_version.lower(),
        jetson=ctx.path("/etc/nv_tegra_release").exists(),
        shm_bytes=shm_bytes,
        shm_writable=shm_writable,
        euid=os.geteuid() if hasattr(os, "geteuid") else None,
        notes=tuple(notes),
    )


def _shm(ctx: ProbeContext, notes: list[ProbeNote]) -> tuple[int | None, bool | None]:
    shm = ctx.path("/dev/shm")
    try:
        st = os.statvfs(shm)
    except (OSError, AttributeError) as exc:
        notes.append(ProbeNote("/dev/shm", f"cannot stat: {getattr(exc, 'strerror', exc)}"))
        return None, None
    return st.f_blocks * st.f_frsize, os.access(shm, os.W_OK)
