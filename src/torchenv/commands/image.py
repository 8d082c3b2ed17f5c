"""``torchenv image``: the build context of a container image that installs exactly the lock,
and, with ``--build``, the image itself."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from torchenv.backends import outdir
from torchenv.backends.condalocal import LocalPackage
from torchenv.backends.localwheels import portable_lock
from torchenv.backends.lockfile import Lock, content_hash
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _
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
from torchenv.spec import spec_directory

if TYPE_CHECKING:
    from torchenv.probe.context import ProbeContext
    from torchenv.ship.base import BaseChoice

Progress = Callable[[str], None]
IMAGE_LOCK = "/etc/torchenv/pylock.toml"  # where the image keeps the lock it was built from


def load_ship_inputs(spec_file: str | None, cwd: Path) -> tuple[Spec, Lock, ImageStack]:
    """The spec, its fresh lock, and the stack the lock was planned for."""
    from torchenv.backends.base import SpecRef  # noqa: PLC0415
    from torchenv.backends.lockload import load_fresh_lock  # noqa: PLC0415
    from torchenv.spec import load_spec, spec_hash  # noqa: PLC0415

    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    ref = SpecRef(spec, spec_hash(spec), spec_directory(spec, cwd))
    if spec.installer == "conda":
        from torchenv.commands.image_conda import load_conda_lock  # noqa: PLC0415

        lock = load_conda_lock(ref)
    else:
        lock = load_fresh_lock(ref)
    record = lock.record
    if record is None:  # pragma: no cover - load_fresh_lock refuses a lock without one
        raise ValueError("a fresh lock has a record")
    if not any(p.startswith("linux_") for p in record.platforms):
        raise UsageError(
            "image-not-linux",
            Msg(
                "{path} was locked for {platforms}: container images run Linux.",
                path=lock.path,
                platforms=", ".join(record.platforms),
            ),
            Msg(
                'Add a Linux target to the spec ([targets] platform = "linux_x86_64"), then '
                "`torchenv lock`."
            ),
        )
    # every value comes from the checked record (backends/lockrecord.py): a version, a variant,
    # a CUDA release; nothing that could end a Dockerfile line or a label's quotes
    stack = ImageStack(
        name=spec.name,
        python=record.python,
        torch=record.torch,
        variant=record.variant,
        cuda=record.cuda,
        driver_floor=record.driver_floor,
        lock_sha256=lock.sha256,
        spec_hash=spec_hash(spec),
        archs=record.archs,
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
    jupyter: bool | None = None,
    ssh: bool | None = None,
    base_image: str | None = None,
    image_name: str | None = None,
    save: bool = True,
    build: bool = False,
    builder: str | None = None,
    build_args: tuple[str, ...] = (),
    verbose: bool = False,
    progress: Progress = lambda _: None,
) -> ImageReport:
    from torchenv.backends.selfwheel import write_tool_wheel  # noqa: PLC0415
    from torchenv.commands.shipoptions import given, save_options, with_options  # noqa: PLC0415
    from torchenv.ship.base import image_reference  # noqa: PLC0415
    from torchenv.ship.compose import render_dev_compose  # noqa: PLC0415
    from torchenv.ship.dockerfile import (  # noqa: PLC0415
        ImageInputs,
        image_labels,
        render_dockerfile,
        render_dockerignore,
    )
    from torchenv.ship.runtime import render_entrypoint, render_jupyter_config  # noqa: PLC0415

    spec, lock, stack = load_ship_inputs(spec_file, cwd)
    chosen = given({"jupyter": jupyter, "ssh": ssh, "base": base_image, "name": image_name})
    spec = with_options(spec, "image", chosen)
    _require_python(stack)
    options = with_user_ids(spec.image)
    _require_jupyter(options, lock, spec)
    conda = spec.installer == "conda"
    base = _choose_base(conda, stack, options)
    image = image_reference(options, stack)
    spec_dir = spec_directory(spec, cwd)
    target = Path(out).expanduser() if out else spec_dir / "image"
    if not target.is_absolute():
        target = cwd / target
    version = torchenv_version()
    project = os.path.relpath(spec_dir, target)
    files = [
        ShipFile(".dockerignore", render_dockerignore()),
        ShipFile("entrypoint.sh", render_entrypoint(), executable=True),
        ShipFile("compose.yaml", render_dev_compose(stack, options, spec.deploy, image, project)),
    ]
    context = _lock_context(spec, lock, stack, options)
    files += context.files
    if options.jupyter:
        files.append(ShipFile("jupyter_server_config.py", render_jupyter_config()))
    wheels, packages = context.wheels, context.packages

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
            conda=conda,
            local_conda_packages=bool(packages),
        )
        outdir.write_files(root, [*files, ShipFile("Dockerfile", render_dockerfile(inputs))])
        for source in wheels:
            outdir.copy_wheel(source, root / "wheels")
        for package in packages:
            outdir.copy_wheel(package.source, root / Path(package.context_path).parent)
        if options.jupyter and not (target / "secrets/jupyter_token").is_file():
            # a fresh random token beside the context, never in it (.dockerignore)
            token = root / "secrets" / "jupyter_token"
            token.parent.mkdir(mode=0o700)
            token.write_text(secrets.token_hex(32) + "\n")
            token.chmod(0o600)

    progress(_("writing the build context of {image} to {path}").format(image=image, path=target))
    written = outdir.replace_dir(target, fill, keep=["secrets/jupyter_token"])
    notes = [f"base {base.image}: {base.reason}"]
    if wheels:
        notes.append(f"{len(wheels)} local wheel(s) of the lock copied into wheels/")
    if packages:
        notes.append(f"{len(packages)} local conda package(s) of the lock copied into conda-pkgs/")
    result = None
    if build:
        urls = context.index_urls
        result = _build(ctx, target, image, builder, build_args, verbose, progress, urls)
    notes += save_options(spec, "image", chosen, save)
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


@dataclasses.dataclass(frozen=True)
class _LockContext:
    """What the build context holds of the lock, by installer."""

    files: list[ShipFile]
    wheels: list[Path]  # local wheels of a pylock, copied into wheels/
    packages: list[LocalPackage]  # local packages of a conda lock, copied into conda-pkgs/
    index_urls: tuple[str, ...]  # whose credentials the build gets as its netrc secret


def _lock_context(spec: Spec, lock: Lock, stack: ImageStack, options: SpecImage) -> _LockContext:
    from torchenv.backends.selfwheel import pinned_dependencies  # noqa: PLC0415
    from torchenv.ship.runtime import render_profile, render_sshd_config  # noqa: PLC0415

    pins = pinned_dependencies()
    if spec.installer == "conda":
        from torchenv.commands import image_conda  # noqa: PLC0415

        files, packages = image_conda.conda_context(lock, options)
        pins += image_conda.installer_pins()
        constraints = ShipFile("torchenv/constraints.txt", "\n".join(pins) + "\n")
        urls = image_conda.channel_urls(lock)
        return _LockContext([*files, constraints], [], packages, urls)
    lock_text, wheels = portable_lock(lock)
    platforms = lock.record.platforms if lock.record is not None else ()
    machines = [p.removeprefix("linux_") for p in platforms if p.startswith("linux_")]
    files = [
        ShipFile("pylock.toml", lock_text),
        ShipFile(ENV_RECORD_FILE, _record(lock, lock_text, stack, machines)),
        ShipFile("torchenv/constraints.txt", "\n".join(pins) + "\n"),
    ]
    if options.ssh:
        files.append(ShipFile("sshd_config", render_sshd_config(options.user)))
        files.append(ShipFile("profile.sh", render_profile()))
    urls = (spec.index.pypi, *filter(None, [spec.index.pytorch]), *spec.index.find_links)
    return _LockContext(files, wheels, [], urls)


def _choose_base(conda: bool, stack: ImageStack, options: SpecImage) -> BaseChoice:
    from torchenv.ship.base import choose_base  # noqa: PLC0415
    from torchenv.ship.condaimage import choose_conda_base  # noqa: PLC0415

    try:
        if conda:
            return choose_conda_base(
                stack.variant, stack.cuda, compiler=options.compiler, base=options.base
            )
        return choose_base(stack, compiler=options.compiler, base=options.base)
    except ValueError as exc:
        raise UsageError(
            "image-no-base",
            f"{exc}.",
            Msg('Set [image] base = "<image:tag>" in the spec.'),
        ) from None


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


def _require_python(stack: ImageStack) -> None:
    if _minor(stack.python) < (3, 10):
        raise UsageError(
            "image-python-too-old",
            Msg(
                "The lock is for Python {python}; torchenv, which the image carries for its "
                "HEALTHCHECK, needs Python 3.10 or newer.",
                python=stack.python,
            ),
            Msg('Set python = "3.10" or newer in the spec, then `torchenv lock`.'),
        )


def _require_jupyter(options: SpecImage, lock: Lock, spec: Spec) -> None:
    if options.jupyter and "jupyterlab" not in lock.versions():
        raise UsageError(
            "image-jupyter-not-locked",
            Msg(
                "Jupyter was asked for, but jupyterlab is not in {path}: the image installs "
                "exactly the lock.",
                path=lock.path,
            ),
            Msg(
                'Add "jupyterlab" to packages in {spec}, then `torchenv lock`.',
                spec=spec.path or Msg("the spec"),
            ),
        )


def _minor(python: str) -> tuple[int, int]:
    major, _, minor = python.removesuffix("t").partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError:
        return (3, 99)  # not a version: let the build say what it is


def torchenv_version() -> str:
    """The installed torchenv's version (what images and workflows pin)."""
    import importlib.metadata  # noqa: PLC0415

    return importlib.metadata.version("torchenv")


