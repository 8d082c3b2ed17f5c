"""``torchenv ci --to github|gitlab``: write the project's CI workflow (ship/ciworkflow.py).

Everything a workflow says comes from the spec or the command line and goes into YAML, shell
lines and CI expressions, so each value is checked against a narrow form first: the spec's
path (relative to the repository root, plain characters only), the runner label, the image
reference. The file is written where the CI system reads it; one that torchenv did not write
(no marker line) is never replaced.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from torchenv.commands.image import torchenv_version
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.ci import CI_SCHEMA, CI_TARGETS, CiReport, CiRequest
from torchenv.models.ship import parse_reference
from torchenv.models.spec import LOCK_FILE, SPEC_FILE
from torchenv.ship.ciworkflow import GHCR_DEFAULT, GITLAB_DEFAULT, MARKER, workflow
from torchenv.untrusted import files

WHERE = {"github": Path(".github") / "workflows" / "torchenv.yml", "gitlab": Path(".gitlab-ci.yml")}
# a path the workflow names: no spaces, quotes, "$" or "${{" (GitHub would evaluate it)
SAFE_PATH = re.compile(r"(?!.*(^|/)\.\.(/|$))[A-Za-z0-9._+-][A-Za-z0-9._+/-]{0,199}")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_PYTHON = "3.12"
HEAD = 4096  # bytes of an existing file read to find the marker


def run_ci(
    spec_file: str | None,
    cwd: Path,
    *,
    to: str,
    out: str | None = None,
    gpu_runner: str | None = None,
    image: bool = False,
    image_ref: str | None = None,
    install: str | None = None,
) -> CiReport:
    from torchenv.spec import load_spec, spec_directory  # noqa: PLC0415

    if to not in CI_TARGETS:
        raise UsageError(
            "ci-target",
            Msg(
                "--to {value} is not one of {choices}.",
                value=repr(to),
                choices=", ".join(CI_TARGETS),
            ),
        )
    spec = load_spec(Path(spec_file) if spec_file else None, cwd)
    home = spec_directory(spec, cwd)
    root = (cwd / out).resolve() if out else _repository(home.resolve())
    spec_path = Path(spec.path).resolve() if spec.path else home.resolve() / SPEC_FILE
    relative = _inside(spec_path, root)
    lock_name = "conda.lock" if spec.installer == "conda" else LOCK_FILE
    lock = str(Path(relative).parent / lock_name) if "/" in relative else lock_name
    version = torchenv_version()
    request = CiRequest(
        to=to,
        spec=relative,
        lock=lock,
        python=(spec.python or DEFAULT_PYTHON).rstrip("t"),
        installer=spec.installer,
        install=_install(install, spec.installer, version),
        torchenv_version=version,
        gpu_runner=_label(gpu_runner),
        image=_image(to, image or image_ref is not None, image_ref),
    )
    target = root / WHERE[to]
    replaced = _replaceable(target)
    text, jobs = workflow(request)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            "ci-unwritable",
            Msg("Cannot create {path}: {error}.", path=target.parent, error=files.describe(exc)),
        ) from None
    files.write_output(target, text.encode("utf-8"), what=Msg("the workflow"))
    return CiReport(CI_SCHEMA, to, str(target), replaced, jobs, _notes(request))


def _repository(start: Path) -> Path:
    """The git repository around ``start`` (where .github/ and .gitlab-ci.yml are read), else
    ``start`` itself."""
    for directory in (start, *start.parents):
        if os.path.lexists(directory / ".git"):
            return directory
    return start


def _inside(spec_path: Path, root: Path) -> str:
    try:
        relative = spec_path.relative_to(root).as_posix()
    except ValueError:
        raise UsageError(
            "ci-spec-outside",
            Msg(
                "The spec {spec} is not inside {root}, the repository the workflow is for.",
                spec=spec_path,
                root=root,
            ),
            Msg("Run it from the repository, or pass --out with the repository's root."),
        ) from None
    if not SAFE_PATH.fullmatch(relative):
        raise UsageError(
            "ci-path",
            Msg(
                "The spec's path {path} cannot go into a workflow: only letters, digits and "
                "._+-/ are kept as they are in YAML, shell and CI expressions.",
                path=repr(relative),
            ),
            Msg("Rename the directories on the way to the spec."),
        )
    return relative


def _install(install: str | None, installer: str, version: str) -> str:
    if install is None:
        extra = "[conda]" if installer == "conda" else ""
        return f'python -m pip install "torchenv{extra}=={version}"'
    if not install.strip() or not install.isprintable() or len(install) > 500:
        raise UsageError(
            "ci-install",
            Msg("--install takes one line of shell that installs torchenv on the runner."),
            Msg(
                "For example: {example}",
                example='--install "python -m pip install ./dist/torchenv-0.1.0-py3-none-any.whl"',
            ),
        )
    return install


def _label(label: str | None) -> str | None:
    if label is not None and not LABEL.fullmatch(label):
        raise UsageError(
            "ci-runner-label",
            Msg(
                "--gpu-runner {value} is not a runner label (letters, digits, ._-).",
                value=repr(label),
            ),
        )
    return label


def _image(to: str, wanted: bool, ref: str | None) -> str | None:
    if not wanted:
        return None
    if ref is None:  # the registry of the CI system itself, credentials from the CI system
        return GHCR_DEFAULT if to == "github" else GITLAB_DEFAULT
    parts = parse_reference(ref)
    if parts is None or parts["tag"] or parts["digest"] or parts["host"] is None:
        raise UsageError(
            "ci-image",
            Msg(
                "--image-ref {value} is not a repository with its registry (the git tag "
                "becomes the image's tag).",
                value=repr(ref),
            ),
            Msg("For example: {example}", example="--image-ref ghcr.io/acme/vision"),
        )
    return ref.lower() if parts["host"] == "ghcr.io" else ref


def _replaceable(target: Path) -> bool:
    """Whether ``target`` exists and torchenv wrote it; a file of the user's is refused."""
    if not os.path.lexists(target):
        return False
    try:
        head = files.read_prefix(target, HEAD).decode("utf-8", "replace")
    except OSError as exc:  # NotRegularFile too: a FIFO, a directory, a link
        raise UsageError(
            "ci-not-a-file",
            Msg(
                "{path} is not a file torchenv can replace: {error}; it is left as it is.",
                path=target,
                error=files.describe(exc),
            ),
        ) from None
    if not head.startswith(f"# {MARKER}"):  # the first line, as the file itself says
        raise UsageError(
            "ci-user-file",
            Msg(
                "{path} was not written by `torchenv ci` (it has no such line at its top): "
                "it is left as it is.",
                path=target,
            ),
            Msg(
                "Move it away (or merge the jobs by hand), or write the workflow elsewhere with "
                "--out DIR."
            ),
        )
    return True


