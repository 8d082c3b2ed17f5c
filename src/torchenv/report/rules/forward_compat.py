"""Rules on CUDA forward compatibility: a ``cuda-compat`` libcuda loaded in front of the host
driver (failure catalog G2 and G3).

The forward-compatibility package (``cuda-compat-13-0``, in CUDA images under
``/usr/local/cuda-X.Y/compat``) carries a user-mode driver newer than the kernel module, so an
old long-term driver can run a newer CUDA. It works only in that direction and only on the GPUs
NVIDIA lists: "NVIDIA Data Center GPUs, select NGC Server Ready SKUs of RTX cards, Jetson
boards" (NVIDIA CUDA Compatibility guide, forward compatibility). Loaded in front of a newer
host driver it fails with error 803 (catalog G2: NVIDIA-NeMo/labs-molt PR #44, VIAME PR #276);
on a GeForce card with error 804 (catalog G3: NVIDIA/nvidia-docker#1515,
NVIDIA/nvidia-container-toolkit#199).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from torchenv.i18n import N_, Msg
from torchenv.models import Gpu, Machine, Severity
from torchenv.models.compat import driver_key
from torchenv.report.rules.base import Facts, Hit, rule

ERROR, WARNING = Severity.ERROR, Severity.WARNING
# GeForce and TITAN are consumer cards: never forward-compatible. Quadro and RTX workstation
# cards are only where the SKU is "NGC Server Ready", which no name tells.
_CONSUMER = re.compile(r"\b(geforce|titan)\b", re.IGNORECASE)
_WORKSTATION = re.compile(r"\b(quadro|rtx)\b", re.IGNORECASE)
_LIBCUDA = re.compile(r"^libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class CompatLibrary:
    path: str  # the real file, /usr/local/cuda-13.0/compat/libcuda.so.580.65.06
    version: str  # "580.65.06"
    module: str  # the host's kernel module (or, without one, the driver NVML reports)

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)


def is_compat_path(path: str) -> bool:
    """A library of the forward-compatibility package: it lives in a ``compat`` directory
    (NVIDIA's ``cuda-compat-X-Y``) or ``cuda-compat`` (conda-forge's ``cuda-compat``)."""
    return any(part in ("compat", "cuda-compat") for part in path.split("/"))


def loaded_compat_libcuda(m: Machine) -> CompatLibrary | None:
    """The cuda-compat libcuda when it is the one the loader picks, with its version and the
    host driver's; None when the first libcuda is the driver's own or a version is unknown."""
    module = m.driver.kernel_module or m.driver.version
    if not m.libraries.libcuda or not module:
        return None
    path = m.libraries.libcuda[0]  # the loader's pick: LD_LIBRARY_PATH, then ld.so.cache
    match = _LIBCUDA.match(os.path.basename(path))
    if not is_compat_path(path) or match is None:
        return None
    return CompatLibrary(path, match.group(1), module)


def _unsupported_gpus(m: Machine) -> tuple[list[Gpu], list[Gpu]]:
    """The GPUs forward compatibility cannot serve: (consumer cards, workstation cards)."""
    consumer = [g for g in m.gpus if _CONSUMER.search(g.name)]
    workstation = [g for g in m.gpus if g not in consumer and _WORKSTATION.search(g.name)]
    return consumer, workstation


def forwarded_driver(m: Machine) -> str | None:
    """The user-mode driver CUDA runs on when forward compatibility is in use and the GPUs
    support it: the compat libcuda's version, newer than the kernel module. None otherwise."""
    lib = loaded_compat_libcuda(m)
    if lib is None or driver_key(lib.version) <= driver_key(lib.module) or not m.gpus:
        return None
    return None if any(_unsupported_gpus(m)) else lib.version


def _where(m: Machine, lib: CompatLibrary) -> str:
    if lib.directory in m.libraries.ld_library_path:
        return Msg("{directory} is on LD_LIBRARY_PATH", directory=lib.directory)
    return Msg("{directory} is in the loader cache (/etc/ld.so.conf.d/)", directory=lib.directory)


