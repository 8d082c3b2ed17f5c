"""Shell completion as the README documents it (click's): the script each shell sources, then
completions asked of a real bash and fish, and of zsh's side of the protocol (zsh completes only
inside its line editor, so the script is loaded in a real zsh and the answers checked)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builders import require

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent  # where the torchenv entry point of this checkout is


def shell_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env or shell_env(), timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


BASH = """
source <(_TORCHENV_COMPLETE=bash_source torchenv)
ask() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
        _torchenv_completion torchenv; echo "${COMPREPLY[*]}"; }
ask torchenv pl
ask torchenv deploy --to ''
ask torchenv monitor s
ask torchenv doctor --fail
"""


def test_bash() -> None:
    require(shutil.which("bash") is not None, "bash is not installed")
    lines = run(["bash", "-c", BASH]).splitlines()
    assert lines == ["plan", "compose k8s pytorchjob slurm", "serve", "--fail-on"]


def test_fish() -> None:
    require(shutil.which("fish") is not None, "fish is not installed (apt-get install fish)")
    script = (
        "env _TORCHENV_COMPLETE=fish_source torchenv | source\n"
        'complete -C "torchenv pl"\ncomplete -C "torchenv deploy --to "\n'
        'complete -C "torchenv verify --ju"\n'
    )
    lines = [line.split("\t")[0] for line in run(["fish", "-c", script]).splitlines()]
    assert lines == ["plan", "compose", "k8s", "pytorchjob", "slurm", "--junit"]


def test_zsh() -> None:
    require(shutil.which("zsh") is not None, "zsh is not installed (apt-get install zsh)")
    script = (
        "autoload -U compinit && compinit -u\n"
        'eval "$(_TORCHENV_COMPLETE=zsh_source torchenv)"\n'
        "print -r -- $_comps[torchenv]\n"
    )
    assert run(["zsh", "-f", "-c", script]).strip() == "_torchenv_completion"
    # what the loaded function asks torchenv, and the answer it reads (type, value, help)
    env = {**shell_env(), "_TORCHENV_COMPLETE": "zsh_complete"}
    answer = run(["torchenv"], {**env, "COMP_WORDS": "torchenv pl", "COMP_CWORD": "1"})
    assert answer.splitlines()[:2] == ["plain", "plan"]
    answer = run(["torchenv"], {**env, "COMP_WORDS": "torchenv ci --to ", "COMP_CWORD": "3"})
    assert [v for v in answer.splitlines() if v in ("github", "gitlab")] == ["github", "gitlab"]
