"""The NVIDIA driver and GPUs: NVML first, then ``nvidia-smi``, then the kernel module's files.

Order and sources follow the failure catalog (section 2.4) and uv's ``--torch-backend=auto``
detector: NVML/nvidia-smi give GPUs and compute capabilities; ``/sys/module/nvidia/version`` and
``/proc/driver/nvidia/version`` give the loaded kernel module even when user space is broken;
PCI vendor 0x10de tells that an NVIDIA GPU exists even without any driver.
"""

from __future__ import annotations

import re
from dataclasses import replace

from torchenv.models import Driver, Gpu, ProbeNote
from torchenv.probe.context import ProbeContext
from torchenv.probe.nvml import NvmlUnavailable
from torchenv.probe.runner import CallDied, call_with_timeout

# name is last: a comma inside a product name must not shift the other columns.
QUERY_FIELDS = ("index", "uuid", "pci.bus_id", "compute_cap", "driver_version", "memory.total")
_LAST_FIELD = "name"
_SYSFS_PAGE = 4096
_NOT_VALID = re.compile(r'Field "([\w.]+)" is not a valid field to query')
_PROC_VERSION = re.compile(
    r"NVRM version:\s+NVIDIA UNIX (?P<flavor>Open Kernel Module for \S+|\S+ Kernel Module)\s+"
    r"(?P<version>\d+\.\d+(?:\.\d+)?)"
)


def smi_query_argv(fields: tuple[str, ...] = QUERY_FIELDS) -> list[str]:
    columns = ",".join((*fields, _LAST_FIELD))
    return ["nvidia-smi", f"--query-gpu={columns}", "--format=csv,noheader,nounits"]


def _value(raw: str) -> str | None:
    raw = raw.strip()
    if not raw or raw == "N/A" or (raw.startswith("[") and raw.endswith("]")):
        return None  # N/A, [N/A], [Not Supported]
    return raw


def _number(raw: str | None) -> int | None:
    try:
        return int(float(raw)) if raw is not None else None
    except ValueError:
        return None


def parse_smi_query(
    text: str, fields: tuple[str, ...] = QUERY_FIELDS
) -> tuple[list[Gpu], str, list[str]]:
    """GPUs, the driver version and the lines that were not GPU rows (a stray warning such as
    "infoROM is corrupted" must not cost the other GPUs), from ``nvidia-smi --query-gpu`` CSV
    (noheader, nounits)."""
    gpus: list[Gpu] = []
    skipped: list[str] = []
    driver = ""
    for line in (line for line in text.splitlines() if line.strip()):
        cells = [c.strip() for c in line.split(",", len(fields))]
        if len(cells) != len(fields) + 1:
            skipped.append(line.strip()[:200])
            continue
        row = dict(zip((*fields, _LAST_FIELD), cells, strict=True))
        index = _number(_value(row.get("index", "")))
        driver = _value(row.get("driver_version", "")) or driver
        gpus.append(
            Gpu(
                index=index if index is not None else len(gpus),
                name=row[_LAST_FIELD],
                uuid=_value(row.get("uuid", "")),
                compute_capability=_value(row.get("compute_cap", "")),
                memory_total_mib=_number(_value(row.get("memory.total", ""))),
                pci_bus_id=_value(row.get("pci.bus_id", "")),
            )
        )
    return gpus, driver, skipped


def parse_proc_version(text: str) -> tuple[str, str] | None:
    """(version, "open"|"proprietary") from /proc/driver/nvidia/version."""
    match = _PROC_VERSION.search(text)
    if match is None:
        return None
    flavor = "open" if match.group("flavor").startswith("Open") else "proprietary"
    return match.group("version"), flavor