def _remove(m: Machine, lib: CompatLibrary) -> str:
    if lib.directory in m.libraries.ld_library_path:
        return Msg(
            "remove {directory} from LD_LIBRARY_PATH (in the image's ENV, the shell profile or the "
            "job script)",
            directory=lib.directory,
        )
    return Msg(
        "remove the /etc/ld.so.conf.d/ entry that names {directory}, then run `sudo ldconfig`",
        directory=lib.directory,
    )


@rule(
    "cuda-compat-older-than-driver",
    ERROR,
    N_("A cuda-compat libcuda older than the host driver is loaded (CUDA error 803)"),
    catalog="G2",
)
def compat_older_than_driver(f: Facts) -> Iterator[Hit]:
    m = f.machine
    lib = loaded_compat_libcuda(m)
    if lib is None or driver_key(lib.version) >= driver_key(lib.module):
        return
    yield Hit(
        Msg(
            "The loader picks cuda-compat's libcuda {version}, older than the host driver "
            "{module}: forward compatibility only runs a newer library on an older driver, so "
            "CUDA fails with error 803 (unsupported display driver / cuda driver combination)",
            version=lib.version,
            module=lib.module,
        ),
        (
            Msg("kernel module: {module}", module=lib.module),
            f"libcuda: {lib.path}",
            _where(m, lib),
        ),
        (
            _remove(m, lib),
            Msg(
                "driver {module} already runs what the compat library was for: the host's own "
                "libcuda then loads",
                module=lib.module,
            ),
        ),
    )


@rule(
    "cuda-compat-unsupported-gpu",
    ERROR,
    N_("cuda-compat forward compatibility on a GPU that does not support it (CUDA error 804)"),
    catalog="G3",
)
def compat_unsupported_gpu(f: Facts) -> Iterator[Hit]:
    m = f.machine
    lib = loaded_compat_libcuda(m)
    if lib is None or driver_key(lib.version) <= driver_key(lib.module):
        return  # older: cuda-compat-older-than-driver; the same: nothing is forwarded
    consumer, workstation = _unsupported_gpus(m)
    gpus = consumer or workstation
    if not gpus:
        return
    names = ", ".join(f"GPU{g.index} {g.name}" for g in gpus)
    if consumer:
        title = Msg(
            "cuda-compat's libcuda {version} forwards driver {module} on {gpus}: forward "
            "compatibility is for data-center GPUs and Jetson only, so CUDA fails with error 804 "
            "(forward compatibility was attempted on non supported HW)",
            version=lib.version,
            module=lib.module,
            gpus=names,
        )
    else:
        title = Msg(
            "cuda-compat's libcuda {version} forwards driver {module} on {gpus}: only the RTX "
            "and Quadro cards NVIDIA lists as NGC Server Ready support forward compatibility; "
            "others fail with error 804",
            version=lib.version,
            module=lib.module,
            gpus=names,
        )
    yield Hit(
        title,
        (
            Msg("kernel module: {module}", module=lib.module),
            f"libcuda: {lib.path}",
            _where(m, lib),
            Msg("GPUs: {gpus}", gpus=names),
        ),
        (
            Msg(
                "upgrade the host driver to {version} or newer (the branch of the CUDA in use), "
                "then drop the compat library",
                version=lib.version,
            ),
            _remove(m, lib),
            Msg(
                "or use an image or wheel whose CUDA driver {module} runs without forward "
                "compatibility (`torchenv plan` picks one)",
                module=lib.module,
            ),
            Msg(
                "on the host, remove cuda-compat packages (`sudo apt remove 'cuda-compat-*'`): "
                "the NVIDIA Container Toolkit injects them into containers"
            ),
        ),
        severity=ERROR if consumer else WARNING,
    )
