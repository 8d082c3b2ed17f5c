"""Explanations of the rules on the torch build against the driver and the GPUs
(rules/driver.py; failure catalog A1-A3, C1-C3). cuda-build-without-gpu, a CUDA build on a
machine without a GPU, is explained in entries_machine.py (this module stays under 400 lines)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import (
    NVIDIA_MINOR_COMPAT,
    NVIDIA_RELEASE_NOTES,
    UV_PYTORCH_GUIDE,
    RuleExplanation,
    catalog,
    issue,
)

ENTRIES = (
    RuleExplanation(
        id="cpu-build-on-gpu-host",
        meaning=N_(
            "The installed torch is a CPU-only build (`+cpu`, `torch.version.cuda` is None), "
            "but this machine has an NVIDIA GPU. `torch.cuda.is_available()` is False and "
            "`.cuda()` fails with `Torch not compiled with CUDA enabled`. Common causes: PyPI's "
            "Windows wheels are CPU-only; an index or find-links with `+cpu` wheels wins, "
            "because `torch==2.13.0` also matches `2.13.0+cpu` and the labelled version sorts "
            "higher; conda chose its CPU variant."
        ),
        detection=N_(
            "Parses `torch/version.py` with `ast` (torch is not imported): `cuda` is None and "
            "neither `hip` nor `xpu` is set. The GPU comes from NVML or `nvidia-smi`, or, without "
            "a working driver, from a PCI device with vendor 0x10de and a display class under "
            "`/sys/bus/pci/devices`. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Reinstall the CUDA variant of the same release, pinned with its local tag: "
                    "`<prefix>/bin/python -m pip install torch==<version>+cu126 --index-url "
                    "https://download.pytorch.org/whl/cu126`. Take the variant the finding names "
                    "(it fits the driver and the GPUs) and put the paired torchvision/torchaudio "
                    "in the same command."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch --torch-backend=auto`, or "
                    "the same pin with `--index-url https://download.pytorch.org/whl/cuXYZ`. In a "
                    "uv project, declare the index in `pyproject.toml` (`[[tool.uv.index]]` with "
                    '`url = "https://download.pytorch.org/whl/cu130"` and `explicit = true`) and '
                    "point `torch` at it in `[tool.uv.sources]`."
                ),
            ),
            ("conda", N_("`conda install -p <prefix> -c conda-forge pytorch-gpu`.")),
            (
                "any",
                N_(
                    "Pin with the local tag (`torch==2.13.0+cu130`) wherever several indexes are "
                    "configured, so that a `+cpu` wheel cannot win."
                ),
            ),
        ),
        sources=(
            catalog("A1"),
            issue("astral-sh/uv", 15446),
            issue("THU-MIG/yolov10", 218),
            issue("pytorch/pytorch", 122494),
            UV_PYTORCH_GUIDE,
            "compat-matrix.md §8",
        ),
    ),
    RuleExplanation(
        id="driver-too-old-for-build",
        meaning=N_(
            "The NVIDIA driver is older than the minimum for the CUDA major that torch was built "
            "with. CUDA cannot start: torch says `The NVIDIA driver on your system is too old "
            "(found version 11040)` and `is_available()` is False. The floors are NVIDIA's "
            "minor-version compatibility ranges: CUDA 11.x builds need >= 450.80.02, 12.x "
            ">= 525.60.13, 13.x >= 580.65.06 (Linux)."
        ),
        detection=N_(
            "Compares the driver version from NVML, else `nvidia-smi`, else the kernel module "
            "(`/sys/module/nvidia/version` or `/proc/driver/nvidia/version`) with the floor for "
            "`cuda` in `torch/version.py`, from torchenv's copy of NVIDIA's driver tables "
            "(Windows has its own floors). When a cuda-compat `libcuda` newer than the kernel "
            "module is loaded on a data-center, Jetson or workstation GPU (forward "
            "compatibility), its version is used "
            "instead. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Upgrade the driver to at least the floor, better to the build's own toolkit "
                    "driver (e.g. 570.26 for CUDA 12.8, 595.45.04 for CUDA 13.2), which the "
                    "finding names."
                ),
            ),
            (
                "pip",
                N_(
                    "Or install a variant this driver runs: a CUDA 12 build on R525 to R575 "
                    "drivers, e.g. `<prefix>/bin/python -m pip install torch==2.8.0+cu126 "
                    "torchvision==0.23.0+cu126 --index-url "
                    "https://download.pytorch.org/whl/cu126`; cu118 (torch 2.7 or older) on R450 "
                    "to R520."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==2.8.0+cu126 "
                    "torchvision==0.23.0+cu126 --index-url https://download.pytorch.org/whl/cu126`."
                ),
            ),
            (
                "conda",
                N_(
                    "conda-forge's CUDA builds depend on the `__cuda` virtual package, which conda "
                    "derives from the driver. Pin a `cuda-version` the driver supports, e.g. "
                    "`conda install -p <prefix> -c conda-forge pytorch-gpu cuda-version=12.9` on a "
                    "driver >= 525.60.13."
                ),
            ),
        ),
        sources=(
            catalog("A3"),
            NVIDIA_RELEASE_NOTES,
            NVIDIA_MINOR_COMPAT,
            issue("lllyasviel/Fooocus", 1313),
        ),
    ),
    RuleExplanation(
        id="driver-below-build-release",
        meaning=N_(
            "The driver meets the floor of the build's CUDA major, but is older than the driver "
            "NVIDIA released with that exact CUDA version. torch runs through CUDA minor-version "
            "compatibility, which NVIDIA describes as a limited feature set: PTX newer than the "
            "driver cannot be JIT-compiled. Plain torch ops usually work (a report: torch "
            "2.7.1+cu128 on driver 550.127.08); GPUs that only have PTX in the build, and "
            "Triton kernels from `torch.compile`, are where it breaks."
        ),
        detection=N_(
            "Compares the driver version from NVML, else `nvidia-smi`, else the kernel module "
            "(`/sys/module/nvidia/version` or `/proc/driver/nvidia/version`) with the Linux "
            "toolkit driver of the CUDA version in `torch/version.py` (Table 3 of NVIDIA's "
            "release notes, e.g. 570.26 for 12.8), when the driver is at or above the major's "
            "floor. `--deep` is not needed."
        ),
        fixes=(
            ("any", N_("Upgrade the driver to at least the release driver the finding names.")),
            (
                "pip",
                N_(
                    "Or use a variant whose CUDA this driver supports natively (R560: 12.6, R570: "
                    "12.8, R575: 12.9, R580: 13.0): `<prefix>/bin/python -m pip install "
                    "torch==<version>+cu126 --index-url https://download.pytorch.org/whl/cu126`."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==<version>+cu126 "
                    "--index-url https://download.pytorch.org/whl/cu126`."
                ),
            ),
        ),
        sources=(
            catalog("A3"),
            "failure-catalog.md §3.2",
            NVIDIA_MINOR_COMPAT,
            NVIDIA_RELEASE_NOTES,
        ),
    ),
    RuleExplanation(
        id="gpu-arch-not-in-build",
        meaning=N_(
            "The torch build has no code for a GPU's compute capability: no machine code "
            "(`sm_XY`) of the same major and no PTX it could JIT-compile. Every CUDA op on that "
            "GPU fails with `no kernel image is available for execution on the device`. Either "
            "the GPU is newer than the build (RTX 50-series, CC 12.0, on builds before cu128), "
            "or older: Maxwell and Pascal have no kernels in cu128 builds from 2.8 on or in any "
            "CUDA 13 build; Volta has none in CUDA 13 builds or in 2.11's cu128."
        ),
        detection=N_(
            "Scans `torch/lib/libtorch_python.so` for the compiled architecture list (the "
            "`CUDA_ARCH_FLAGS` string that `torch.cuda.get_arch_list()` returns) without "
            "importing torch, and takes each GPU's compute capability from NVML or `nvidia-smi "
            "--query-gpu=compute_cap`. It applies torch's own rule: `sm_XY` code runs on the same "
            "major with an equal or higher minor; Jetson GPUs (7.2, 8.7) are excluded, except in "
            "torch 2.15+ builds with CUDA 13.2+; `compute_XY` (PTX) runs on any newer GPU through "
            "the driver's JIT. The scan is cached per file. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Install a variant with the GPU's architecture. Newer GPUs: RTX 50 (12.0) and "
                    "B200 (10.0) need cu128 (torch 2.7 or newer), cu129 or a CUDA 13 build, e.g. "
                    "`<prefix>/bin/python -m pip install torch==<version>+cu128 --index-url "
                    "https://download.pytorch.org/whl/cu128`. Older GPUs: Maxwell, Pascal and "
                    "Volta need cu126 (`--index-url https://download.pytorch.org/whl/cu126`); "
                    "Volta also runs cu128 in torch 2.8 to 2.10; Kepler (K80) needs cu118 with "
                    "torch 2.7 or older."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==<version>+cu126 "
                    "--index-url https://download.pytorch.org/whl/cu126` (cu128 or cu130 for new "
                    "GPUs)."
                ),
            ),
            (
                "conda",
                N_(
                    "conda-forge's CUDA 12.8/12.9 builds cover 5.0 to 12.0, its CUDA 13.0 builds "
                    "start at 7.5: for Maxwell to Volta, "
                    "`conda install -p <prefix> -c conda-forge pytorch-gpu cuda-version=12.9`."
                ),
            ),
            (
                "any",
                N_(
                    "The driver must run the new variant too (>= 570 for cu128, >= 580 for CUDA "
                    "13). Upgrade or rebuild CUDA extensions (flash-attn, xformers, ...) as well. "
                    "pytorch/pytorch#190385 proposes dropping cu126, the last variant for Maxwell, "
                    "Pascal and Volta."
                ),
            ),
        ),
        sources=(
            catalog("C1"),
            catalog("C2"),
            issue("pytorch/pytorch", 150733),
            issue("pytorch/pytorch", 157517),
            issue("pytorch/pytorch", 172352),
            issue("pytorch/pytorch", 190385),
            "compat-matrix.md §4",
        ),
    ),
    RuleExplanation(
        id="gpu-arch-ptx-only",
        meaning=N_(
            "A GPU has no machine code in the build, only PTX (`compute_XY`) of an older "
            "architecture, which the driver JIT-compiles on first use. That works, but the "
            "first launch of every kernel is slow. The driver must also understand that PTX: "
            "it needs the driver of the build's CUDA release, because minor-version "
            "compatibility does not cover PTX JIT. With an older driver the kernels do not load "
            "at all, and the finding is an error instead of a warning."
        ),
        detection=N_(
            "Scans `torch/lib/libtorch_python.so` for the compiled architecture list (the "
            "`CUDA_ARCH_FLAGS` string that `torch.cuda.get_arch_list()` returns) without "
            "importing torch, and takes each GPU's compute capability from NVML or `nvidia-smi "
            "--query-gpu=compute_cap`. A GPU covered only by a `compute_XY` entry is reported. "
            "Then the driver version from NVML, else `nvidia-smi`, else the kernel module "
            "(`/sys/module/nvidia/version` or `/proc/driver/nvidia/version`) is compared with the "
            "release driver of `cuda` in `torch/version.py`: below it, error; otherwise warning. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "Install a variant with machine code for the GPU (the finding names one), e.g. "
                    "`<prefix>/bin/python -m pip install torch==<version>+cu130 --index-url "
                    "https://download.pytorch.org/whl/cu130`."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==<version>+cu130 "
                    "--index-url https://download.pytorch.org/whl/cu130`."
                ),
            ),
            (
                "any",
                N_(
                    "Or upgrade the driver to at least the build's CUDA release driver, so that "
                    "the JIT works."
                ),
            ),
        ),
        sources=(
            catalog("C1"),
            "failure-catalog.md §3.2",
            "failure-catalog.md §3.4",
            NVIDIA_MINOR_COMPAT,
        ),
    ),
    RuleExplanation(
        id="jetson-needs-jetpack-build",
        meaning=N_(
            "This is a Jetson board running a server (SBSA) CUDA build of torch from PyPI or "
            "download.pytorch.org. Before torch 2.15 with CUDA 13.2, those builds have no "
            "kernels for the Jetson GPUs Xavier (7.2) and Orin (8.7): torch's compatibility "
            "rule excludes them, and CUDA ops fail with `no kernel image is available`. NVIDIA "
            "publishes torch builds for each JetPack release. Jetson Thor (11.0) is the "
            "exception: the aarch64 CUDA 13 wheels carry `sm_110` and are its recommended "
            "build, so a build with native code for the board's GPU is not reported."
        ),
        detection=N_(
            "Checks for `/etc/nv_tegra_release` (present on Jetson), then reads "
            "`torch/version.py`: a CUDA build whose local tag starts with `cu` (NVIDIA's Jetson "
            "builds carry other labels, e.g. `+nv24.03`) is reported for each GPU its compiled "
            "architectures (read from `libtorch_cuda.so`) have no native code for; when they "
            "cannot be read, it is reported unless it is torch 2.15 or newer with CUDA 13.2 or "
            "newer. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Install the PyTorch build NVIDIA publishes for your JetPack release (NVIDIA's "
                    "'Installing PyTorch for Jetson Platform' guide), or use a jetson-containers "
                    "image. Build custom CUDA kernels with `TORCH_CUDA_ARCH_LIST` including the "
                    "device (8.7 for Orin)."
                ),
            ),
            (
                "conda",
                N_(
                    "conda-forge builds a tegra variant of pytorch for Orin (CUDA 12.9); the "
                    "server aarch64 variant does not cover Orin."
                ),
            ),
        ),
        sources=(
            catalog("C3"),
            "https://docs.nvidia.com/deeplearning/frameworks/"
            "install-pytorch-jetson-platform/index.html",
            issue("dusty-nv/jetson-containers", 9),
            "compat-matrix.md §6",
            "compat-matrix.md §7",
        ),
    ),
)
