"""``torchenv lock``: spec -> plan -> uv's resolver -> ``pylock.toml`` with ``[tool.torchenv]``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchenv.backends.credentials import installer_env
from torchenv.backends.installers import Sources, uv_compile
from torchenv.backends.lockfile import parse_lock, with_tool_table
from torchenv.backends.tools import find_uv, run_step
from torchenv.errors import ExitCode, TorchenvError, UsageError
from torchenv.i18n import Msg, _
from torchenv.models.build import LOCK_SCHEMA, LockReport
from torchenv.models.indexes import UNLABELED_RELEASES, local_label, pins
from torchenv.models.plan import PlanReport, Stack
from torchenv.models.process import Runner
from torchenv.models.spec import LOCK_FILE, Spec
from torchenv.untrusted import files
from torchenv.untrusted.text import strip_url_credentials

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]


class NoStackError(TorchenvError):
    """The spec's constraints leave no build that runs on its targets (exit code 3)."""

    exit_code = ExitCode.NO_STACK

    def __init__(self, plan: PlanReport, message: str, hint: str | None = None) -> None:
        super().__init__("no-stack", message, hint)
        self.plan = plan


def spec_plan(ctx: ProbeContext | None, spec: Spec, cwd: Path) -> PlanReport:
    """The plan for the spec's targets (this machine when it names none); machine files are
    read relative to the spec, not to the directory torchenv runs in."""
    from torchenv.commands.plan import run_plan  # noqa: PLC0415
    from torchenv.plan.request import parse_options  # noqa: PLC0415
    from torchenv.spec import machine_paths  # noqa: PLC0415

    targets = spec.targets
    options = parse_options(
        torch=spec.torch,
        python=spec.python,
        cuda=spec.cuda,
        gpus=targets.gpus,
        driver=targets.driver,
        machine_files=[str(path) for path in machine_paths(spec, cwd)],
        installer=spec.installer,
        platform=targets.platform,
        pytorch_index=spec.index.pytorch is not None,
    )
    return run_plan(None if options.describes_targets else ctx, options)


def requirements(spec: Spec, stack: Stack, platforms: Sequence[str]) -> list[str]:
    # the local label keeps an exact pin from matching a build of another variant; PyPI's
    # builds have none (PEP 440 forbids them there)
    label = "" if stack.channel == "pypi" else local_label(stack.torch, stack.variant, platforms)
    for library in spec.libraries:
        version = getattr(stack, library)
        if version is None:
            raise UsageError(
                "library-not-paired",
                Msg(
                    "{spec} asks for {library}, but no {library} release is paired with torch "
                    "{torch}.",
                    spec=spec.path or Msg("the spec"),
                    library=library,
                    torch=stack.torch,
                ),
                Msg(
                    "Remove {library} from `libraries`, or constrain `torch` to a release that "
                    "has one (`torchenv matrix` lists the pairings).",
                    library=library,
                ),
            )
    paired = [(library, getattr(stack, library)) for library in spec.libraries]
    return [*pins(stack.torch, label, paired, platforms), *spec.packages]


def tool_table(spec: Spec, spec_hash: str, plan: PlanReport, sources: Sources) -> dict[str, Any]:
    clean = sources.without_credentials()  # a lock is shared: it never carries credentials
    indexes = {
        "pypi": clean.pypi,
        **({"pytorch": clean.pytorch} if clean.pytorch else {}),
        "find-links": list(clean.find_links),
    }
    return plan_table(spec, spec_hash, plan, {"indexes": indexes})


def plan_table(
    spec: Spec, spec_hash: str, plan: PlanReport, sources: dict[str, Any]
) -> dict[str, Any]:
    """torchenv's record of a lock: the spec's hash and the plan; ``sources`` says where the
    packages come from (uv's indexes, conda's channels); ``inputs`` what the spec said, so that
    ``lock --check`` can name what changed."""
    from torchenv.spec import spec_inputs  # noqa: PLC0415

    stack = plan.stack
    if stack is None:
        raise ValueError("a lock needs a plan with a stack")
    table: dict[str, Any] = {
        "spec": os.path.basename(spec.path or ""),
        "spec-hash": spec_hash,
        "torch": stack.torch,
        "variant": stack.variant,
        "python": stack.python,
        "channel": stack.channel,
        "targets": [t.name for t in plan.targets],
        "platforms": sorted({t.platform for t in plan.targets}),
        **sources,
        "knowledge": plan.knowledge,
        "inputs": spec_inputs(spec),
    }
    if stack.cuda:
        table["cuda"] = stack.cuda
        table["archs"] = list(stack.archs)
    if stack.driver_floor:
        table["driver-floor"] = stack.driver_floor
    if stack.driver_recommended:
        table["driver-recommended"] = stack.driver_recommended
    return table


