"""What ``torchenv plan`` is asked and what it answers (design.md, JSON contract ``plan``).

A plan is computed for target machines that need not be this one: a machine is described by its
platform, GPUs (compute capability), driver and glibc, whether they came from the probe, from the
command line, or from another machine's ``inspect --json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PLAN_SCHEMA = "torchenv.plan/1"


@dataclass(frozen=True)
class PlanRequest:
    torch: str | None = None  # a PEP 440 specifier (">=2.8", "==2.13.*"); None = any
    python: str | None = None  # "3.12" or "3.14t"; None = each target's own, else the newest
    cuda: str = "auto"  # "auto", "cpu" or a CUDA "X.Y" ("12.6")
    installer: str | None = None  # uv|pip|conda|pixi; None = plan for the PyPI/PyTorch indexes
    # domain libraries the stack must include (a spec's `libraries`); others are added when a
    # release is paired with them and has wheels for the Python
    libraries: tuple[str, ...] = ()
    # False: the PyPI (mirror) index only, so each release's PyPI build (``[index] pytorch =
    # false``, ``--no-pytorch-index``); the planner's channel is then "pypi"
    pytorch_index: bool = True


@dataclass(frozen=True)
class PlanOptions:
    """What a plan is asked for, parsed and checked once (plan/request.py ``parse_options``)
    and then passed whole: plan, init and lock read the same values, never the strings again."""

    request: PlanRequest = field(default_factory=PlanRequest)
    gpus: tuple[str, ...] = ()  # as the user wrote them; resolved against the GPU table
    driver: str | None = None  # a full NVIDIA driver version
    platform: str | None = None  # a platform key ("linux_x86_64")
    machine_files: tuple[str, ...] = ()  # inspect documents of the target machines

    @property
    def describes_targets(self) -> bool:
        """The targets are described (GPUs, a platform or machine files), not this machine."""
        return bool(self.gpus or self.machine_files or self.platform)


@dataclass(frozen=True)
class TargetGpu:
    name: str
    cc: str | None  # None when neither the machine nor the knowledge base knows it


@dataclass(frozen=True)
class PlanTarget:
    """One machine the stack must run on."""

    name: str  # "this machine", "node1.json", "command line"
    platform: str  # "linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64"
    gpus: tuple[TargetGpu, ...] = ()
    driver: str | None = None  # NVIDIA driver version; None = unknown or none installed
    has_driver_facts: bool = False  # the driver value was observed, so None means "no driver"
    glibc: str | None = None  # "2.36"
    python: str | None = None  # the Python of the machine's environment, when known
    jetson: bool = False
    musl: bool = False  # torch publishes glibc (manylinux) wheels only


@dataclass(frozen=True)
class Stack:
    torch: str  # "2.13.0"
    variant: str  # "cu130", "cpu"
    cuda: str | None  # "13.0"
    python: str
    torchvision: str | None
    torchaudio: str | None
    channel: str  # "pytorch-index" (download.pytorch.org + PyPI), "pypi" (alone), "conda-forge"
    released: str | None = None
    archs: tuple[str, ...] = ()  # GPU code in the build, when known
    driver_floor: str | None = None  # below this nothing of the build's CUDA major runs
    driver_recommended: str | None = None  # the toolkit driver of that CUDA release
    pins: dict[str, str] = field(default_factory=dict)  # cudnn, nccl, cublas, cudart

    @property
    def build(self) -> str:
        """The build as the user names it: "2.13.0+cu130"; PyPI's carries no label."""
        if self.channel == "pypi":
            return f"{self.torch} (PyPI build, {self.variant})"
        return f"{self.torch}+{self.variant}"


@dataclass(frozen=True)
class TargetFit:
    """How the chosen stack runs on one target."""

    target: str
    gpus: tuple[str, ...]  # "H100 (9.0): native sm_90"
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejection:
    candidate: str  # "2.15.0+cu132"
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class InstallRecipe:
    installer: str  # uv|pip|conda|pixi
    commands: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # file name -> content to add
    notes: tuple[str, ...] = ()
    unavailable: str | None = None  # why this installer cannot install this stack


@dataclass(frozen=True)
class PlanReport:
    schema: str
    request: PlanRequest
    targets: tuple[PlanTarget, ...]
    stack: Stack | None
    fits: tuple[TargetFit, ...]
    rejected: tuple[Rejection, ...]
    install: dict[str, InstallRecipe]
    notes: tuple[str, ...] = ()  # choices made for the user (e.g. Python not given)
    per_target: dict[str, str] = field(default_factory=dict)  # no stack: each target's own best
    knowledge: str = ""  # where the data came from