def _notes(request: CiRequest) -> tuple[str, ...]:
    notes = [
        f"the runners install torchenv with: {request.install}; if your team installs it from "
        "elsewhere (a wheel in the repository, a git URL, a private index), pass --install"
    ]
    if request.installer == "pip" and request.to == "gitlab":
        notes.append(
            f"the pip installer needs Python {request.python} on the runner's image "
            "(python:3.12-bookworm has 3.12)"
        )
    if request.gpu_runner:
        notes.append(
            f"the full GPU checks run on a self-hosted runner labelled {request.gpu_runner}"
        )
    if request.image:
        notes.append(f"on tags v* the image {request.image}:<tag> is built and pushed")
        if request.image not in (GHCR_DEFAULT, GITLAB_DEFAULT):
            notes.append(
                "set the CI secrets/variables REGISTRY_USERNAME and REGISTRY_PASSWORD for "
                f"{request.image.split('/', 1)[0]}"
            )
        if request.to == "gitlab":
            notes.append(
                "buildah needs a runner whose job containers may build images (privileged, or "
                "able to run rootless buildah)"
            )
    if request.to == "github" and request.gpu_runner:
        notes.append(
            f"actionlint: list the label in .github/actionlint.yaml (self-hosted-runner: "
            f"labels: [{request.gpu_runner}])"
        )
    return tuple(notes)
