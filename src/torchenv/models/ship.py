"""Shipping an environment: the spec's ``[image]`` and ``[deploy]`` tables, the locked stack an
image is made from, the files ``image`` and ``deploy`` write, and their reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

IMAGE_SCHEMA = "torchenv.image/1"
DEPLOY_SCHEMA = "torchenv.deploy/1"
DEPLOY_TARGETS = ("compose", "k8s", "pytorchjob", "slurm")
# the BuildKit secret that carries a private index's credentials into the install step
NETRC_SECRET = "netrc"  # noqa: S105 - its id, not a secret

# An image reference as docker and podman read one: [registry[:port]/]path[:tag][@digest]
# (distribution/reference grammar, simplified to what the tools accept in practice).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?:(?P<host>[A-Za-z0-9.-]+(?::[0-9]+)?)/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


def parse_reference(text: str) -> dict[str, str | None] | None:
    """The parts of an image reference, or None when it is not one. A first component with a
    dot or a port is a registry, as docker reads it ("localhost" too)."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    host = parts["host"]
    if host is not None and not ("." in host or ":" in host or host == "localhost"):
        parts["path"] = f"{host}/{parts['path']}"
        parts["host"] = None
        if not re.fullmatch(_COMPONENT, host):
            return None
    return parts


def tagged_reference(name: str, default_tag: str) -> str:
    """``name`` with ``default_tag`` when it has neither tag nor digest: never an implicit
    "latest"."""
    parts = parse_reference(name)
    if parts is not None and parts["tag"] is None and parts["digest"] is None:
        return f"{name}:{default_tag}"
    return name


@dataclass(frozen=True)
class SpecImage:
    """``[image]``: how the container image is made. None of it changes the environment, so
    none of it is part of the spec's hash."""

    name: str | None = None  # "registry.example.com/team/vision:1"; default "<spec name>:<lock>"
    base: str | None = None  # a pinned reference; default chosen from the lock's plan
    compiler: bool = False  # true: a CUDA devel base (nvcc, headers) for extensions and Triton
    jupyter: bool = False
    ssh: bool = False
    user: str = "torch"
    # None: the UID/GID of whoever runs `torchenv image` (1000 for root), so that files bind
    # mounted from the host (the project, secrets of mode 600) are the container user's own
    uid: int | None = None
    gid: int | None = None
    apt: tuple[str, ...] = ()  # further Debian/Ubuntu packages in the final image

    def ids(self) -> tuple[int, int]:
        return (1000 if self.uid is None else self.uid, 1000 if self.gid is None else self.gid)


@dataclass(frozen=True)
class SpecDeploy:
    """``[deploy]``: what runs, and where, for ``torchenv deploy``."""

    image: str | None = None  # default: the [image] name
    command: tuple[str, ...] = ("train.py",)  # what torchrun starts on every node
    nodes: int = 1
    gpus_per_node: int = 1
    shm_size: str = "16g"  # /dev/shm when the host's IPC namespace is not shared
    port: int = 29500  # the c10d rendezvous port


@dataclass(frozen=True)
class ImageStack:
    """The facts an image is labelled and built with, read from the lock."""

    name: str  # the spec's name
    python: str  # "3.11"
    torch: str  # "2.13.0"
    variant: str  # "cpu", "cu130"
    cuda: str | None  # "13.0"
    driver_floor: str | None
    lock_sha256: str
    spec_hash: str
    archs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShipFile:
    path: str  # relative to the output directory
    text: str
    executable: bool = False


@dataclass(frozen=True)
class BuildResult:
    tool: str  # "docker", "podman", "buildah"
    image: str
    seconds: float
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageReport:
    schema: str
    out: str
    image: str  # the reference it is tagged with
    base: str
    files: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    build: BuildResult | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployReport:
    schema: str
    target: str
    out: str
    image: str
    files: tuple[str, ...]
    nodes: int
    gpus_per_node: int
    notes: tuple[str, ...] = ()
