"""Image builders: docker, podman or buildah, whichever works here, each asked whether it can run
before it is given minutes of work.

"Works" is more than "is on PATH": docker needs its daemon, podman and buildah their storage and
a runtime. buildah reads BUILDAH_ISOLATION (chroot where the OCI runtime cannot run in this
cgroup setup), so torchenv does not choose an isolation for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torchenv.backends.tools import BackendError, Progress, run_step
from torchenv.errors import UsageError
from torchenv.i18n import Msg, _
from torchenv.models.process import Runner
from torchenv.models.ship import NETRC_SECRET

BUILDERS = ("docker", "podman", "buildah")
PROBE_TIMEOUT = 20.0
BUILD_TIMEOUT = 3 * 3600.0
# the cheapest command that fails when the builder cannot build: no daemon, no storage
_PROBE = {
    "docker": ["info", "--format", "{{.ServerVersion}}"],
    "podman": ["info", "--format", "{{.Store.GraphRoot}}"],
    "buildah": ["info"],
}


@dataclass(frozen=True)
class Builder:
    tool: str
    path: str


def find_builder(
    runner: Runner, which: Callable[[str], str | None], wanted: str | None = None
) -> Builder:
    """The first of docker, podman, buildah (or ``wanted``) that answers; otherwise an error
    that says, for each, why it cannot build here."""
    if wanted is not None and wanted not in BUILDERS:
        raise UsageError(
            "builder-unknown",
            Msg("Unknown builder {builder}.", builder=repr(wanted)),
            Msg("Use docker, podman or buildah."),
        )
    reasons: list[str] = []
    for tool in (wanted,) if wanted else BUILDERS:
        path = which(tool)
        if path is None:
            reasons.append(Msg("{tool}: not on PATH", tool=tool))
            continue
        result = runner([path, *_PROBE[tool]], timeout=PROBE_TIMEOUT)
        if result.ok:
            return Builder(tool, path)
        command = " ".join([tool, *_PROBE[tool][:1]])
        reasons.append(
            Msg(
                "{tool}: `{command}` failed: {failure}",
                tool=tool,
                command=command,
                failure=result.describe_failure(),
            )
        )
    # one line per builder, each reason translated where the message is shown
    listed = Msg("No image builder works on this machine:\n  {reason}", reason=reasons[0])
    for reason in reasons[1:]:
        listed = Msg("{message}\n  {reason}", message=listed, reason=reason)
    raise BackendError(
        "no-image-builder",
        listed,
        Msg(
            "The files are written: build them elsewhere with `docker build -t IMAGE DIR`, or "
            "install docker, podman or buildah here (and start the docker daemon)."
        ),
    )


def build_argv(
    builder: Builder,
    out: str,
    image: str,
    build_args: Sequence[str] = (),
    netrc: str | None = None,
) -> list[str]:
    """``netrc``: a file given to the build as the secret the Dockerfile mounts for the install
    (docker, podman and buildah all take ``--secret id=...,src=...``)."""
    argv = [builder.path, "bud" if builder.tool == "buildah" else "build"]
    if builder.tool in ("buildah", "podman"):
        # their default OCI format has no HEALTHCHECK or SHELL: both would be dropped
        argv += ["--format", "docker"]
    if builder.tool == "buildah":
        argv.append("--layers")  # reuse the lock's layer when only torchenv or configs changed
    for arg in build_args:
        argv += ["--build-arg", arg]
    if netrc is not None:
        argv += ["--secret", f"id={NETRC_SECRET},src={netrc}"]
    return [*argv, "--tag", image, out]


def build_image(
    runner: Runner,
    builder: Builder,
    out: str,
    image: str,
    progress: Progress,
    verbose: bool,
    build_args: Sequence[str] = (),
    netrc: str | None = None,
) -> tuple[tuple[str, ...], float]:
    argv = build_argv(builder, out, image, build_args, netrc)
    progress(
        _(
            "building {image} with {tool} (the first build downloads the base and the locked "
            "packages)"
        ).format(image=image, tool=builder.tool)
    )
    result = run_step(runner, "image build", argv, progress, verbose, timeout=BUILD_TIMEOUT)
    return tuple(argv), result.seconds
