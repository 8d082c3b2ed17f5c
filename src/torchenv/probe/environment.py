"""Assemble the facts of one Python environment."""

from __future__ import annotations

import os
from pathlib import Path

from torchenv.models import Environment, Interpreter
from torchenv.probe.conda import read_conda_meta
from torchenv.probe.context import ProbeContext
from torchenv.probe.distributions import cached_file_conflicts, scan_site_dirs
from torchenv.probe.interpreter import interpreter_from_files, query_interpreter
from torchenv.probe.jupyter import probe_kernels
from torchenv.probe.numpy_abi import numpy1_modules
from torchenv.probe.target import TargetChoice, choose_target
from torchenv.probe.torch_build import probe_domain_library, probe_torch, wheel_cuda_sonames


def detect_kind(prefix: Path, interpreter: Interpreter) -> str:
    text = prefix.as_posix()
    if "/.pixi/envs/" in text + "/":
        return "pixi"
    if (prefix / "conda-meta").is_dir():
        return "conda"
    if (prefix / "pyvenv.cfg").is_file():
        return "venv"
    if (
        interpreter.prefix
        and interpreter.base_prefix
        and interpreter.prefix != interpreter.base_prefix
    ):
        return "venv"
    if interpreter.runs:
        return "system"
    return "unknown"


def _prefix_of(choice: TargetChoice, interpreter: Interpreter | None) -> Path:
    if choice.prefix is not None:
        return choice.prefix
    if interpreter is not None and interpreter.prefix:
        return Path(interpreter.prefix)
    # choose_target always gives a prefix or a python
    return Path(choice.python or ".").absolute().parent.parent


def probe_environment(ctx: ProbeContext, python: str | None, prefix: str | None) -> Environment:
    choice = choose_target(ctx, python, prefix)
    interpreter = query_interpreter(ctx, choice.python) if choice.python else None
    root = _prefix_of(choice, interpreter)
    if interpreter is None or not interpreter.runs:
        why = (
            interpreter.notes[0].message
            if interpreter is not None and interpreter.notes
            else f"no python executable under {root}"
        )
        interpreter = interpreter_from_files(root, choice.python, why)
    # one entry per real directory: lib64 -> lib symlinks must not double every package
    real: dict[str, str] = {}
    for path in interpreter.sys_path:
        if os.path.isdir(path):
            real.setdefault(os.path.realpath(path), path)
    sys_dirs = list(real.values())
    dists = scan_site_dirs(sys_dirs)
    with_dists = {d.location for d in dists}
    site_dirs = tuple(
        p
        for p in sys_dirs
        if p in with_dists or os.path.basename(p) in ("site-packages", "dist-packages")
    )
    return Environment(
        prefix=str(root),
        kind=detect_kind(root, interpreter),
        selected_by=choice.selected_by,
        interpreter=interpreter,
        site_dirs=site_dirs,
        distributions=tuple(dists),
        conda=read_conda_meta(ctx, root),
        torch=probe_torch(ctx, sys_dirs, dists),
        torchvision=probe_domain_library("torchvision", sys_dirs, dists),
        torchaudio=probe_domain_library("torchaudio", sys_dirs, dists),
        kernels=probe_kernels(ctx, root),
        file_conflicts=tuple(cached_file_conflicts(ctx, dists)),
        numpy1_modules=numpy1_modules(ctx, dists),
        wheel_cuda_sonames=wheel_cuda_sonames(site_dirs),
    )