def run_lock(
    ctx: ProbeContext | None,
    spec_file: str | None,
    cwd: Path,
    progress: Progress = lambda _: None,
    verbose: bool = False,
    out_dir: Path | None = None,
) -> LockReport:
    """``out_dir``: where the lock is written (default: beside the spec)."""
    from torchenv.spec import load_spec, spec_directory, spec_hash  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    if spec.installer == "conda":
        from torchenv.backends.conda import require_rattler  # noqa: PLC0415

        require_rattler()  # before the plan: say at once what is missing
    plan = spec_plan(ctx, spec, cwd)
    stack = plan.stack
    if stack is None:
        raise NoStackError(plan, Msg("No PyTorch build fits the spec's targets."))

    if spec.installer == "conda":
        return _lock_conda(spec, plan, stack, cwd, progress, verbose, out_dir)
    platforms = sorted({t.platform for t in plan.targets})
    macos = all(p.startswith("macos") for p in platforms)
    spec_dir = spec_directory(spec, cwd)
    sources = Sources.for_variant(spec.index, stack.variant, macos, base=spec_dir)
    reqs = requirements(spec, stack, platforms)
    out = (out_dir or spec_dir) / LOCK_FILE
    uv = find_uv()
    progress(
        _("resolving torch {build} for Python {python} with {tool}").format(
            build=stack.build, python=stack.python, tool="uv"
        )
    )
    with tempfile.TemporaryDirectory(prefix="torchenv-lock-") as tmp:
        req_file = Path(tmp) / "requirements.in"
        req_file.write_text("\n".join(reqs) + "\n", "utf-8")
        raw = Path(tmp) / LOCK_FILE
        # a paired library published on PyPI only (torchaudio 2.11.1) may be missing from the
        # variant's index: let uv look on PyPI for it
        paired = [(name, getattr(stack, name)) for name in spec.libraries]
        fallback = any(pair in UNLABELED_RELEASES for pair in paired)
        argv = uv_compile(uv, str(req_file), str(raw), stack.python, platforms, sources, fallback)
        base_env = ctx.env if ctx is not None else os.environ
        with installer_env(sources.urls, base_env) as env:
            run_step(_runner(ctx), "resolve", argv, progress, verbose, timeout=1800, env=env)
        resolved = strip_url_credentials(files.read_text(raw))
        text = with_tool_table(resolved, tool_table(spec, spec_hash(spec), plan, sources))
        lock = parse_lock(text.encode("utf-8"), str(out))
        notes = plan.notes
        if stack.channel == "pypi":
            notes += (cuda_of_lock(stack, lock.versions()),)
        files.write_output(out, text.encode("utf-8"), what=Msg("the lock"))
    return LockReport(
        LOCK_SCHEMA,
        spec.path or "",
        str(out),
        lock.sha256,
        stack,
        lock.versions(),
        tuple(platforms),
        notes,
    )


# the CUDA runtime wheel PyPI's torch requires: nvidia-cuda-runtime-cu12 up to CUDA 12, then
# nvidia-cuda-runtime (13.x) through the cuda-toolkit metapackage (compat-matrix.md, S2, S13)
CUDA_RUNTIME_WHEELS = (
    "nvidia-cuda-runtime",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cuda-runtime-cu11",
)


