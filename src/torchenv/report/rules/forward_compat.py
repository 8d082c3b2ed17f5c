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
from torchenv.models.gpunames import segment_of
from torchenv.report.rules.base import Facts, Hit, rule

ERROR, WARNING = Severity.ERROR, Severity.WARNING
# a desktop driver's user-mode library: libcuda.so.580.65.06. Jetson's compat library is
# libcuda.so.1.1 and carries no driver version (nor does Jetson's driver work this way).
_LIBCUDA = re.compile(r"^libcuda\.so\.(\d{3,}\.\d+(?:\.\d+)?)$")
# the GPUs NVIDIA lists for forward compatibility: "NVIDIA Data Center GPUs, select NGC Server
# Ready SKUs of RTX cards, Jetson boards"; a workstation card may be such an SKU, its name does
# not tell (gpus.json's segments, S12)
_SUPPORTED = ("datacenter", "embedded")
_MAYBE = ("workstation", "desktop")


@dataclass(frozen=True)
class CompatLibrary:
    path: str  # the real file, /usr/local/cuda-13.0/compat/libcuda.so.580.65.06
    version: str  # "580.65.06"
    module: str  # the host's kernel module (or, without one, the driver NVML reports)
    found_in: str | None  # the LD_LIBRARY_PATH entry as written, "/etc/ld.so.cache", or None

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)

    @property
    def newer(self) -> bool:
        return driver_key(self.version) > driver_key(self.module)


def is_compat_path(path: str) -> bool:
    """A library of the forward-compatibility package: it lives in a ``compat`` directory
    (NVIDIA's ``cuda-compat-X-Y``) or ``cuda-compat`` (conda-forge's ``cuda-compat``)."""
    return any(part in ("compat", "cuda-compat") for part in path.split("/"))


def loaded_compat_libcuda(m: Machine) -> CompatLibrary | None:
    """The cuda-compat libcuda when it is the one the loader picks, with its version and the
    host driver's; None when the first libcuda is the driver's own or a version is unknown."""
    module = m.driver.kernel_module or m.driver.version
    if not m.libraries.libcuda or not module or m.host.jetson:
        return None
    if len(driver_key(module)) < 2:
        return None  # a module version that cannot be compared
    path = m.libraries.libcuda[0]  # the loader's pick: LD_LIBRARY_PATH, then ld.so.cache
    match = _LIBCUDA.match(os.path.basename(path))
    if not is_compat_path(path) or match is None:
        return None
    return CompatLibrary(path, match.group(1), module, m.libraries.libcuda_from)


def _segments(f: Facts) -> list[tuple[Gpu, str | None]]:
    models = f.kb.gpu_models()
    return [(g, segment_of(g.name, models)) for g in f.machine.gpus]


def forwarded_driver(f: Facts) -> str | None:
    """The user-mode driver CUDA runs on when forward compatibility is in use on GPUs that may
    support it (data-center, Jetson, or workstation cards that may be NGC Server Ready, which
    cuda-compat-unsupported-gpu warns about): the compat libcuda's version. None otherwise: an
    unknown or consumer GPU keeps the kernel module's driver."""
    lib = loaded_compat_libcuda(f.machine)
    segments = _segments(f)
    if lib is None or not lib.newer or not segments:
        return None
    if all(s in _SUPPORTED or s in _MAYBE for _, s in segments):
        return lib.version
    return None


def _where(lib: CompatLibrary) -> str:
    if lib.found_in and lib.found_in != "/etc/ld.so.cache":
        return Msg("{directory} is on LD_LIBRARY_PATH", directory=lib.found_in)
    return Msg("{directory} is in the loader cache (/etc/ld.so.conf.d/)", directory=lib.directory)


def _remove(lib: CompatLibrary) -> str:
    if lib.found_in and lib.found_in != "/etc/ld.so.cache":
        return Msg(
            "remove {directory} from LD_LIBRARY_PATH (in the image's ENV, the shell profile or the "
            "job script)",
            directory=lib.found_in,
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
            _where(lib),
        ),
        (
            _remove(lib),
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
    lib = loaded_compat_libcuda(f.machine)
    if lib is None or not lib.newer:
        return  # older: cuda-compat-older-than-driver; the same: nothing is forwarded
    segments = _segments(f)
    consumer = [g for g, s in segments if s == "consumer"]
    workstation = [g for g, s in segments if s in _MAYBE]
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
            "cuda-compat's libcuda {version} forwards driver {module} on {gpus}: of the "
            "workstation cards only those NVIDIA lists as NGC Server Ready support forward "
            "compatibility; on the others CUDA fails with error 804",
            version=lib.version,
            module=lib.module,
            gpus=names,
        )
    yield Hit(
        title,
        (
            Msg("kernel module: {module}", module=lib.module),
            f"libcuda: {lib.path}",
            _where(lib),
            Msg("GPUs: {gpus}", gpus=names),
        ),
        (
            Msg(
                "upgrade the host driver to {version} or newer (the branch of the CUDA in use), "
                "then drop the compat library",
                version=lib.version,
            ),
            _remove(lib),
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
