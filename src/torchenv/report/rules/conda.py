"""Rules on conda environments and mixing conda with pip (failure catalog family E)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import CondaRecord, Severity
from torchenv.report import fixes
from torchenv.report.rules.base import Facts, Hit, rule
from torchenv.report.rules.versions import in_spec

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# conda packages that provide the torch Python package (E1 detection list in the catalog).
_TORCH_PACKAGES = frozenset(
    {"pytorch", "pytorch-gpu", "pytorch-cpu", "libtorch", "pytorch-cuda", "pytorch-nightly"}
)
# Frozen since 2.5.1 (S9). The nvidia channel is still maintained (CUDA toolkit packages).
_DEPRECATED_CHANNELS = ("pytorch", "pytorch-nightly")


def _records(f: Facts) -> tuple[CondaRecord, ...]:
    conda = f.environment.conda
    return conda.records if conda is not None else ()


@rule(
    "pip-torch-over-conda-pytorch",
    ERROR,
    N_("pip/uv installed torch into an environment whose conda records own pytorch"),
    catalog="E1",
)
def pip_over_conda(f: Facts) -> Iterator[Hit]:
    env = f.environment
    conda_torch = [r for r in _records(f) if r.name in _TORCH_PACKAGES]
    dist = env.distribution("torch")
    if not conda_torch or dist is None or dist.installer in (None, "conda"):
        return
    listed = ", ".join(f"{r.name} {r.version} {r.build} ({r.channel or '?'})" for r in conda_torch)
    requirement, index = fixes.same_torch(env)
    keep_pip = (
        fixes.conda_remove(env, [r.name for r in conda_torch], force=True)
        + " && "
        + " ".join(fixes.install(env, [requirement], index, reinstall=True))
    )
    keep_conda = (
        fixes.pip_uninstall(env, ["torch", "torchvision", "torchaudio"])
        + " && "
        + fixes.conda_install(env, ["pytorch"], force=True)
    )
    yield Hit(
        Msg(
            "torch {version} was installed by {installer} over conda's {packages}: both claim "
            "the same files and conda no longer knows what is on disk",
            version=dist.version,
            installer=dist.installer,
            packages=listed,
        ),
        (f"conda-meta: {listed}", f"{dist.metadata_dir}/INSTALLER: {dist.installer}"),
        (
            Msg("pick one installer; to keep pip's build: {command}", command=keep_pip),
            Msg("or keep conda's: {command}", command=keep_conda),
            Msg("best: recreate the environment with one installer"),
        ),
    )


@rule(
    "conda-pip-duplicate-package",
    WARNING,
    N_("A package is installed both by conda and by pip/uv"),
    catalog="E1",
)
def conda_pip_duplicates(f: Facts) -> Iterator[Hit]:
    records = {r.name: r for r in _records(f)}
    doubled = [
        (d, records[d.name])
        for d in f.environment.distributions
        if d.name in records and d.installer in ("pip", "uv") and d.name != "torch"
    ]
    if doubled:
        yield Hit(
            Msg(
                "conda and pip both installed: {packages}",
                packages=", ".join(d.name for d, _ in doubled),
            ),
            tuple(
                f"{d.name}: conda {r.version} {r.build}, {d.installer} {d.version}"
                for d, r in doubled
            ),
            (
                fixes.pip_uninstall(f.environment, [d.name for d, _ in doubled]),
                Msg(
                    "then `conda install --force-reinstall` those packages if conda's copy is "
                    "broken"
                ),
            ),
        )


def _newer_than(release: str, last: str) -> bool:
    return in_spec(f">{last}", release.split("+", maxsplit=1)[0]) is True


# Releases the pytorch channel did publish, to test range specs against (S9: last is 2.5.1).
_CHANNEL_SAMPLES = ("1.13.1", "2.0.1", "2.1.2", "2.2.2", "2.3.1", "2.4.1")


def pin_wants_newer(pin: str, last: str) -> bool:
    """Whether a conda spec (``pytorch=2.6``, ``pytorch>=2.6``, ``pytorch::pytorch 2.6.0``) can
    only be met by a release after ``last``. Unversioned specs can be met and return False."""
    match = re.match(r"^\s*(?:[\w-]+::)?(?:pytorch|torch)(?![\w-])\s*(.*)$", pin)
    rest = match.group(1).strip() if match else ""
    if not rest:
        return False
    if rest.startswith("=") and not rest.startswith("=="):
        rest = rest[1:].strip()
    if not rest:
        return False
    if rest[0] not in "<>!~=":  # conda's "=2.6" and "2.6" mean 2.6.*, and "2.6.0" that release
        return _newer_than(rest.split("=")[0].strip().rstrip(".*"), last)
    spec = rest.replace(" ", "")
    met = [in_spec(spec, v) for v in (*_CHANNEL_SAMPLES, last)]
    return None not in met and not any(met)


@rule(
    "pytorch-channel-missing-version",
    ERROR,
    N_("A torch version is asked from the pytorch conda channel, which never published it"),
    catalog="E2",
)
def pytorch_channel_missing(f: Facts) -> Iterator[Hit]:
    conda = f.environment.conda
    if conda is None:
        return
    last = f.kb.last_pytorch_channel_version()
    for file in conda.channel_files:
        uses_channel = "pytorch" in file.channels or any(
            p.startswith("pytorch::") for p in file.pytorch_pins
        )
        if not uses_channel:
            continue
        for pin in file.pytorch_pins:
            if pin_wants_newer(pin, last):
                yield Hit(
                    Msg(
                        "{file} asks for {pin} from the pytorch channel, whose last release is "
                        "{last} (PyTorch stopped publishing to conda after 2.5)",
                        file=file.path,
                        pin=repr(pin),
                        last=last,
                    ),
                    (
                        Msg(
                            "{file}: channels {channels}; dependency {pin}",
                            file=file.path,
                            channels=", ".join(file.channels),
                            pin=repr(pin),
                        ),
                    ),
                    (
                        Msg(
                            "use conda-forge: channels [conda-forge], dependencies pytorch-gpu "
                            "(or pytorch) with cuda-version=12.9/13.0; drop pytorch-cuda and the "
                            "pytorch/nvidia channels"
                        ),
                    ),
                )
    for record in _records(f):
        if (
            record.channel == "pytorch"
            and record.name == "pytorch"
            and _newer_than(record.version, last)
        ):
            yield Hit(
                Msg(
                    "conda-meta records pytorch {version} from the pytorch channel, which never "
                    "published it (last: {last}): the record is not what it claims",
                    version=record.version,
                    last=last,
                ),
                (f"conda-meta/{record.file}",),
                (Msg("recreate the environment from conda-forge"),),
            )


@rule(
    "pytorch-channel-deprecated",
    WARNING,
    N_("The environment uses the frozen pytorch conda channel"),
    catalog="E2",
)
def pytorch_channel_deprecated(f: Facts) -> Iterator[Hit]:
    conda = f.environment.conda
    if conda is None:
        return
    last = f.kb.last_pytorch_channel_version()
    from_channel = [r for r in _records(f) if r.channel in _DEPRECATED_CHANNELS]
    files = [c for c in conda.channel_files if set(c.channels) & set(_DEPRECATED_CHANNELS)]
    if not from_channel and not files:
        return
    evidence = [
        Msg(
            "{package} {version} from channel {channel}",
            package=r.name,
            version=r.version,
            channel=r.channel,
        )
        for r in from_channel[:5]
    ]
    evidence += [
        Msg("{file}: channels {channels}", file=c.path, channels=", ".join(c.channels))
        for c in files
    ]
    yield Hit(
        Msg(
            "packages come from the pytorch conda channel, frozen at torch {last}: no newer "
            "torch, no fixes",
            last=last,
        ),
        tuple(evidence),
        (
            Msg(
                "move to conda-forge: {command}",
                command=fixes.conda_install(f.environment, ["pytorch-gpu"]),
            ),
            Msg(
                "or use the pip wheels inside the environment (then do not mix with conda's "
                "pytorch)"
            ),
        ),
    )


@rule(
    "conda-cpu-variant",
    ERROR,
    N_("conda installed the CPU build of pytorch on a machine with an NVIDIA GPU"),
    catalog="E3",
)
def conda_cpu_variant(f: Facts) -> Iterator[Hit]:
    if not f.machine.has_nvidia_hardware:
        return
    records = _records(f)
    cpu = [
        r
        for r in records
        if (r.name in ("pytorch", "libtorch") and ("cpu" in r.build or "cuda" not in r.build))
        or r.name == "cpuonly"
        or (r.name == "pytorch-mutex" and "cpu" in r.build)
    ]
    if not cpu or not any(r.name in ("pytorch", "libtorch") for r in records):
        return
    yield Hit(
        Msg("conda's pytorch is the CPU build although this machine has an NVIDIA GPU"),
        tuple(
            Msg(
                "{package} {version} build {build}",
                package=r.name,
                version=r.version,
                build=r.build,
            )
            for r in cpu
        ),
        (
            *[fixes.conda_remove(f.environment, [r.name]) for r in records if r.name == "cpuonly"],
            fixes.conda_install(f.environment, ["pytorch=*=cuda*"]),
            Msg(
                "conda-forge picks a CUDA build only when it sees the driver (__cuda virtual "
                "package); where there is none, set CONDA_OVERRIDE_CUDA=12.9"
            ),
        ),
    )


@rule(
    "conda-mkl-itt-symbol",
    ERROR,
    N_("MKL >= 2024.1 with a pytorch-channel build: undefined symbol iJIT_NotifyEvent"),
    catalog="E4",
)
def conda_mkl(f: Facts) -> Iterator[Hit]:
    records = {r.name: r for r in _records(f)}
    torch, mkl = records.get("pytorch"), records.get("mkl")
    if torch is None or mkl is None or torch.channel not in ("pytorch", "defaults", "anaconda"):
        return
    if in_spec(">=2024.1", mkl.version):
        yield Hit(
            Msg(
                "mkl {mkl} removed a symbol that pytorch {version} from {channel} needs: import "
                "torch fails with 'undefined symbol: iJIT_NotifyEvent'",
                mkl=mkl.version,
                version=torch.version,
                channel=torch.channel,
            ),
            (f"pytorch {torch.version} {torch.build} ({torch.channel})", f"mkl {mkl.version}"),
            (
                Msg(
                    "{command} (and pin it), or move to conda-forge / pip builds",
                    command="conda install -p " + f.environment.prefix + " mkl=2024.0",
                ),
            ),
        )


@rule(
    "conda-meta-unreadable",
    WARNING,
    N_("A conda-meta record is corrupt; conda cannot manage that package"),
)
def conda_meta_unreadable(f: Facts) -> Iterator[Hit]:
    conda = f.environment.conda
    if conda is not None and conda.notes:
        yield Hit(
            Msg("{count} conda-meta record(s) cannot be read", count=len(conda.notes)),
            tuple(f"{n.source}: {n.message}" for n in conda.notes),
            (
                Msg(
                    "reinstall the named packages with `conda install --force-reinstall`, or "
                    "recreate the environment"
                ),
            ),
        )