def cuda_of_lock(stack: Stack, versions: dict[str, str]) -> str:
    """What the resolved lock says of the PyPI build's CUDA: the runtime wheel's version is the
    CUDA release it belongs to (13.0.96 -> 13.0), checked against the plan's variant."""
    runtime = next((versions[n] for n in CUDA_RUNTIME_WHEELS if n in versions), None)
    if stack.cuda is None:
        return "CPU build from PyPI" + (f" (yet it requires CUDA {runtime})" if runtime else "")
    if runtime is None:
        return (
            f"PyPI's torch {stack.torch} is planned as {stack.variant}, but the lock holds no "
            "CUDA runtime wheel: on this platform it is not a CUDA build"
        )
    cuda = ".".join(runtime.split(".")[:2])
    if cuda != stack.cuda:
        return (
            f"the lock's CUDA runtime is {runtime} (CUDA {cuda}), not the planned {stack.cuda}: "
            "the knowledge data is stale for this release (`torchenv db update`)"
        )
    return f"CUDA {cuda} from PyPI's nvidia-* wheels (runtime {runtime}), as planned"


def _lock_conda(
    spec: Spec,
    plan: PlanReport,
    stack: Stack,
    cwd: Path,
    progress: Progress,
    verbose: bool,
    out_dir: Path | None = None,
) -> LockReport:
    """Solve the planned conda-forge stack with py-rattler for each target platform and write
    rattler's lock (``conda.lock``) and torchenv's sidecar beside the spec."""
    from torchenv.backends import conda, conda_rattler  # noqa: PLC0415
    from torchenv.spec import spec_channels, spec_directory, spec_hash  # noqa: PLC0415

    platforms = sorted({t.platform for t in plan.targets})
    specs = conda.match_specs(stack, spec.libraries, spec.packages)
    virtuals = {
        conda.conda_subdir(p): conda.virtual_packages(
            p, stack.cuda, conda.oldest_glibc([t.glibc for t in plan.targets if t.platform == p])
        )
        for p in platforms
    }
    channels = spec_channels(spec, cwd)
    urls = conda_rattler.channel_urls(channels)
    progress(
        _(
            "solving pytorch {version} ({variant}) for Python {python} with {tool} against "
            "{channels}"
        ).format(
            version=stack.torch,
            variant=stack.variant,
            python=stack.python,
            tool="py-rattler",
            channels=", ".join(spec.index.channels),
        )
    )
    if verbose:
        progress(_("match specs: {specs}").format(specs="; ".join(specs)))
        for subdir, assumed in virtuals.items():
            progress(
                _("virtual packages for {platform}: {packages}").format(
                    platform=subdir, packages=" ".join(assumed)
                )
            )
    solved = conda_rattler.solve(channels, specs, virtuals)
    out = (out_dir or spec_directory(spec, cwd)) / conda.CONDA_LOCK_FILE
    sources = {
        "channels": urls,
        "match-specs": specs,
        "virtual-packages": {s.subdir: list(s.virtual_packages) for s in solved},
    }
    table = plan_table(spec, spec_hash(spec), plan, sources)
    with tempfile.TemporaryDirectory(prefix="torchenv-lock-") as tmp:
        staged = Path(tmp) / conda.CONDA_LOCK_FILE
        conda_rattler.write_lock(staged, urls, solved)
        conda_rattler.read_lock(staged)  # what is written must read back
        data = staged.read_bytes()
        meta = Path(tmp) / "meta.json"
        meta.write_text(conda.render_meta(table, data), "utf-8")
        # the lock first: a run killed between the two leaves a sidecar whose lock-sha256 no
        # longer matches, which create reports as stale
        files.write_output(out, staged.read_bytes(), what=Msg("the lock"))
        files.write_output(conda.meta_path(out), meta.read_bytes(), what=Msg("the lock's record"))
    packages: dict[str, str] = {}
    for part in solved:
        packages.update(part.versions())
    notes = plan.notes
    if stack.cuda:
        notes += (
            f"solved with __cuda={stack.cuda} from the plan, so the CUDA build is locked "
            "whether or not this machine has a GPU",
        )
    return LockReport(
        LOCK_SCHEMA,
        spec.path or "",
        str(out),
        conda.content_hash(data),
        stack,
        packages,
        tuple(platforms),
        notes,
    )


def _runner(ctx: ProbeContext | None) -> Runner:
    if ctx is not None:
        return ctx.runner
    from torchenv.probe.runner import run  # noqa: PLC0415

    return run
