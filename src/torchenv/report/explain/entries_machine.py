"""Explanations of the rules on the machine around the environment: visible devices, containers
and the driver's user space (rules/machine.py; failure catalog A4, A5, F1, G2, G6, H2), and
cuda-build-without-gpu of rules/driver.py: a CUDA build on a machine without a GPU."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog, issue, pull

ENTRIES = (
    RuleExplanation(
        id="cuda-visible-devices-hides-all",
        meaning=N_(
            "`CUDA_VISIBLE_DEVICES` is set so that CUDA sees no GPU: an empty string, `-1` or "
            "another entry that is not a device number, or a device listed twice (torch then "
            "treats the whole list as empty). torch falls back to the CPU and `is_available()` "
            'is False. Setting it to "" or -1 is also the usual way to force the CPU on '
            "purpose, so this is a warning."
        ),
        detection=N_(
            "Parses `CUDA_VISIBLE_DEVICES`, as set where `torchenv doctor` runs, exactly as "
            "torch's `_parse_visible_devices` does: each entry read like C `strtoul`, the list "
            "ends at the first negative or non-numeric entry, a repeated entry empties the whole "
            "list, `GPU-`/`MIG-` entries are UUID prefixes. Reported when the result is empty, an "
            "NVIDIA GPU is present and `torch/version.py` has `cuda` set. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`unset CUDA_VISIBLE_DEVICES`, or set it to indices or UUIDs from "
                    "`nvidia-smi -L` (`export CUDA_VISIBLE_DEVICES=0,1`) before Python starts; "
                    "changing it after CUDA initialised has no effect. In containers, choose GPUs "
                    "with `docker run --gpus '\"device=0,1\"'` instead."
                ),
            ),
        ),
        sources=(
            catalog("A4"),
            issue("pytorch/pytorch", 40618),
            pull("areal-project/AReaL", 38),
            pull("pytorch/pytorch", 85192),
        ),
    ),
    RuleExplanation(
        id="cuda-visible-devices-unknown-device",
        meaning=N_(
            "`CUDA_VISIBLE_DEVICES` names a GPU index or UUID that does not exist here. CUDA "
            "stops reading the list at that entry: GPUs listed before it stay visible, those "
            "after it are hidden. When it is the first entry no GPU is visible (`no "
            "CUDA-capable device is detected`, `invalid device ordinal`), an error; otherwise "
            "fewer GPUs than intended are used, a warning."
        ),
        detection=N_(
            "Parses `CUDA_VISIBLE_DEVICES`, as set where `torchenv doctor` runs, exactly as "
            "torch's `_parse_visible_devices` does: each entry read like C `strtoul`, the list "
            "ends at the first negative or non-numeric entry, a repeated entry empties the whole "
            "list, `GPU-`/`MIG-` entries are UUID prefixes. Each entry is then matched against "
            "the GPUs that NVML or `nvidia-smi` list: an index must be a GPU's index, a `GPU-` "
            "UUID a unique prefix of a GPU's UUID. The first entry that matches no GPU, or "
            "repeats one, is reported. MIG instance UUIDs are not checked. Without a working "
            "driver there is no GPU list, and nothing is reported. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "List the GPUs with `nvidia-smi -L` and name existing ones, e.g. "
                    "`export CUDA_VISIBLE_DEVICES=0`, before Python starts."
                ),
            ),
        ),
        sources=(
            catalog("A4"),
            issue("pytorch/pytorch", 1040),
            issue("pytorch/examples", 115),
        ),
    ),
    RuleExplanation(
        id="cuda-device-order-not-pci",
        meaning=N_(
            "This machine has GPUs of different models and `CUDA_DEVICE_ORDER` is not "
            "`PCI_BUS_ID`. CUDA then numbers the GPUs fastest first, while `nvidia-smi` numbers "
            "them by PCI bus. Index N in `CUDA_VISIBLE_DEVICES` or `cuda:N` can pick another GPU "
            "than the one `nvidia-smi` shows as N."
        ),
        detection=N_(
            "Counts distinct GPU names from NVML or `nvidia-smi`. Two or more, with "
            "`CUDA_DEVICE_ORDER` unset or not `PCI_BUS_ID` where `torchenv doctor` runs, is "
            "reported. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`export CUDA_DEVICE_ORDER=PCI_BUS_ID` in the shell profile or job script, "
                    "before Python starts."
                ),
            ),
        ),
        sources=(catalog("A4"),),
    ),
    RuleExplanation(
        id="cuda-build-without-gpu",
        meaning=N_(
            "torch is a CUDA build, but this machine has no NVIDIA GPU and no driver. That is "
            "not an error: torch runs on the CPU and `torch.cuda.is_available()` is False. It is "
            "worth knowing because a CUDA build and its NVIDIA libraries take several GB, and "
            "PyPI's default torch on Linux x86_64 is a CUDA build. Inside a container, "
            "container-without-gpu-access covers this case instead."
        ),
        detection=N_(
            "Parses `torch/version.py` with `ast` (torch is not imported): `cuda` is set. No GPU "
            "from NVML, `nvidia-smi` or the PCI bus (vendor 0x10de under `/sys/bus/pci/devices`), "
            "and no driver version. Skipped inside containers. `--deep` is not needed."
        ),
        fixes=(
            (
                "pip",
                N_(
                    "For a smaller CPU-only install: `<prefix>/bin/python -m pip install "
                    "torch==<version>+cpu --index-url https://download.pytorch.org/whl/cpu`, then "
                    "uninstall the unused `nvidia-*` packages."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python torch==<version>+cpu --index-url "
                    "https://download.pytorch.org/whl/cpu`."
                ),
            ),
            ("conda", N_("`conda install -p <prefix> -c conda-forge pytorch-cpu`.")),
            ("any", N_("Nothing to do if the environment is meant for a GPU machine.")),
        ),
        sources=("compat-matrix.md §8", "failure-catalog.md §3.6"),
    ),
    RuleExplanation(
        id="container-without-gpu-access",
        meaning=N_(
            "torchenv runs in a container without NVIDIA device nodes, and torch is a CUDA "
            "build. The container was started without GPU access, so torch runs on the CPU "
            "only (`Found no NVIDIA driver on your system`; NVIDIA's images print `The NVIDIA "
            "Driver was not detected`). Causes: `docker run` without `--gpus`, a compose "
            "service without a GPU reservation, a Kubernetes pod without an `nvidia.com/gpu` "
            "limit, or a host without the NVIDIA Container Toolkit. When nothing suggests the "
            "host has GPUs, it is only reported as info."
        ),
        detection=N_(
            "A container is recognised by `/.dockerenv`, `/run/.containerenv`, "
            "`KUBERNETES_SERVICE_HOST`, the cgroup of PID 1 (`/proc/1/cgroup`) or the `container` "
            "variable. Then it lists `/dev/nvidia*` and `/dev/dxg` (the GPU of WSL2). Reported "
            "when there are none, NVML and `nvidia-smi` report no GPU, it is not WSL, and "
            "`torch/version.py` has `cuda` set. `NVIDIA_VISIBLE_DEVICES` is shown; when it is "
            "unset, `void` or `none` and no NVIDIA PCI device is visible, the finding is info. "
            "`--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Start the container with GPUs: `docker run --gpus all ...`; compose: "
                    "`deploy.resources.reservations.devices: [{driver: nvidia, count: all, "
                    "capabilities: [gpu]}]`; Kubernetes: `resources.limits: {nvidia.com/gpu: 1}`."
                ),
            ),
            (
                "any",
                N_(
                    "On the host: `sudo apt install nvidia-container-toolkit && sudo nvidia-ctk "
                    "runtime configure --runtime=docker && sudo systemctl restart docker`."
                ),
            ),
        ),
        sources=(
            catalog("A5"),
            issue("NVIDIA/nvidia-docker", 400),
            issue("pytorch/pytorch", 2985),
            issue("NVIDIA-TAO/tao-deploy", 10),
        ),
    ),
    RuleExplanation(
        id="container-shm-too-small",
        meaning=N_(
            "`/dev/shm` in this container is smaller than 1 GiB (Docker's default is 64 MiB) or "
            "not writable. DataLoader workers pass batches through shared memory and die with "
            "`DataLoader worker (pid N) is killed by signal: Bus error`. NCCL uses it between "
            "the GPUs of one machine and fails with `unhandled system error`. An error with two "
            "or more GPUs or when `/dev/shm` is not writable, otherwise a warning."
        ),
        detection=N_(
            "Only inside containers. A container is recognised by `/.dockerenv`, "
            "`/run/.containerenv`, `KUBERNETES_SERVICE_HOST`, the cgroup of PID 1 "
            "(`/proc/1/cgroup`) or the `container` variable. `os.statvfs('/dev/shm')` gives its "
            "size (`f_blocks * f_frsize`) and `os.access` whether it is writable; less than 1 GiB "
            "is reported. The GPU count comes from NVML or `nvidia-smi`. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`docker run --ipc=host` or `--shm-size=16g`; compose: `shm_size: 16g`; "
                    "Kubernetes: an `emptyDir` with `medium: Memory` mounted at `/dev/shm`. Not "
                    "writable: `chmod 1777 /dev/shm`."
                ),
            ),
            (
                "any",
                N_(
                    "Where the size cannot be changed: `num_workers=0` in the DataLoader, or "
                    '`torch.multiprocessing.set_sharing_strategy("file_system")`; for NCCL, '
                    "`NCCL_SHM_DISABLE=1` (slower)."
                ),
            ),
        ),
        sources=(
            catalog("F1"),
            catalog("H2"),
            issue("NVIDIA/nccl", 342),
            issue("pytorch/pytorch", 5040),
        ),
    ),
    RuleExplanation(
        id="gpu-tools-unresponsive",
        meaning=N_(
            "NVML or `nvidia-smi` did not answer within torchenv's timeout. A driver that hangs "
            "on a simple query usually hangs CUDA programs too: torch may block at import or at "
            "the first CUDA call. The facts NVML gives (GPUs, compute capabilities) are missing "
            "from this report."
        ),
        detection=N_(
            "torchenv queries NVML (driver version and each GPU) in a separate process and runs "
            "`nvidia-smi --query-gpu=...`, each with a timeout. A probe that timed out is "
            "reported with the tool's name. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Run `nvidia-smi` by hand to confirm. A GPU or driver stuck like this usually "
                    "needs a reboot."
                ),
            ),
        ),
        sources=("failure-catalog.md §2.4",),
    ),
    RuleExplanation(
        id="driver-library-mismatch",
        meaning=N_(
            "The driver's user-space libraries (`libcuda.so`, `libnvidia-ml.so`) belong to "
            "another driver version than the loaded kernel module. CUDA fails with `Error 803: "
            "system has unsupported display driver / cuda driver combination`, and "
            "`nvidia-smi` with `Failed to initialize NVML: Driver/library version mismatch`. "
            "Usual cause: the driver packages were upgraded (often by unattended upgrades) and "
            "the machine was not rebooted. A container that ships its own driver libraries does "
            "the same."
        ),
        detection=N_(
            "Reads the kernel module version from `/sys/module/nvidia/version` (or "
            "`/proc/driver/nvidia/version`). Finds the `libcuda.so.1` and `libnvidia-ml.so.1` "
            "the loader would pick, first on `LD_LIBRARY_PATH`, then in `/etc/ld.so.cache` "
            "(parsed directly, without `ldconfig`), and takes their version from the real file "
            "name (`libcuda.so.570.124.06`). A different version is reported, and so is NVML's "
            "own 'Driver/library version mismatch' error. Libraries in a `compat` directory "
            "(cuda-compat forward compatibility) are left to the cuda-compat rules. `--deep` is "
            "not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Reboot, or reload the modules: `sudo rmmod nvidia_uvm nvidia_drm "
                    "nvidia_modeset nvidia && sudo modprobe nvidia`."
                ),
            ),
            (
                "any",
                N_(
                    "Prevent surprise upgrades with `sudo apt-mark hold` on the driver packages. "
                    "Never install driver user-space packages inside containers; the NVIDIA "
                    "Container Toolkit brings the host's."
                ),
            ),
            (
                "any",
                N_(
                    "If the library that loads is a cuda-compat copy, remove its directory from "
                    "`LD_LIBRARY_PATH` or `/etc/ld.so.conf.d/` (then `sudo ldconfig`) when the "
                    "host driver is new enough for the CUDA in use."
                ),
            ),
        ),
        sources=(
            catalog("G2"),
            catalog("G6"),
            issue("easydiffusion/easydiffusion", 379),
            issue("pytorch/pytorch", 45109),
            issue("NVIDIA/nvidia-docker", 1256),
        ),
    ),
)
