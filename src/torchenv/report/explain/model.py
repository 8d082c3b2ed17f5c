"""One rule's full explanation: what a finding means, how torchenv detects it, how to fix it with
each installer, and where the facts come from."""

from __future__ import annotations

from dataclasses import dataclass

# "any": the step is the same whatever installed the environment (a driver, an env variable)
INSTALLERS = ("uv", "pip", "conda", "any")

Fix = tuple[str, str]  # (installer, text)


@dataclass(frozen=True)
class RuleExplanation:
    id: str  # the rule id, as registered with @rule
    # the prose (meaning, detection, each fix's text) is English, marked with N_: docs/rules/ is
    # written from it as it is, render_explain translates it where it is shown
    meaning: str  # what the finding means for the user
    detection: str  # which files, commands and facts the rule reads; whether it needs --deep
    fixes: tuple[Fix, ...]  # per installer where they differ
    sources: tuple[str, ...]  # URLs, or "failure-catalog.md §4 A1" style references (untranslated)


def catalog(case: str) -> str:
    """A case of the failure catalog's section 4: ``catalog("A1")``."""
    return f"failure-catalog.md §4 {case}"


def issue(repo: str, number: int) -> str:
    """A GitHub issue (GitHub redirects an issue number that is a pull request)."""
    return f"https://github.com/{repo}/issues/{number}"


def pull(repo: str, number: int) -> str:
    return f"https://github.com/{repo}/pull/{number}"


PYTORCH_INDEX = "https://download.pytorch.org/whl"
NVIDIA_RELEASE_NOTES = "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html"
NVIDIA_MINOR_COMPAT = (
    "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"
)
UV_PYTORCH_GUIDE = "https://docs.astral.sh/uv/guides/integration/pytorch/"
CONDA_FORGE_PYTORCH = "https://github.com/conda-forge/pytorch-cpu-feedstock"
PYTORCH_CONDA_DEPRECATION = issue("pytorch/pytorch", 138506)
