"""Explanations of the rules on CUDA forward compatibility (rules/forward_compat.py; failure
catalog G2 and G3)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog, issue, pull

NVIDIA_FORWARD_COMPAT = (
    "https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html"
)

ENTRIES = (
    RuleExplanation(
        id="cuda-compat-older-than-driver",
        meaning=N_(
            "The `libcuda.so` that loads comes from the CUDA forward-compatibility package "
            "(`cuda-compat-X-Y`, in CUDA images under `/usr/local/cuda-X.Y/compat`), and it is "
            "older than the host's kernel driver. Forward compatibility lets an old driver run a "
            "newer CUDA through a newer user-mode library; it never works the other way. CUDA "
            "fails with `Error 803: system has unsupported display driver / cuda driver "
            "combination` and torch sees no GPU. Usual cause: an image built for hosts with an "
            "old long-term driver, run on a host whose driver has since been upgraded, with the "
            "compat directory put first on `LD_LIBRARY_PATH` or in `/etc/ld.so.conf.d/`."
        ),
        detection=N_(
            "Finds the `libcuda.so.1` the loader would pick, first on `LD_LIBRARY_PATH`, then in "
            "`/etc/ld.so.cache` (parsed directly). When it lives in a `compat` directory, its "
            "version is taken from the real file name (`libcuda.so.580.65.06`) and compared with "
            "the kernel module's (`/sys/module/nvidia/version`, or the driver NVML reports). "
            "Reported when the library is older. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Remove the compat directory from `LD_LIBRARY_PATH` (in the image's `ENV`, "
                    "the shell profile or the job script), or delete the `/etc/ld.so.conf.d/` "
                    "entry that names it and run `sudo ldconfig`. The host driver is newer, so it "
                    "runs that CUDA itself."
                ),
            ),
            (
                "any",
                N_(
                    "In images meant for hosts of several driver versions, add the compat "
                    "directory only when the host driver is older than the image's CUDA, as "
                    "NVIDIA's NGC images do at start-up."
                ),
            ),
        ),
        sources=(
            catalog("G2"),
            NVIDIA_FORWARD_COMPAT,
            pull("NVIDIA-NeMo/labs-molt", 44),
            issue("NVIDIA/nvidia-docker", 1256),
        ),
    ),
    RuleExplanation(
        id="cuda-compat-unsupported-gpu",
        meaning=N_(
            "A forward-compatibility `libcuda.so` newer than the host driver is loaded, so CUDA "
            "tries to run a newer CUDA on an older driver, but the GPU does not support that. "
            "NVIDIA allows forward compatibility only on data-center GPUs, the RTX cards sold as "
            "NGC Server Ready, and Jetson boards. On a GeForce or TITAN card CUDA fails with "
            "`Error 804: forward compatibility was attempted on non supported HW`; on other "
            "Quadro and RTX workstation cards it fails unless the card is one of the listed SKUs."
        ),
        detection=N_(
            "The same reading of the loader's `libcuda.so.1` as cuda-compat-older-than-driver: "
            "a library in a `compat` directory whose version is newer than the kernel module. "
            "Then the GPU names NVML or nvidia-smi report, looked up in torchenv's GPU table: "
            "consumer cards (GeForce, TITAN) give an error, workstation cards a warning (the "
            "name does not tell whether the SKU is NGC Server Ready), data-center GPUs and "
            "Jetson nothing. A name the table does not know gives no finding. Jetson's own "
            "compat library (`libcuda.so.1.1`) carries no driver version and is left alone. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Upgrade the host driver to the branch of the CUDA in use (the compat "
                    "library's version, e.g. 580 for CUDA 13.0), then drop the compat library "
                    "from `LD_LIBRARY_PATH` or `/etc/ld.so.conf.d/`."
                ),
            ),
            (
                "any",
                N_(
                    "Or use an image or wheel whose CUDA the current driver runs natively; "
                    "`torchenv plan --driver VERSION` picks one."
                ),
            ),
            (
                "any",
                N_(
                    "On the host, remove `cuda-compat-*` packages: the NVIDIA Container Toolkit "
                    "injects the host's compat libraries into every GPU container."
                ),
            ),
        ),
        sources=(
            catalog("G3"),
            NVIDIA_FORWARD_COMPAT,
            issue("NVIDIA/nvidia-docker", 1515),
            issue("NVIDIA/nvidia-container-toolkit", 199),
        ),
    ),
)
