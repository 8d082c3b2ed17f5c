"""Explanations of the rules on conda environments and on mixing conda with pip
(rules/conda.py; failure catalog family E).

PyTorch published its last release to the ``pytorch`` conda channel with 2.5 (2.5.1): conda users
get torch from conda-forge (``pytorch-gpu`` / ``pytorch`` with ``cuda-version``), pip and uv users
from download.pytorch.org/whl/cuXYZ or PyPI (compat-matrix.md section 7).
"""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import (
    CONDA_FORGE_PYTORCH,
    PYTORCH_CONDA_DEPRECATION,
    RuleExplanation,
    catalog,
    issue,
    pull,
)

ENTRIES = (
    RuleExplanation(
        id="pip-torch-over-conda-pytorch",
        meaning=N_(
            "conda's records say this environment has a conda torch package (`pytorch`, "
            "`pytorch-gpu`, `libtorch`, `pytorch-cuda`, ...), but the `torch` Python package on "
            "disk was installed by pip or uv. Both claim the same files, so conda no longer knows "
            "what is on disk, and a later `conda install` or `conda update` can overwrite part of "
            "pip's torch. Symptoms: `torch.__version__` differs from `conda list pytorch`, "
            "`libtorch_cuda_cu.so: cannot open shared object file`, random undefined symbols."
        ),
        detection=N_(
            "Reads the `conda-meta/*.json` records and looks for `pytorch`, `pytorch-gpu`, "
            "`pytorch-cpu`, `libtorch`, `pytorch-cuda` or `pytorch-nightly`. Then reads the "
            "`INSTALLER` file in `torch-*.dist-info`: when it names anything but conda (pip, uv), "
            "the finding is reported. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Keep pip's torch: `conda remove -p <prefix> --force <the conda packages "
                    "listed>`, then `<prefix>/bin/python -m pip install --force-reinstall "
                    "--no-deps torch==<version>` (with its `--index-url` for a `+cuXYZ` build) to "
                    "restore its files."
                ),
            ),
            (
                "uv",
                N_(
                    "Keep uv's torch: `conda remove -p <prefix> --force <the conda packages "
                    "listed>`, then `uv pip install --python <prefix>/bin/python --reinstall "
                    "--no-deps torch==<version>`."
                ),
            ),
            (
                "conda",
                N_(
                    "Keep conda's: `<prefix>/bin/python -m pip uninstall -y torch torchvision "
                    "torchaudio`, then `conda install -p <prefix> -c conda-forge --force-reinstall "
                    "pytorch`. If the conda packages came from the `pytorch` channel (last release "
                    "2.5.1), move to conda-forge's `pytorch-gpu` instead."
                ),
            ),
            ("any", N_("Best: recreate the environment with one installer for torch.")),
        ),
        sources=(
            catalog("E1"),
            issue("thousandbrainsproject/tbp.monty", 385),
            issue("huggingface/transformers", 29022),
        ),
    ),
    RuleExplanation(
        id="conda-pip-duplicate-package",
        meaning=N_(
            "A package other than torch was installed twice into the same site-packages: once by "
            "conda, once by pip or uv. The later install overwrote the earlier one's files, so "
            "`conda list` may show a version that is not the one Python imports, and removing "
            "either copy can break the other. Not always fatal, but later installs and updates "
            "become unpredictable."
        ),
        detection=N_(
            "Matches the names of the `conda-meta/*.json` records against the installed "
            "`*.dist-info` distributions whose `INSTALLER` file says pip or uv. torch itself is "
            "left to pip-torch-over-conda-pytorch. Names are compared as they are, so a package "
            "whose conda and PyPI names differ is not matched. `--deep` is not needed."
        ),
        fixes=(
            ("pip", N_("`<prefix>/bin/python -m pip uninstall -y <names>`.")),
            ("uv", N_("`uv pip uninstall --python <prefix>/bin/python <names>`.")),
            (
                "conda",
                N_(
                    "After removing the pip copy, restore conda's files: `conda install -p "
                    "<prefix> --force-reinstall <names>`."
                ),
            ),
        ),
        sources=(catalog("E1"), issue("huggingface/transformers", 29022)),
    ),
    RuleExplanation(
        id="pytorch-channel-missing-version",
        meaning=N_(
            "An environment file or `.condarc` asks the `pytorch` conda channel for a torch "
            "version it never published. PyTorch published to that channel for the last time with "
            "2.5 (2.5.1); from 2.6 it publishes no conda packages. The solve then fails with "
            "`PackagesNotFoundError`, falls back to an older or CPU build, or mixes channels. A "
            "conda-meta record that claims a newer pytorch from that channel is reported too: it "
            "is not what it says."
        ),
        detection=N_(
            "Reads the channel files `<prefix>/.condarc`, `~/.condarc`, `~/.conda/.condarc`, "
            "`~/.config/conda/.condarc`, `$CONDARC`, and `environment.yml`/`environment.yaml` in "
            "the current directory. In a file that lists the `pytorch` channel or has a "
            "`pytorch::` spec, it parses each `pytorch`/`torch` dependency and reports one that "
            "only a release after the channel's last (2.5.1) can satisfy. It also reports a "
            "`conda-meta/pytorch-*.json` record from channel `pytorch` with a version above 2.5.1. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "conda",
                N_(
                    "Use conda-forge. In `environment.yml`: `channels: [conda-forge]`, and depend "
                    "on `pytorch-gpu` (CUDA) or `pytorch`, with `cuda-version` pinning the CUDA "
                    "minor (e.g. `cuda-version=12.9`). Drop `pytorch-cuda`, `pytorch-mutex`, "
                    "`cpuonly` and the `pytorch` and `nvidia` channels. On the command line, "
                    "`conda install -c conda-forge pytorch-gpu cuda-version=12.9` replaces the old "
                    "`conda install pytorch pytorch-cuda=12.1 -c pytorch -c nvidia`."
                ),
            ),
            (
                "pip",
                N_(
                    "Or use the pip wheels inside the conda environment, with no conda pytorch in "
                    "it: `<prefix>/bin/python -m pip install torch --index-url "
                    "https://download.pytorch.org/whl/cuXYZ`."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch --index-url "
                    "https://download.pytorch.org/whl/cuXYZ`, with no conda pytorch in the "
                    "environment."
                ),
            ),
        ),
        sources=(
            catalog("E2"),
            PYTORCH_CONDA_DEPRECATION,
            "https://pytorch.org/blog/pytorch2-6/",
            "compat-matrix.md §7",
            CONDA_FORGE_PYTORCH,
        ),
    ),
    RuleExplanation(
        id="pytorch-channel-deprecated",
        meaning=N_(
            "Packages in this environment come from the `pytorch` (or `pytorch-nightly`) conda "
            "channel, or a channel file lists it. That channel is frozen: its last torch is 2.5.1, "
            "so it brings no newer torch and no fixes. conda-forge's `pytorch` and `pytorch-gpu` "
            "packages are the maintained conda builds."
        ),
        detection=N_(
            "Reads the channel of every `conda-meta/*.json` record (its `channel` or `url` field) "
            "and the channel lists of `<prefix>/.condarc`, `~/.condarc`, `~/.conda/.condarc`, "
            "`~/.config/conda/.condarc`, `$CONDARC`, and `environment.yml`/`environment.yaml` in "
            "the current directory. A record or file that uses `pytorch` or `pytorch-nightly` is "
            "reported. The `nvidia` channel is not: it still publishes CUDA toolkit packages. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "conda",
                N_(
                    "Move to conda-forge: best recreate the environment, `conda create -p <new "
                    "prefix> -c conda-forge pytorch-gpu cuda-version=12.9`, or in place `conda "
                    "install -p <prefix> -c conda-forge pytorch-gpu`. Then remove `pytorch` from "
                    "the channels in `.condarc` and `environment.yml`."
                ),
            ),
            (
                "pip",
                N_(
                    "Or replace conda's pytorch with the pip wheels: `conda remove -p <prefix> "
                    "--force pytorch pytorch-cuda pytorch-mutex`, then `<prefix>/bin/python -m pip "
                    "install torch --index-url https://download.pytorch.org/whl/cuXYZ`. Do not mix "
                    "the two afterwards."
                ),
            ),
        ),
        sources=(
            catalog("E2"),
            PYTORCH_CONDA_DEPRECATION,
            issue("pytorch/tutorials", 3428),
            "compat-matrix.md §7",
        ),
    ),
    RuleExplanation(
        id="conda-cpu-variant",
        meaning=N_(
            "conda installed the CPU build of pytorch although this machine has an NVIDIA GPU, so "
            "`torch.cuda.is_available()` is False. Causes: a leftover `cpuonly` package or a "
            "`pytorch-mutex` with a `cpu` build (from the `pytorch` channel), or conda-forge's "
            "solver not seeing a driver (no `__cuda` virtual package) and choosing the CPU variant."
        ),
        detection=N_(
            "Reads the build strings of the `pytorch` and `libtorch` records in "
            "`conda-meta/*.json`: a build that contains `cpu`, or does not contain `cuda`, is a "
            "CPU build (conda-forge's CUDA builds look like `cuda129_...`, its CPU builds like "
            "`cpu_...`). An installed `cpuonly`, or a `pytorch-mutex` with a `cpu` build, counts "
            "too. Reported only when an NVIDIA GPU is present: from NVML or `nvidia-smi`, or a PCI "
            "device with vendor 0x10de under `/sys/bus/pci/devices`. `--deep` is not needed."
        ),
        fixes=(
            (
                "conda",
                N_(
                    "`conda remove -p <prefix> cpuonly` if it is installed, then `conda install -p "
                    '<prefix> -c conda-forge "pytorch=*=cuda*"` (or `pytorch-gpu`). Where the '
                    "solver cannot see a driver (a build host, a container without GPUs), run the "
                    "install with `CONDA_OVERRIDE_CUDA=12.9`."
                ),
            ),
            (
                "any",
                N_(
                    "If the environment still holds `pytorch` channel packages, move it to "
                    "conda-forge as a whole (see pytorch-channel-deprecated)."
                ),
            ),
        ),
        sources=(
            catalog("E3"),
            issue("conda-forge/pytorch-cpu-feedstock", 338),
            pull("conda-forge/conda-forge.github.io", 2416),
            "compat-matrix.md §7",
        ),
    ),
    RuleExplanation(
        id="conda-mkl-itt-symbol",
        meaning=N_(
            "pytorch builds from the `pytorch` and `defaults` channels link MKL dynamically and "
            "use a symbol (`iJIT_NotifyEvent`) that MKL 2024.1 removed. With mkl 2024.1 or newer "
            "in the environment, `import torch` fails with `libtorch_cpu.so: undefined symbol: "
            "iJIT_NotifyEvent`. pip wheels link MKL statically and are not affected."
        ),
        detection=N_(
            "Reads two conda-meta records: the channel of `pytorch` (`pytorch`, `defaults` or "
            "`anaconda`) and the version of `mkl`. Reported when mkl is 2024.1 or newer. `--deep` "
            "is not needed."
        ),
        fixes=(
            (
                "conda",
                N_(
                    "`conda install -p <prefix> mkl=2024.0`, and pin it (`mkl=2024.0` in "
                    "`environment.yml`). Better, since the `pytorch` channel gets no fixes: "
                    "recreate the environment from conda-forge, `conda create -p <new prefix> -c "
                    "conda-forge pytorch-gpu`."
                ),
            ),
            (
                "pip",
                N_(
                    "Or replace conda's pytorch with the pip wheels, which link MKL statically: "
                    "`conda remove -p <prefix> --force pytorch`, then `<prefix>/bin/python -m pip "
                    "install torch`."
                ),
            ),
        ),
        sources=(
            catalog("E4"),
            issue("pytorch/pytorch", 123097),
            issue("conda/conda", 13812),
        ),
    ),
    RuleExplanation(
        id="conda-meta-unreadable",
        meaning=N_(
            "A file in `conda-meta/` cannot be read or is not a valid package record. conda keeps "
            "one JSON record per installed package there; with a corrupt one it cannot update or "
            "remove that package and may fail on the whole environment. torchenv falls back to the "
            "name, version and build in the file name."
        ),
        detection=N_(
            "Parses every `conda-meta/*.json` (size-limited) and requires a JSON object with "
            "`name`, `version` and `build` strings. Each record that fails is reported with the "
            "reason. `--deep` is not needed."
        ),
        fixes=(
            (
                "conda",
                N_(
                    "`conda install -p <prefix> --force-reinstall <name>` for each package named, "
                    "or recreate the environment."
                ),
            ),
        ),
        sources=(
            "https://docs.conda.io/projects/conda/en/latest/user-guide/concepts/environments.html",
            catalog("E1"),
        ),
    ),
)
