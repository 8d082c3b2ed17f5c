"""``torchenv image``: the build context of a container image that installs exactly the lock,
and, with ``--build``, the image itself."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import outdir
from torchenv.backends.lockfile import Lock, content_hash
from torchenv.errors import UsageError
from torchenv.models.build import ENV_RECORD_FILE, env_record
from torchenv.models.ship import (
    IMAGE_SCHEMA,
    BuildResult,
    ImageReport,
    ImageStack,
    ShipFile,
    SpecImage,
)
from torchenv.models.spec import Spec

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext

Progress = Callable[[str], None]
# a wheel entry of uv's pylock.toml whose file is on this machine
_LOCAL_WHEEL = re.compile(r'url = "(file://[^"]+)"')
IMAGE_LOCK = "/etc/torchenv/pylock.toml"  # where the image keeps the lock it was built from


def load_ship_inputs(spec_file: str | None, cwd: Path) -> tuple[Spec, Lock, ImageStack]:
    """The spec, its fresh lock, and the stack the lock was planned for."""
    from torchenv.commands.create import load_fresh_lock  # noqa: PLC0415
    from torchenv.spec import load_spec, spec_hash  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    if spec.installer == "conda":
        raise UsageError(
            "image-conda",
            f"{spec.path}: images are made from the uv/pip lock (pylock.toml); this spec uses "
            "the conda installer.",
            'Set installer = "uv" in the spec (conda-forge builds are not installed in images '
            "yet), then `torchenv lock`.",
        )
    lock = load_fresh_lock(spec, cwd)
    tool = lock.tool
    platforms = [str(p) for p in tool.get("platforms") or ()]
    if platforms and not any(p.startswith("linux_") for p in platforms):
        raise UsageError(
            "image-not-linux",
            f"{lock.path} was locked for {', '.join(platforms)}: container images run Linux.",
            'Add a Linux target to the spec ([targets] platform = "linux_x86_64"), then '
            "`torchenv lock`.",
        )
    stack = ImageStack(
        name=spec.name,
        python=str(tool.get("python") or spec.python or "3"),
        torch=str(tool.get("torch") or lock.versions().get("torch", "")),
        variant=str(tool.get("variant") or "cpu"),
        cuda=str(tool["cuda"]) if tool.get("cuda") else None,
        driver_floor=str(tool["driver-floor"]) if tool.get("driver-floor") else None,
        lock_sha256=lock.sha256,
        spec_hash=spec_hash(spec),
        archs=tuple(str(a) for a in tool.get("archs") or ()),
    )
    return spec, lock, stack


def with_user_ids(options: SpecImage) -> SpecImage:
    """[image] uid/gid, else those of the user running torchenv (see probe.host.user_ids)."""
    from torchenv.probe.host import user_ids  # noqa: PLC0415

    uid, gid = user_ids()
    return dataclasses.replace(
        options,
        uid=uid if options.uid is None else options.uid,
        gid=gid if options.gid is None else options.gid,
    )


def run_image(
    ctx: ProbeContext,
    spec_file: str | None,
    cwd: Path,
    *,
    out: str | None = None,
    jupyter: bool = False,
    ssh: bool = False,
    build: bool = False,
    builder: str | None = None,
    build_args: tuple[str, ...] = (),
    verbose: bool = False,
    progress: Progress = lambda _: None,
) -> ImageReport:
    from torchenv.backends.selfwheel import pinned_dependencies, write_tool_wheel  # noqa: PLC0415
    from torchenv.ship.base import choose_base, image_reference  # noqa: PLC0415
    from torchenv.ship.compose import render_dev_compose  # noqa: PLC0415
    from torchenv.ship.dockerfile import (  # noqa: PLC0415
        ImageInputs,
        image_labels,
        render_dockerfile,
        render_dockerignore,
    )
    from torchenv.ship.runtime import (  # noqa: PLC0415
        render_entrypoint,
        render_jupyter_config,
        render_profile,
        render_sshd_config,
    )

    spec, lock, stack = load_ship_inputs(spec_file, cwd)
    if _minor(stack.python) < (3, 10):
        raise UsageError(
            "image-python-too-old",
            f"The lock is for Python {stack.python}; torchenv, which the image carries for its "
            "HEALTHCHECK, needs Python 3.10 or newer.",
            'Set python = "3.10" or newer in the spec, then `torchenv lock`.',
        )
    options = with_user_ids(
        dataclasses.replace(
            spec.image, jupyter=spec.image.jupyter or jupyter, ssh=spec.image.ssh or ssh
        )
    )
    _require_jupyter(options, lock, spec)
    try:
        base = choose_base(stack, compiler=options.compiler, base=options.base)
    except ValueError as exc:
        raise UsageError(
            "image-no-base", f"{exc}.", 'Set [image] base = "<image:tag>" in the spec.'
        ) from None
    image = image_reference(options, stack)
    spec_dir = Path(spec.path).parent if spec.path else cwd
    target = Path(out).expanduser() if out else spec_dir / "image"
    if not target.is_absolute():
        target = cwd / target
    lock_text, wheels = _portable_lock(lock)
    version = _torchenv_version()
    machines = [p.removeprefix("linux_") for p in lock.tool.get("platforms") or ()]
    machines = [m for m in machines if m in ("x86_64", "aarch64")] or ["x86_64"]
    project = os.path.relpath(spec_dir, target)
    files = [
        ShipFile(".dockerignore", render_dockerignore()),
        ShipFile("pylock.toml", lock_text),
        ShipFile(ENV_RECORD_FILE, _record(lock, lock_text, stack, machines)),
        ShipFile("entrypoint.sh", render_entrypoint(), executable=True),
        ShipFile("torchenv/constraints.txt", "\n".join(pinned_dependencies()) + "\n"),
        ShipFile("compose.yaml", render_dev_compose(stack, options, spec.deploy, image, project)),
    ]
    if options.jupyter:
        files.append(ShipFile("jupyter_server_config.py", render_jupyter_config()))
    if options.ssh:
        files.append(ShipFile("sshd_config", render_sshd_config(options.user)))
        files.append(ShipFile("profile.sh", render_profile()))

    def fill(root: Path) -> None:
        wheel = write_tool_wheel(root / "torchenv")
        inputs = ImageInputs(
            stack=stack,
            options=options,
            base=base,
            uv_version=_uv_version(ctx),
            tool_wheel=wheel,
            local_wheels=bool(wheels),
            torchenv_version=version,
            spec_file=Path(spec.path or "torchenv.toml").name,
        )
        outdir.write_files(root, [*files, ShipFile("Dockerfile", render_dockerfile(inputs))])
        for source in wheels:
            outdir.copy_wheel(source, root / "wheels")
        if options.jupyter and not (target / "secrets/jupyter_token").is_file():
            # a fresh random token beside the context, never in it (.dockerignore)
            token = root / "secrets" / "jupyter_token"
            token.parent.mkdir(mode=0o700)
            token.write_text(secrets.token_hex(32) + "\n")
            token.chmod(0o600)

    progress(f"writing the build context of {image} to {target}")
    written = outdir.replace_dir(target, fill, keep=["secrets/jupyter_token"])
    notes = [f"base {base.image}: {base.reason}"]
    if wheels:
        notes.append(f"{len(wheels)} local wheel(s) of the lock copied into wheels/")
    result = None
    if build:
        result = _build(ctx, target, image, builder, build_args, verbose, progress)
    return ImageReport(
        IMAGE_SCHEMA,
        str(target),
        image,
        base.image,
        written,
        image_labels(stack, version),
        result,
        tuple(notes),
    )


def _record(lock: Lock, lock_text: str, stack: ImageStack, machines: list[str]) -> str:
    """The environment's torchenv-env.json, as `create` writes it, so that `verify` in the
    container checks the versions against the lock and `doctor` reports drift. It names the
    lock as it is in the image; no creation time, so an unchanged lock keeps its cached layer.
    The patch release of the image's Python is not known here: markers on it are rare. Which
    machine builds the image is not known either: for a lock of x86_64 and aarch64 only the
    packages both get are expected."""
    python = f"{stack.python.removesuffix('t')}.0"
    per_machine = [lock.versions_for(python, m) for m in machines]
    expected = {
        name: version
        for name, version in per_machine[0].items()
        if all(other.get(name) == version for other in per_machine[1:])
    }
    record = env_record(
        backend="uv",
        spec=(None, stack.spec_hash),
        lock={
            "path": IMAGE_LOCK,
            "sha256": content_hash(lock_text.encode("utf-8")),
            "packages": expected,
        },
        plan=lock.tool,
    )
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def _require_jupyter(options: SpecImage, lock: Lock, spec: Spec) -> None:
    if options.jupyter and "jupyterlab" not in lock.versions():
        raise UsageError(
            "image-jupyter-not-locked",
            f"Jupyter was asked for, but jupyterlab is not in {lock.path}: the image installs "
            "exactly the lock.",
            f'Add "jupyterlab" to packages in {spec.path or "the spec"}, then `torchenv lock`.',
        )


def _portable_lock(lock: Lock) -> tuple[str, list[Path]]:
    """The lock's text with each wheel that lies on this machine (file:// URL) named by a path
    relative to the lock (PEP 751 `path`), and those wheels, to be copied beside it. Their
    sha256 stays in the lock, so the image checks them as it checks downloads."""
    text = Path(lock.path).read_text("utf-8")
    wheels: list[Path] = []

    def relative(match: re.Match[str]) -> str:
        source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(match.group(1)).path))
        if not source.is_file():
            raise UsageError(
                "image-wheel-missing",
                f"{lock.path} names {source}, which is not on this machine.",
                "Lock again where the wheel is, or put it back.",
            )
        wheels.append(source)
        return f'path = "wheels/{source.name}"'

    return _LOCAL_WHEEL.sub(relative, text), wheels


def _minor(python: str) -> tuple[int, int]:
    major, _, minor = python.removesuffix("t").partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError:
        return (3, 99)  # not a version: let the build say what it is


def _torchenv_version() -> str:
    import importlib.metadata  # noqa: PLC0415

    return importlib.metadata.version("torchenv")


def _uv_version(ctx: ProbeContext) -> str:
    from torchenv.backends.tools import find_uv  # noqa: PLC0415

    result = ctx.runner([find_uv(), "--version"], timeout=ctx.tool_timeout)
    match = re.search(r"uv (\d+\.\d+\.\d+)", result.stdout)
    if match is None:
        raise UsageError("uv-version", f"Cannot read uv's version: {result.describe_failure()}.")
    return match.group(1)


def _build(
    ctx: ProbeContext,
    target: Path,
    image: str,
    builder: str | None,
    build_args: tuple[str, ...],
    verbose: bool,
    progress: Progress,
) -> BuildResult:
    from torchenv.backends.containers import build_image, find_builder  # noqa: PLC0415

    found = find_builder(ctx.runner, ctx.which, builder)
    started = time.perf_counter()
    argv, _ = build_image(ctx.runner, found, str(target), image, progress, verbose, build_args)
    return BuildResult(found.tool, image, time.perf_counter() - started, argv)
