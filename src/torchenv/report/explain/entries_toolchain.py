"""Explanations of the rules on toolkits, compilers and loader paths: what building extensions
and torch.compile need (rules/machine.py; failure catalog B2, G5, H3, H4)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog, issue, pull

ENTRIES = (
    RuleExplanation(
        id="cuda-toolkit-without-driver",
        meaning=N_(
            "A CUDA toolkit (`nvcc`) is installed but there is no NVIDIA driver. nvcc can "
            "compile CUDA code, but nothing can run on a GPU here: programs fail with `CUDA "
            "driver version is insufficient for CUDA runtime version`. Tools that read the CUDA "
            "version from nvcc, such as `python -m torch.utils.collect_env`, report a CUDA "
            "runtime this machine cannot use. torch's pip wheels need no toolkit, only a "
            "driver."
        ),
        detection=N_(
            "Finds CUDA toolkits through `CUDA_HOME`, `CUDA_PATH`, `nvcc` on PATH and "
            "`/usr/local/cuda`; the version comes from the toolkit's `version.json` (or "
            "`version.txt`), else from `nvcc --version`. Reported when a toolkit exists and no "
            "driver is found: no answer from NVML or `nvidia-smi`, no `/sys/module/nvidia` and no "
            "`/proc/driver/nvidia`. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "On a machine with an NVIDIA GPU, install the driver (see no-nvidia-driver). "
                    "On a build machine without a GPU there is nothing to do."
                ),
            ),
        ),
        sources=("compat-matrix.md §8", catalog("G1"), catalog("G5")),
    ),
    RuleExplanation(
        id="nvcc-major-differs-from-build",
        meaning=N_(
            "The CUDA toolkit found here has another CUDA major than torch's build. Running "
            "torch is not affected. Building CUDA extensions against this torch "
            "(`torch.utils.cpp_extension`, or installing a package that compiles CUDA code) "
            "fails: `The detected CUDA version (12.1) mismatches the version that was used to "
            "compilePyTorch (11.8)`. A different minor version only gives a warning."
        ),
        detection=N_(
            "Finds CUDA toolkits through `CUDA_HOME`, `CUDA_PATH`, `nvcc` on PATH and "
            "`/usr/local/cuda`; the version comes from the toolkit's `version.json` (or "
            "`version.txt`), else from `nvcc --version`. Each toolkit's major is compared with "
            "`cuda` in `torch/version.py`. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "For extension builds, install a toolkit of torch's CUDA major and point "
                    "`CUDA_HOME` at it, e.g. `sudo apt install cuda-toolkit-12-8` and `export "
                    "CUDA_HOME=/usr/local/cuda-12.8`. Do not change the driver for this; it is not "
                    "involved."
                ),
            ),
            ("pip", N_('Or take nvcc from PyPI: `pip install "nvidia-cuda-nvcc-cu12==12.8.*"`.')),
            ("conda", N_("`conda install -p <prefix> -c nvidia cuda-toolkit=12.8`.")),
        ),
        sources=(
            catalog("G5"),
            "failure-catalog.md §3.10",
            issue("pytorch/pytorch", 40559),
        ),
    ),
    RuleExplanation(
        id="ld-library-path-shadows-wheel-cuda",
        meaning=N_(
            "`LD_LIBRARY_PATH` holds CUDA libraries with the same names as those that torch's "
            "NVIDIA wheels installed (`libcublasLt.so.12`, `libnvJitLink.so.12`, ...). NVIDIA's "
            "libraries find their neighbours through `RUNPATH=$ORIGIN`, which the loader "
            "searches after `LD_LIBRARY_PATH`, so a system CUDA can replace part of the wheel "
            "set. Symptoms: `undefined symbol: cublasLtGetStatusString, version "
            "libcublasLt.so.11`, `CUBLAS_STATUS_INVALID_VALUE`, or wrong results without an "
            "error."
        ),
        detection=N_(
            "Lists each directory on `LD_LIBRARY_PATH` for CUDA library sonames (cudart, cublas, "
            "cublasLt, cudnn*, cupti, nvrtc, nvJitLink, cusparse, cusparseLt, cufft, curand, "
            "cusolver, nccl) and compares them with the sonames the wheels put under "
            "`site-packages/nvidia/*/lib`. Only the same soname counts (`.so.12` cannot stand in "
            "for `.so.13`); copies inside the environment are ignored, and versions are not "
            "compared. Only for CUDA builds. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Run without them: `env -u LD_LIBRARY_PATH python ...`, or remove "
                    "`/usr/local/cuda*/lib64` from `LD_LIBRARY_PATH` in the shell profile. Newer "
                    "torch preloads `libcublasLt` before `libcublas` (pytorch PR #174320), which "
                    "avoids one form of this."
                ),
            ),
            (
                "pip",
                N_(
                    "If the system copy is meant to be used, uninstall the conflicting `nvidia-*` "
                    "package instead (the workaround in pytorch/pytorch#103832)."
                ),
            ),
        ),
        sources=(
            catalog("B2"),
            issue("pytorch/pytorch", 91067),
            issue("pytorch/pytorch", 157381),
            pull("pytorch/pytorch", 174320),
            issue("pytorch/pytorch", 103832),
        ),
    ),
    RuleExplanation(
        id="no-c-compiler",
        meaning=N_(
            "No C or C++ compiler was found. `torch.compile` (Inductor) compiles generated C++ "
            "for CPU code, and Triton compiles a small C launcher for GPU kernels; without a "
            "compiler both fail: `InvalidCxxCompiler: No working C++ compiler found`, `Failed to "
            "find C compiler. Please specify via CC environment variable.` Eager PyTorch is not "
            "affected."
        ),
        detection=N_(
            "Looks up `$CC`, `cc`, `gcc`, `clang` and `$CXX`, `c++`, `g++`, `clang++` on PATH, "
            "and asks the C++ compiler for its version. Reported when no C or no C++ compiler "
            "is found, and only when torch is installed. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Debian/Ubuntu: `sudo apt-get install -y build-essential`; or set `CC` and "
                    "`CXX` to compilers you have. macOS: `brew install libomp`, or set `CXX` to "
                    "LLVM clang."
                ),
            ),
            ("conda", N_("`conda install -p <prefix> -c conda-forge gxx_linux-64`.")),
        ),
        sources=(
            catalog("H3"),
            issue("pytorch/pytorch", 92745),
            issue("pytorch/pytorch", 130815),
        ),
    ),
    RuleExplanation(
        id="python-headers-missing",
        meaning=N_(
            "The interpreter's `Python.h` is missing. Triton compiles a small C launcher against "
            "the running interpreter's headers, so `torch.compile` on GPUs fails with `fatal "
            "error: Python.h: No such file or directory`. This happens with distribution "
            "Pythons without their `-dev` package; Pythons installed by uv or conda ship the "
            "headers."
        ),
        detection=N_(
            "The environment's interpreter reports `sysconfig.get_paths()['include']` and "
            "whether `Python.h` exists there. Only when torch is installed. `--deep` is not "
            "needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Debian/Ubuntu: `sudo apt-get install -y python3.X-dev` for the interpreter's "
                    "version (the finding names it), e.g. `python3.12-dev`."
                ),
            ),
            (
                "uv",
                N_(
                    "Or recreate the environment on a uv-managed Python: "
                    "`uv python install 3.12 && uv venv --python 3.12 <prefix>`."
                ),
            ),
            (
                "conda",
                N_(
                    "Or recreate it with conda's Python: "
                    "`conda create -p <prefix> -c conda-forge python=3.12`."
                ),
            ),
        ),
        sources=(
            catalog("H4"),
            issue("pytorch/pytorch", 129351),
            issue("sgl-project/sglang", 1117),
        ),
    ),
)
