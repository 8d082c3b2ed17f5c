"""Explanations of the rules on NVIDIA's CUDA libraries installed from PyPI beside torch
(rules/cuda_libs.py; failure catalog B1, B3, B4, F4)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog, issue

ENTRIES = (
    RuleExplanation(
        id="nvidia-mixed-cuda-majors",
        meaning=N_(
            "NVIDIA CUDA libraries from PyPI are installed for two CUDA majors, e.g. "
            "`nvidia-*-cu12` packages next to the CUDA 13 packages of torch 2.11 and newer, or a "
            "set whose major differs from torch's. Several of these packages write the same paths "
            "(`nvidia-nccl-cu12` and `nvidia-nccl-cu13` both write "
            "`nvidia/nccl/lib/libnccl.so.2`): the last one installed wins, and uninstalling one "
            "deletes the other's file. Expect `cannot open shared object file` or undefined NCCL "
            "or cuBLAS symbols. It happens when torch moves to a new CUDA major without removing "
            "the old wheels, or when another package pulls in older ones."
        ),
        detection=N_(
            "Groups the installed distributions by CUDA major: the `-cuNN` suffix of "
            "`nvidia-*-cuNN` names, and the version major of the unsuffixed CUDA 13 packages "
            "(`nvidia-cuda-runtime`, `nvidia-cuda-nvrtc`, `nvidia-cuda-cupti`, `nvidia-cuda-nvcc`, "
            "`nvidia-nvjitlink`, `nvidia-cublas`, `cuda-toolkit`). It reports more than one major, "
            "or a major other than the one of `cuda` in `torch/version.py`. For each foreign "
            "package it checks whether another, non-NVIDIA package requires it, so that the fix "
            "does not remove something still needed. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Uninstall the foreign-major packages the finding lists, then put torch's own "
                    "back: `<prefix>/bin/python -m pip uninstall -y nvidia-nccl-cu12 "
                    "nvidia-cublas-cu12 ...`, then `<prefix>/bin/python -m pip install "
                    "--force-reinstall --no-deps <torch's pins>`."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip uninstall --python <prefix>/bin/python <foreign packages>`, then `uv "
                    "pip install --python <prefix>/bin/python --reinstall --no-deps <torch's "
                    "pins>`."
                ),
            ),
            (
                "any",
                N_(
                    "A package that needs the other CUDA major cannot share an environment with "
                    "this torch: give it an environment of its own."
                ),
            ),
        ),
        sources=(
            catalog("B4"),
            issue("VichyTong/CodeJudge", 2),
            issue("rwth-i6/returnn", 1802),
            issue("pytorch/pytorch", 91691),
        ),
    ),
    RuleExplanation(
        id="file-owned-by-two-distributions",
        meaning=N_(
            "Two installed distributions wrote a file at the same path with different content. The "
            "one installed last won, and uninstalling either one deletes the file the other needs. "
            "The typical case is two NCCL wheels (`nvidia-nccl-cu12` and `nvidia-nccl-cu13`) "
            "sharing `nvidia/nccl/lib/libnccl.so.2`, which gives `libtorch_cuda.so: undefined "
            "symbol: nccl...`. A clash on a shared library is an error, on other files a warning."
        ),
        detection=N_(
            "Reads the RECORD file of every installed distribution and finds paths that more than "
            "one distribution lists with different hashes. Identical files, such as the empty "
            "`nvidia/__init__.py` that every cu12 wheel ships, are not counted. Paths of shared "
            "libraries (`.so`, `.pyd`, `.dll`) make it an error. When one owner is a CUDA package "
            "that torch pins, the fix keeps that one. The result is cached until a RECORD changes. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Uninstall the package torch does not need, then reinstall the pinned one "
                    "without dependencies to restore its files: `<prefix>/bin/python -m pip "
                    "uninstall -y nvidia-nccl-cu12 && <prefix>/bin/python -m pip install "
                    '--force-reinstall --no-deps "nvidia-nccl-cu13==<torch\'s pin>"`.'
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip uninstall --python <prefix>/bin/python <other>`, then `uv pip install "
                    "--python <prefix>/bin/python --reinstall --no-deps <kept>==<version>`."
                ),
            ),
            (
                "conda",
                N_(
                    "When conda owns one of the copies, remove the pip copy and restore conda's: "
                    "`conda install -p <prefix> --force-reinstall <name>`."
                ),
            ),
        ),
        sources=(
            catalog("B3"),
            catalog("E1"),
            issue("pytorch/pytorch", 186591),
            issue("rwth-i6/returnn", 1802),
        ),
    ),
    RuleExplanation(
        id="cuda-libs-do-not-match-torch",
        meaning=N_(
            "torch's Linux wheels take NVIDIA's CUDA libraries from separate PyPI packages, pinned "
            "to exact versions: `nvidia-*-cu12` packages up to torch 2.10; from 2.11 the "
            "`cuda-toolkit[...]` metapackage plus `nvidia-cudnn-cu13`, `nvidia-nccl-cu13` and "
            "others. When one is missing or at another version, torch fails to load "
            "(`libcudnn.so.9: cannot open shared object file`) or fails later with undefined "
            "symbols (`libtorch_cuda.so: undefined symbol: ncclCommRegister`). Causes: "
            "`--no-deps`, a lock or export that dropped platform-marked dependencies, or another "
            "package pinning a different version."
        ),
        detection=N_(
            "Reads torch's `Requires-Dist` entries for `nvidia-*` and `cuda-*` packages, evaluates "
            "their environment markers for this interpreter and machine (Python version, platform, "
            "architecture), and follows the `cuda-toolkit[...]` extras one level down. Each "
            "requirement is checked against the installed version. Only for CUDA builds (`cuda` "
            "set in `torch/version.py`). `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Install exactly torch's pins, which the finding lists (e.g. "
                    '`<prefix>/bin/python -m pip install "nvidia-nccl-cu13==2.30.7"`), or '
                    "reinstall torch from the index it came from so pip pulls its dependencies "
                    "again: `<prefix>/bin/python -m pip install --force-reinstall torch==<version> "
                    "--index-url <index>`."
                ),
            ),
            ("uv", N_("`uv pip install --python <prefix>/bin/python <torch's pins>`.")),
            (
                "any",
                N_(
                    "If another package pins a different version, the two cannot share one "
                    "environment; `pip show <package>` lists what requires it (`Required-by`)."
                ),
            ),
        ),
        sources=(
            catalog("B1"),
            catalog("B3"),
            catalog("F4"),
            issue("pytorch/pytorch", 104259),
            issue("pytorch/pytorch", 119932),
            issue("astral-sh/uv", 11411),
        ),
    ),
)
