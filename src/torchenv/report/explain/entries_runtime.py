"""Explanations of the rules on what ``doctor --deep`` sees when it imports torch inside the
environment (rules/runtime.py)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog

ENTRIES = (
    RuleExplanation(
        id="runtime-check-failed",
        meaning=N_(
            "Importing torch inside the environment failed, crashed or did not finish in time. "
            "The last lines of the traceback, or of the crash output, are the evidence. An error "
            "usually matches one of the file-based findings (missing CUDA libraries, NumPy ABI, "
            "two torch copies); a hang usually points at CUDA initialisation and the driver."
        ),
        detection=N_(
            "Only with `torchenv doctor --deep`: torchenv runs a small script (`deep_check.py`) "
            "with the environment's interpreter, in a separate process with a timeout "
            "(`--deep-timeout`, 180 s by default). The script imports torch and calls "
            "`torch.cuda.is_available()`; when CUDA is available it also multiplies two small "
            "matrices on the GPU. Reported: an exception (its traceback), a crash before the "
            "script's answer (the end of its stderr), or the timeout."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Read the other findings first; they usually name the cause. Reproduce by "
                    "hand: `<prefix>/bin/python -c 'import torch; torch.zeros(1).cuda()'`."
                ),
            ),
            (
                "pip",
                N_(
                    "If nothing else is reported, reinstall torch from the index it came from: "
                    "`<prefix>/bin/python -m pip install --force-reinstall torch==<version> "
                    "--index-url <index>`."
                ),
            ),
            (
                "uv",
                N_(
                    "`uv pip install --python <prefix>/bin/python --reinstall-package torch "
                    "torch==<version> --index-url <index>`."
                ),
            ),
        ),
        sources=("failure-catalog.md §5", "failure-catalog.md §2.1"),
    ),
    RuleExplanation(
        id="cuda-unavailable-at-runtime",
        meaning=N_(
            "torch is a CUDA build and the machine has NVIDIA GPUs, yet "
            "`torch.cuda.is_available()` returned False inside the environment. Something "
            "between torch and the GPU is broken: the driver, `CUDA_VISIBLE_DEVICES`, the "
            "container's GPU access or the CUDA libraries. `is_available()` hides the reason, so "
            "torchenv quotes the error of a first CUDA call."
        ),
        detection=N_(
            "Only with `torchenv doctor --deep`: torchenv runs a small script (`deep_check.py`) "
            "with the environment's interpreter, in a separate process with a timeout "
            "(`--deep-timeout`, 180 s by default). The script imports torch and calls "
            "`torch.cuda.is_available()`; when that is False for a CUDA build, it runs "
            '`torch.zeros(1, device="cuda")` to capture the error. Warnings raised during the '
            "import are shown too. Needs GPUs from NVML or `nvidia-smi`."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Check the other findings: no-nvidia-driver, driver-too-old-for-build, "
                    "driver-library-mismatch, cuda-visible-devices-hides-all, "
                    "container-without-gpu-access. torch's error names the case: `driver on your "
                    "system is too old` (driver too old), `Error 803` (library/module mismatch), "
                    "`No CUDA GPUs are available` (`CUDA_VISIBLE_DEVICES`)."
                ),
            ),
        ),
        sources=(catalog("A2"), catalog("A3"), catalog("A4"), catalog("G2")),
    ),
    RuleExplanation(
        id="cuda-op-failed",
        meaning=N_(
            "CUDA is available, but a small matrix multiplication on the GPU failed or gave a "
            "result that differs from the CPU's. `no kernel image is available for execution on "
            "the device` means the build lacks the GPU's architecture; other errors point at "
            "the driver or the GPU itself."
        ),
        detection=N_(
            "Only with `torchenv doctor --deep`: torchenv runs a small script (`deep_check.py`) "
            "with the environment's interpreter, in a separate process with a timeout "
            "(`--deep-timeout`, 180 s by default). The script imports torch and calls "
            "`torch.cuda.is_available()`; then it multiplies two random 256x256 matrices on the "
            "CPU and on the default GPU, synchronizes, and compares with "
            "`torch.allclose(rtol=1e-2, atol=1e-2)`. The exception text or 'wrong result' is the "
            "evidence."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`no kernel image`: install a variant with the GPU's architecture (see "
                    "gpu-arch-not-in-build). A wrong result or another error: check `nvidia-smi` "
                    "and run `torchenv verify` for a fuller GPU check."
                ),
            ),
        ),
        sources=(catalog("C1"), catalog("C2"), catalog("C4")),
    ),
    RuleExplanation(
        id="runtime-sees-fewer-gpus",
        meaning=N_(
            "torch counts fewer GPUs than the driver lists as visible. Some GPUs are hidden "
            "from CUDA or cannot be used: through `CUDA_VISIBLE_DEVICES`, the MIG "
            "configuration, or a GPU in a bad state."
        ),
        detection=N_(
            "Only with `torchenv doctor --deep`: torchenv runs a small script (`deep_check.py`) "
            "with the environment's interpreter, in a separate process with a timeout "
            "(`--deep-timeout`, 180 s by default). The script imports torch and calls "
            "`torch.cuda.is_available()`, then `torch.cuda.device_count()`. That count is "
            "compared with the GPUs from NVML or `nvidia-smi` that stay visible after "
            "`CUDA_VISIBLE_DEVICES`."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Check `CUDA_VISIBLE_DEVICES` and `CUDA_DEVICE_ORDER`, and the MIG devices in "
                    "`nvidia-smi -L`; `nvidia-smi` also shows GPUs in an error state."
                ),
            ),
        ),
        sources=(catalog("A4"),),
    ),
    RuleExplanation(
        id="runtime-torch-differs-from-files",
        meaning=N_(
            "The torch that Python imports is not the one whose files torchenv read in the "
            "environment. Another torch comes first on `sys.path`: from `PYTHONPATH`, the user "
            "site or a `.pth` file. The file-based findings then describe the other copy, and "
            "pip may upgrade one copy while Python keeps importing the other."
        ),
        detection=N_(
            "Only with `torchenv doctor --deep`: torchenv runs a small script (`deep_check.py`) "
            "with the environment's interpreter, in a separate process with a timeout "
            "(`--deep-timeout`, 180 s by default). The script imports torch and calls "
            "`torch.cuda.is_available()`. It compares the imported `torch.__version__` with "
            "`__version__` in the first `torch/version.py` found in the environment's site "
            "directories."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Find the imported copy: `<prefix>/bin/python -c 'import torch; "
                    "print(torch.__file__)'`. Remove it, or the `PYTHONPATH` entry that adds it; "
                    "`PYTHONNOUSERSITE=1` hides the user site."
                ),
            ),
        ),
        sources=(catalog("E1"),),
    ),
)