def explain_smi_failure(output: str) -> str:
    """A short, specific reason from nvidia-smi's own error text."""
    text = " ".join(output.split())
    if re.search(r"couldn.t communicate with the NVIDIA driver", text):
        return "nvidia-smi cannot communicate with the NVIDIA driver (kernel module not loaded)"
    if "Driver/library version mismatch" in text:
        lib = re.search(r"NVML library version: ([\d.]+)", text)
        suffix = f" (user-space NVML {lib.group(1)})" if lib else ""
        return "driver/library version mismatch" + suffix
    return text[-300:] or "no output"


def cuda_version_from_int(value: int) -> str:
    """12080 -> "12.8" (cuDriverGetVersion and NVML encoding: 1000*major + 10*minor)."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def probe_driver_and_gpus(
    ctx: ProbeContext, nvml_library: bool = True, libcuda_library: bool = True
) -> tuple[Driver, tuple[Gpu, ...]]:
    """``nvml_library`` False: libnvidia-ml.so.1 cannot be loaded, so NVML is not tried (nor
    the child process that loads it); ``libcuda_library`` likewise for libcuda.so.1."""
    notes: list[ProbeNote] = []
    module_version = (ctx.read_text("/sys/module/nvidia/version") or "").strip() or None
    proc = ctx.read_text("/proc/driver/nvidia/version")
    parsed_proc = parse_proc_version(proc) if proc else None
    flavor = parsed_proc[1] if parsed_proc else None
    kernel_module = module_version or (parsed_proc[0] if parsed_proc else None)
    base = Driver(kernel_module=kernel_module, kernel_module_flavor=flavor)

    if ctx.nvml is not None and not nvml_library:
        notes.append(ProbeNote("nvml", "libnvidia-ml.so.1 is not in the loader's search path"))
    elif ctx.nvml is not None:
        try:
            reading = call_with_timeout(ctx.nvml, ctx.tool_timeout)
        except (NvmlUnavailable, TimeoutError, CallDied) as exc:
            notes.append(ProbeNote("nvml", str(exc)))
        else:
            cuda = reading.cuda_driver_version
            driver = replace(
                base,
                version=reading.driver_version,
                cuda_driver_api=cuda_version_from_int(cuda) if cuda else None,
                source="nvml",
                notes=tuple(notes),
            )
            return driver, reading.gpus

    smi = _probe_smi(ctx, notes)
    if smi is not None:
        gpus, version = smi
        return replace(
            base,
            version=version or kernel_module,
            cuda_driver_api=_libcuda_version(ctx, notes, libcuda_library),
            source="nvidia-smi",
            notes=tuple(notes),
        ), tuple(gpus)

    if kernel_module is not None:
        source = "/sys/module/nvidia/version" if module_version else "/proc/driver/nvidia/version"
        return replace(base, version=kernel_module, source=source, notes=tuple(notes)), ()
    notes.append(ProbeNote("kernel module", "no /sys/module/nvidia and no /proc/driver/nvidia"))
    return replace(base, notes=tuple(notes)), ()


def _probe_smi(ctx: ProbeContext, notes: list[ProbeNote]) -> tuple[list[Gpu], str] | None:
    exe = ctx.which("nvidia-smi")
    if exe is None:
        notes.append(ProbeNote("nvidia-smi", "not found on PATH"))
        return None
    fields: tuple[str, ...] = QUERY_FIELDS
    for _ in range(len(QUERY_FIELDS)):  # again without each field an old driver does not know
        argv = smi_query_argv(fields)
        argv[0] = exe
        result = ctx.runner(argv, timeout=ctx.tool_timeout)
        output = result.stdout + result.stderr
        unknown = _NOT_VALID.search(output)
        if unknown and unknown.group(1) in fields:
            fields = tuple(f for f in fields if f != unknown.group(1))
            continue
        if result.error is not None:
            notes.append(ProbeNote("nvidia-smi", result.error))
            return None
        if "No devices were found" in output:
            return [], ""
        if result.returncode != 0:
            notes.append(ProbeNote("nvidia-smi", explain_smi_failure(output)))
            return None
        gpus, driver, skipped = parse_smi_query(result.stdout, fields)
        notes.extend(ProbeNote("nvidia-smi", f"not a GPU row: {line!r}") for line in skipped)
        if not gpus and skipped:
            return None
        return gpus, driver
    return None


def _libcuda_version(ctx: ProbeContext, notes: list[ProbeNote], findable: bool) -> str | None:
    if ctx.libcuda is None:
        return None
    if not findable:
        notes.append(ProbeNote("libcuda.so.1", "not in the loader's search path"))
        return None
    try:
        value = call_with_timeout(ctx.libcuda, ctx.tool_timeout)
    except (OSError, TimeoutError, CallDied) as exc:
        notes.append(ProbeNote("libcuda.so.1", str(exc)))
        return None
    return cuda_version_from_int(value) if value else None


def probe_pci_nvidia(ctx: ProbeContext) -> tuple[str, ...]:
    """PCI addresses of NVIDIA display/3D controllers (vendor 0x10de, class 0x03xxxx)."""
    devices = ctx.path("/sys/bus/pci/devices")
    found = []
    try:
        entries = sorted(devices.iterdir())
    except OSError:
        return ()
    for entry in entries:
        # a sysfs attribute reports one page (4096) as its size whatever it holds
        vendor = ctx.read_text(f"/sys/bus/pci/devices/{entry.name}/vendor", _SYSFS_PAGE) or ""
        klass = ctx.read_text(f"/sys/bus/pci/devices/{entry.name}/class", _SYSFS_PAGE) or ""
        if vendor.strip().lower() == "0x10de" and klass.strip().lower().startswith("0x03"):
            found.append(entry.name)
    return tuple(found)


def probe_pci_device_ids(ctx: ProbeContext, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The PCI device id of each address ("1b80"), "" where it cannot be read: with no driver
    loaded it is the only thing that tells the GPU's generation."""
    ids = []
    for address in addresses:
        text = ctx.read_text(f"/sys/bus/pci/devices/{address}/device", _SYSFS_PAGE) or ""
        value = text.strip().lower().removeprefix("0x")
        ids.append(value if re.fullmatch(r"[0-9a-f]{4}", value) else "")
    return tuple(ids)


