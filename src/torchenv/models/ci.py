"""``torchenv ci``: the request a workflow is written from and what was written (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass

CI_SCHEMA = "torchenv.ci/1"
CI_TARGETS = ("github", "gitlab")


@dataclass(frozen=True)
class CiRequest:
    """Everything a workflow says, checked: paths are relative to the repository root and made
    of safe characters only (they go into YAML, shell lines and CI expressions)."""

    to: str  # "github" or "gitlab"
    spec: str  # the spec file, relative to the repository root ("torchenv.toml")
    lock: str  # the lock file beside it ("pylock.toml", "ml/conda.lock")
    python: str  # the runner's Python for torchenv itself ("3.12")
    installer: str  # the spec's installer: which cache to keep between runs
    install: str  # the shell command that installs torchenv on the runner
    torchenv_version: str
    gpu_runner: str | None = None  # the label of a self-hosted GPU runner
    image: str | None = None  # build and push this image reference on tags (None: no image)


@dataclass(frozen=True)
class CiReport:
    schema: str
    to: str
    path: str  # the file written
    replaced: bool  # an earlier file torchenv wrote was replaced
    jobs: tuple[str, ...]
    notes: tuple[str, ...] = ()
