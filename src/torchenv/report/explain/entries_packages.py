"""Explanations of the rules on installed packages: domain-library pairing, a second torch, the
NumPy ABI and Python support (rules/packages.py; failure catalog D1-D3, E1)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog, issue

ENTRIES = (
    RuleExplanation(
        id="torchvision-torch-mismatch",
        meaning=N_(
            "torchvision's compiled operators are built against one torch release and one build "
            "variant (CPU or a CUDA major). When torch was upgraded or replaced alone, or the two "
            "came from different indexes, torchvision fails with `operator torchvision::nms does "
            "not exist`, `Couldn't load custom C++ ops`, or `Detected that PyTorch and torchvision "
            "were compiled with different CUDA major versions`."
        ),
        detection=N_(
            "Reads torchvision's `Requires-Dist: torch` from its dist-info METADATA and checks the "
            "installed torch version against it (torchvision 0.23.0 requires `torch==2.8.0`; from "
            "0.29.1 the requirement is `>=2.14.0`). It also compares the local tags of "
            "`torchvision/version.py` and `torch/version.py`: `+cpu` against `+cuXYZ`, or two CUDA "
            "majors. Neither package is imported. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Install torch and torchvision together, paired, from one index: "
                    "`<prefix>/bin/python -m pip install torch==2.8.0+cu128 "
                    "torchvision==0.23.0+cu128 --index-url "
                    "https://download.pytorch.org/whl/cu128`. Pairs from PyPI's metadata: "
                    "2.6.0/0.21.0, 2.7.1/0.22.1, 2.8.0/0.23.0, 2.9.1/0.24.1, 2.10.0/0.25.0, "
                    "2.11.0/0.26.0, 2.12.1/0.27.1, 2.13.0/0.28.0, 2.14.0/0.29.0."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==2.8.0+cu128 "
                    "torchvision==0.23.0+cu128 --index-url https://download.pytorch.org/whl/cu128`."
                ),
            ),
            (
                "conda",
                N_(
                    "Take both from conda-forge so the solver pairs them: `conda install -p "
                    "<prefix> -c conda-forge pytorch-gpu torchvision`."
                ),
            ),
            (
                "any",
                N_(
                    "The local tag in the pin (`+cu128`) keeps the installer from taking a `+cpu` "
                    "or another variant's wheel of the same version."
                ),
            ),
        ),
        sources=(
            catalog("D1"),
            "compat-matrix.md §3",
            issue("pytorch/pytorch", 122494),
            issue("pytorch/vision", 1405),
        ),
    ),
    RuleExplanation(
        id="torchaudio-torch-mismatch",
        meaning=N_(
            "torchaudio's compiled extension is built for one torch release and build variant. "
            "With another torch it fails to load, typically with `OSError: .../libtorchaudio.so: "
            "undefined symbol: ...`. Up to torch 2.10, torchaudio X.Y.Z pairs with torch X.Y.Z "
            "(except torchaudio 2.0.1 for torch 2.0.0 and 2.0.2 for 2.0.1). torchaudio 2.11.0 "
            "declares no torch requirement, and PyPI has no torchaudio for torch 2.12 to 2.15."
        ),
        detection=N_(
            "Reads torchaudio's `Requires-Dist: torch` from its METADATA and checks the installed "
            "torch version against it, and compares the local tags of `torchaudio/version.py` and "
            "`torch/version.py` (CPU against CUDA, or two CUDA majors). For torchaudio 2.11.0, "
            "which has no torch requirement, only the local tags are compared. `--deep` is not "
            "needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "`<prefix>/bin/python -m pip install torch==2.8.0+cu128 "
                    "torchaudio==2.8.0+cu128 --index-url https://download.pytorch.org/whl/cu128`: "
                    "same version, same variant, one index."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==2.8.0+cu128 "
                    "torchaudio==2.8.0+cu128 --index-url https://download.pytorch.org/whl/cu128`."
                ),
            ),
            (
                "conda",
                N_(
                    "Take both from conda-forge: `conda install -p <prefix> -c conda-forge "
                    "pytorch-gpu torchaudio`."
                ),
            ),
            (
                "any",
                N_(
                    "With torch 2.12 or newer there is no paired torchaudio on PyPI: uninstall "
                    "torchaudio if nothing needs it, or stay on a torch release that has one."
                ),
            ),
        ),
        sources=(catalog("D1"), "compat-matrix.md §3", "compat-matrix.md §8"),
    ),
    RuleExplanation(
        id="torch-installed-twice",
        meaning=N_(
            "Two copies of torch are on the interpreter's `sys.path`, or two torch metadata "
            "directories exist. Python imports the first copy; pip and uv may report or upgrade "
            "the other. The usual case is a `pip install --user` copy in "
            "`~/.local/lib/pythonX.Y/site-packages`, which comes before the environment's "
            "site-packages where the interpreter reads the user site, unless `PYTHONNOUSERSITE=1`. "
            "Symptoms: `module 'torch' has no attribute 'version'`, random undefined symbols, a "
            "version that differs from what pip lists."
        ),
        detection=N_(
            "Looks for `torch/__init__.py` in every site directory on the interpreter's "
            "`sys.path`, in order, and counts `torch-*.dist-info` directories. Two or more of "
            "either is reported, with each path. `--deep` is not needed; with `--deep`, "
            "runtime-torch-differs-from-files also shows which copy Python imports."
        ),
        fixes=(
            (
                "any",
                N_(
                    "A copy outside the environment (user site, `PYTHONPATH`): delete it, e.g. `rm "
                    "-r ~/.local/lib/pythonX.Y/site-packages/torch "
                    "~/.local/lib/pythonX.Y/site-packages/torch-*.dist-info`, or uninstall it with "
                    "the interpreter that installed it. `PYTHONNOUSERSITE=1` makes Python ignore "
                    "the user site."
                ),
            ),
            (
                "pip",
                N_(
                    "Both copies inside the environment: reinstall torch so one remains: "
                    "`<prefix>/bin/python -m pip install --force-reinstall --no-deps "
                    "torch==<version>` (add the `--index-url` it came from for a `+cuXYZ` build)."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python --reinstall --no-deps "
                    "torch==<version>` (with its `--index-url` for a `+cuXYZ` build)."
                ),
            ),
        ),
        sources=(
            catalog("E1"),
            issue("pytorch/pytorch", 12031),
            issue("huggingface/transformers", 29022),
        ),
    ),
    RuleExplanation(
        id="numpy2-with-numpy1-build",
        meaning=N_(
            "NumPy 2 changed NumPy's C ABI. A compiled module built against NumPy 1 headers fails "
            "with NumPy 2 installed: `A module that was compiled using NumPy 1.x cannot be run in "
            "NumPy 2.x`, or `_ARRAY_API not found`; in torch, converting between tensors and "
            "arrays then fails with `Numpy is not available`. torch 2.3 is the first release built "
            "against NumPy 2; torch 2.2 and older need NumPy 1."
        ),
        detection=N_(
            "Reads numpy's version from its dist-info. From NumPy 2 on, it checks torch's version "
            "(below 2.3 means a NumPy 1 build) and scans `torch/lib/libtorch_python.so` for the "
            "module name `numpy._core._multiarray_umath`: a library that names only "
            "`numpy.core._multiarray_umath` was built with NumPy 1 headers. The same scan runs "
            "over the `.so` files, listed in RECORD, of every other package that requires numpy. "
            "Nothing is imported. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    '`<prefix>/bin/python -m pip install "numpy<2"`, or upgrade the listed '
                    "packages to releases built for NumPy 2 (torch 2.3 or newer)."
                ),
            ),
            ("uv", N_('`uv pip install --python <prefix>/bin/python "numpy<2"`.')),
            ("conda", N_('`conda install -p <prefix> -c conda-forge "numpy<2"`.')),
        ),
        sources=(
            catalog("D2"),
            issue("pytorch/pytorch", 107302),
            issue("pytorch/pytorch", 132179),
        ),
    ),
    RuleExplanation(
        id="torch-requires-other-python",
        meaning=N_(
            "The installed torch declares a `Requires-Python` range that excludes this "
            "interpreter; for example torch 2.15.0 requires Python >= 3.11. pip and uv refuse such "
            "an install, so the environment's Python was changed underneath it or the install was "
            "forced. Its compiled modules are built for another Python and cannot be expected to "
            "load."
        ),
        detection=N_(
            "Reads `Requires-Python` from torch's dist-info METADATA and the version the "
            "environment's interpreter reports (or `pyvenv.cfg` when it does not run), and checks "
            "the version against the range. `--deep` is not needed."
        ),
        fixes=(
            (
                "uv",
                N_(
                    "Make a new environment with a supported Python, e.g. `uv venv --python 3.12 "
                    "<new prefix>`, and install torch there. PyPI's Linux wheels: Python 3.9 up to "
                    "torch 2.8.0, 3.10 up to 2.14.1, 3.11 and 3.12 up to 2.15.0, 3.13 from 2.5.0, "
                    "3.14 from 2.9.0."
                ),
            ),
            ("pip", N_("`python3.12 -m venv <new prefix>`, then install torch into it.")),
            (
                "conda",
                N_("`conda create -p <new prefix> -c conda-forge python=3.12 pytorch-gpu`."),
            ),
            (
                "any",
                N_("Or install a torch release whose `Requires-Python` includes this interpreter."),
            ),
        ),
        sources=(
            catalog("D3"),
            "failure-catalog.md §3.7",
            issue("pytorch/pytorch", 130249),
        ),
    ),
)
