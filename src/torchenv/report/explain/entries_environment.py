"""Explanations of the rules on the environment itself: its interpreter, its package metadata and
its Jupyter kernels and servers (rules/environment.py; failure catalog I1, I3)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import (
    CONDA_FORGE_PYTORCH,
    UV_PYTORCH_GUIDE,
    RuleExplanation,
    catalog,
    issue,
)

ENTRIES = (
    RuleExplanation(
        id="interpreter-does-not-run",
        meaning=N_(
            "The environment's Python interpreter cannot be started, so nothing installed in the "
            "environment can run. A venv holds no full Python: its `bin/python` is a link to, or a "
            "copy of, the interpreter it was made from. When that base Python is removed or "
            "replaced, the venv breaks. torchenv then reads the environment from its files alone, "
            "so other findings may be missing or less precise."
        ),
        detection=N_(
            "torchenv runs the environment's `python` with a small stdlib-only script "
            "(`interp_info.py`) that prints the version, `sys.path` and the `sysconfig` paths as "
            "JSON. The finding appears when that process cannot start, crashes, times out or "
            "prints no answer, or when there is no `python` executable under the prefix. The "
            "evidence quotes the error. The Python version is then read from `pyvenv.cfg`, "
            "`conda-meta/python-*.json` or the `lib/pythonX.Y` directory name. Part of every "
            "`torchenv doctor` run; `--deep` is not needed."
        ),
        fixes=(
            (
                "uv",
                N_(
                    "Recreate the environment with a Python that torch supports: `rm -rf <prefix> "
                    "&& uv venv --python 3.12 <prefix>`, then install the packages again, e.g. "
                    "from a lock with `uv pip sync <lock> --python <prefix>/bin/python`."
                ),
            ),
            (
                "pip",
                N_(
                    "`rm -rf <prefix> && python3.12 -m venv <prefix>`, then reinstall the packages "
                    "from the requirements or lock file the environment came from."
                ),
            ),
            (
                "conda",
                N_(
                    "`conda remove -p <prefix> --all`, then `conda create -p <prefix> -c "
                    "conda-forge python=3.12 <packages>`."
                ),
            ),
            (
                "any",
                N_(
                    "An environment made by torchenv is rebuilt from its spec and lock with "
                    "`torchenv create <spec> --prefix <prefix> --force`."
                ),
            ),
        ),
        sources=("https://docs.python.org/3/library/venv.html",),
    ),
    RuleExplanation(
        id="torch-not-installed",
        meaning=N_(
            "No torch package was found in this environment. That is fine if the environment is "
            "not meant for PyTorch. If it is, torch went into another environment, or its install "
            "failed. The rules about the torch build, its CUDA libraries and torchvision are "
            "skipped."
        ),
        detection=N_(
            "Looks for `torch/__init__.py` in every site directory on the interpreter's "
            "`sys.path`, for a `torch-*.dist-info` directory, and for conda records "
            "(`conda-meta/*.json`) named `pytorch`, `pytorch-gpu` or `pytorch-cpu`. It reports "
            "when none exists; the evidence lists the site directories searched. `--deep` is not "
            "needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "`<prefix>/bin/python -m pip install torch` installs PyPI's default build: a "
                    "CUDA build on Linux x86_64, CPU-only on Windows. For another CUDA variant add "
                    "`--index-url https://download.pytorch.org/whl/cuXYZ` (e.g. `cu126`)."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch --torch-backend=auto` "
                    "picks the PyTorch index from the driver it finds; or name the index with "
                    "`--index-url https://download.pytorch.org/whl/cuXYZ`."
                ),
            ),
            (
                "conda",
                N_(
                    "`conda install -p <prefix> -c conda-forge pytorch-gpu` for a CUDA build "
                    "(`pytorch-cpu` for a CPU build); pin the CUDA minor with `cuda-version`, e.g. "
                    "`cuda-version=12.9`."
                ),
            ),
            (
                "any",
                N_(
                    "`torchenv plan` shows the torch build that fits this machine and the commands "
                    "that install it."
                ),
            ),
        ),
        sources=(
            "https://pytorch.org/get-started/locally/",
            UV_PYTORCH_GUIDE,
            CONDA_FORGE_PYTORCH,
            "compat-matrix.md §8",
        ),
    ),
    RuleExplanation(
        id="metadata-unreadable",
        meaning=N_(
            "An installed package's metadata directory (`*.dist-info` or `*.egg-info`) has no "
            "readable `METADATA` file, or that file has no `Version`. pip and uv read this file to "
            "list, upgrade and uninstall packages, so they may skip the package, fail on it, or "
            "resolve other packages wrongly. It usually comes from an interrupted install or from "
            "files copied by hand."
        ),
        detection=N_(
            "Reads the beginning of every `*.dist-info/METADATA` and `*.egg-info/PKG-INFO` in the "
            "environment's site directories (regular files only). It reports a file that is "
            "missing, unreadable or malformed, and a `METADATA` without a `Version` header. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Reinstall the named package at its version without touching its dependencies: "
                    "`<prefix>/bin/python -m pip install --force-reinstall --no-deps "
                    "<name>==<version>`. If pip refuses, delete the broken `*.dist-info` directory "
                    "first."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python --reinstall --no-deps "
                    "<name>==<version>`."
                ),
            ),
            (
                "conda",
                N_(
                    "For a package conda installed: `conda install -p <prefix> --force-reinstall "
                    "<name>`."
                ),
            ),
        ),
        sources=(
            "https://packaging.python.org/en/latest/specifications/recording-installed-packages/",
            "https://packaging.python.org/en/latest/specifications/core-metadata/",
        ),
    ),
    RuleExplanation(
        id="jupyter-kernel-foreign-interpreter",
        meaning=N_(
            "A Jupyter kernel meant for this environment starts a Python from somewhere else. "
            "Notebooks that use the kernel run that other interpreter: they see other packages, "
            "another torch, or no torch at all (`ModuleNotFoundError: No module named 'torch'`), "
            'although `python -c "import torch"` works in a terminal. The kernel was usually '
            "registered from another environment, or Jupyter runs outside the environment."
        ),
        detection=N_(
            "Reads `kernel.json` in every kernel directory Jupyter searches: `$JUPYTER_PATH`, the "
            "user data directory (`$JUPYTER_DATA_DIR` or `~/.local/share/jupyter`), the "
            "environment's `share/jupyter`, `/usr/local/share/jupyter` and `/usr/share/jupyter`. A "
            "kernel is reported when its absolute `argv[0]` lies outside the environment's prefix "
            "and the kernel belongs to the environment: it sits in the environment's own "
            "`share/jupyter/kernels`, or its name or display name contains the environment's "
            "directory name (generic names such as `venv`, `.venv`, `env` or `base` are not used "
            "to match). A relative `argv[0]` such as `python3` is resolved through the Jupyter "
            "server's PATH and is not reported. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "From the environment: `<prefix>/bin/python -m pip install ipykernel && "
                    "<prefix>/bin/python -m ipykernel install --user --name <env> --display-name "
                    '"Python (<env>)"`, then select that kernel in the notebook.'
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python ipykernel`, then "
                    "`<prefix>/bin/python -m ipykernel install --user --name <env> --display-name "
                    '"Python (<env>)"`.'
                ),
            ),
            (
                "conda",
                N_(
                    "`conda install -p <prefix> -c conda-forge ipykernel`, then "
                    "`<prefix>/bin/python -m ipykernel install --user --name <env>`."
                ),
            ),
            ("any", N_("Or start Jupyter from the environment itself.")),
        ),
        sources=(
            catalog("I1"),
            issue("jupyter/notebook", 4629),
            issue("jupyter/notebook", 5054),
        ),
    ),
    RuleExplanation(
        id="jupyter-kernel-missing-interpreter",
        meaning=N_(
            "A Jupyter kernel points at a Python that does not exist, or its `kernel.json` cannot "
            "be read or has no `argv`. Jupyter still lists the kernel, but starting it fails. This "
            "happens when an environment is deleted or moved while its kernel stays registered."
        ),
        detection=N_(
            "Reads `kernel.json` in every kernel directory Jupyter searches: `$JUPYTER_PATH`, the "
            "user data directory (`$JUPYTER_DATA_DIR` or `~/.local/share/jupyter`), the "
            "environment's `share/jupyter`, `/usr/local/share/jupyter` and `/usr/share/jupyter`. "
            "Only Python kernels are checked. A kernel is reported when its `argv[0]` is an "
            "absolute path that does not exist, or when `kernel.json` is unreadable, not a JSON "
            "object or has no `argv`. Every kernel found is checked, not only this environment's. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`jupyter kernelspec remove <name>`, then register the kernel again from a "
                    "working environment: `<prefix>/bin/python -m ipykernel install --user --name "
                    "<name>`."
                ),
            ),
        ),
        sources=(catalog("I1"), issue("jupyter/notebook", 5054)),
    ),
    RuleExplanation(
        id="jupyter-server-without-auth",
        meaning=N_(
            "A Jupyter server of this user is running and lets anyone who can connect run code "
            "as this user: it asks for no token and no password. Listening on every interface "
            "(`--ip=0.0.0.0` or `--ip='*'`), that is anyone who can reach the port, which on a "
            "GPU server is how miners and worse get in: an error. Listening on 127.0.0.1 only, "
            "it is every user and program on this machine, which matters on a shared server: a "
            "warning. The usual cause is a guide's `--NotebookApp.token=''` (or "
            "`--ServerApp.token=''`, `--IdentityProvider.token=''`) copied to skip the login."
        ),
        detection=N_(
            "Reads the files running servers keep in Jupyter's runtime directory "
            "(`$JUPYTER_RUNTIME_DIR`, else `$JUPYTER_DATA_DIR/runtime`, else "
            "`~/.local/share/jupyter/runtime`): `jpserver-PID.json` and the classic notebook's "
            "`nbserver-PID.json`. A file is only a claim (a killed server leaves it behind, a "
            "shared home directory shows other nodes' files): a server counts through the "
            "listening sockets its own process holds on its port, the socket inodes of "
            "`/proc/net/tcp` and `/proc/net/tcp6` that `/proc/PID/fd` links to. They also say "
            "where it listens (the file says `localhost` for `--ip='*'`). A token-less server "
            "found this way is asked once for `/api/status` without credentials, at a loopback "
            "address or its own socket's, because a password set with `jupyter server "
            "password` also leaves the token empty. Reported when it answers as Jupyter does "
            "(200 with its status JSON). All requests share a 3-second deadline. The token is "
            "never printed or stored. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Stop the server (`jupyter server stop PORT`) and start it without the empty "
                    "token option, so that Jupyter makes a random token, or set a password with "
                    "`jupyter server password` first."
                ),
            ),
            (
                "any",
                N_(
                    "Listen on 127.0.0.1 (`--ip=127.0.0.1`) and reach the server through SSH: "
                    "`ssh -L 8888:localhost:8888 HOST`, then open http://localhost:8888 with the "
                    "token. In a container, `torchenv image --jupyter` writes a configuration "
                    "that takes the token from a secret file and refuses to start without one."
                ),
            ),
        ),
        sources=(
            catalog("I3"),
            issue("jupyter/notebook", 2254),
            "https://jupyter-server.readthedocs.io/en/latest/operators/security.html",
        ),
    ),
)