def probe_device_nodes(ctx: ProbeContext) -> tuple[str, ...]:
    """/dev/nvidia* nodes, and /dev/dxg (the GPU of WSL2, containers included)."""
    try:
        nodes = [f"/dev/{p.name}" for p in ctx.path("/dev").glob("nvidia*")]
    except OSError:
        nodes = []
    if ctx.path("/dev/dxg").exists():
        nodes.append("/dev/dxg")
    return tuple(sorted(nodes))


# a GPU line of `nvidia-smi -L`: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)"
_SMI_GPU_LINE = re.compile(r"^GPU \d+: ", re.MULTILINE)


def gpu_evidence(ctx: ProbeContext) -> tuple[bool, str | None]:
    """Whether the host shows an NVIDIA GPU, and why not when nvidia-smi is on PATH.

    /dev/nvidia0 is evidence. nvidia-smi is only when ``nvidia-smi -L`` lists a GPU: one left
    behind by a removed driver, or that cannot reach the driver, exits non-zero, and a CPU
    machine must not fail ``cuda-available`` for it. It runs only without /dev/nvidia0 (WSL2,
    where the GPU is /dev/dxg, or a machine without a GPU).
    """
    if ctx.path("/dev/nvidia0").exists():
        return True, None
    smi = ctx.which("nvidia-smi")
    if smi is None:
        return False, None
    result = ctx.runner([smi, "-L"], timeout=ctx.tool_timeout)
    if not result.ok:
        return False, f"nvidia-smi on PATH did not run: {result.describe_failure()}"
    if _SMI_GPU_LINE.search(result.stdout) is None:
        return False, "nvidia-smi -L lists no GPU"
    return True, None