def _uv_version(ctx: ProbeContext) -> str:
    from torchenv.backends.tools import find_uv  # noqa: PLC0415

    result = ctx.runner([find_uv(), "--version"], timeout=ctx.tool_timeout)
    match = re.search(r"uv (\d+\.\d+\.\d+)", result.stdout)
    if match is None:
        raise UsageError(
            "uv-version",
            Msg("Cannot read uv's version: {error}.", error=result.describe_failure()),
        )

    return match.group(1)


def _build(
    ctx: ProbeContext,
    target: Path,
    image: str,
    builder: str | None,
    build_args: tuple[str, ...],
    verbose: bool,
    progress: Progress,
    index_urls: tuple[str, ...] = (),
) -> BuildResult:
    """``index_urls``: the spec's, whose credentials the build gets as its netrc secret."""
    from torchenv.backends.containers import build_image, find_builder  # noqa: PLC0415
    from torchenv.backends.credentials import build_netrc, netrc_file  # noqa: PLC0415

    found = find_builder(ctx.runner, ctx.which, builder)
    started = time.perf_counter()
    with netrc_file(build_netrc(index_urls, ctx.env)) as netrc:
        argv, _ = build_image(
            ctx.runner,
            found,
            str(target),
            image,
            progress,
            verbose,
            build_args,
            str(netrc) if netrc else None,
        )
    return BuildResult(found.tool, image, time.perf_counter() - started, argv)
