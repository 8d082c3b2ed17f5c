"""``torchenv diff``: the comparison itself, pure: two sides as plain data in, a report out.

Package names are compared in their PEP 503 form (``Typing_Extensions`` is ``typing-extensions``)
and versions as PEP 440 versions where both parse (``1.0`` is ``1.0.0``), local labels included:
``2.13.0+cu130`` and ``2.13.0+cpu`` are different builds, which is what a diff must show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.diff import (
    CONDA_PACKAGES,
    DIFF_SCHEMA,
    MACHINE,
    PYTHON_PACKAGES,
    DiffInput,
    DiffReport,
    DiffSide,
    FieldChange,
    GpuGroup,
    MachineDiff,
    MachineSummary,
    PackageChange,
    PackageVersion,
    TorchDiff,
    TorchSummary,
)
from torchenv.models.environment import canonical_name
from torchenv.models.machine import Machine

Versions = Mapping[str, str | None]

# what each kind of side can be compared on, for the message when two have nothing in common
_HOLDS = {
    "prefix": "installed Python distributions",
    "pylock": "locked Python packages",
    "conda-lock": "locked conda packages",
    MACHINE: "machine facts",
}


def normalized(versions: Versions, *, pep503: bool = True) -> dict[str, str | None]:
    """``versions`` keyed by normalized name; of two entries that normalize alike the first is
    kept (in a prefix, the one earlier on sys.path: the one Python imports)."""
    out: dict[str, str | None] = {}
    for name, version in versions.items():
        out.setdefault(canonical_name(name) if pep503 else name.lower(), version)
    return out


def same_version(a: str | None, b: str | None) -> bool:
    """PEP 440 equality where both parse ("1.0" == "1.0.0"; local labels count), else the text."""
    if a is None or b is None:
        return a == b
    if a == b:
        return True
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415  (start-up)

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def compare_packages(
    a: Versions, b: Versions, *, pep503: bool = True
) -> tuple[tuple[PackageVersion, ...], tuple[PackageVersion, ...], tuple[PackageChange, ...]]:
    """(added: in B only, removed: in A only, changed), each sorted by name."""
    left, right = normalized(a, pep503=pep503), normalized(b, pep503=pep503)
    added = tuple(PackageVersion(n, right[n]) for n in sorted(right.keys() - left.keys()))
    removed = tuple(PackageVersion(n, left[n]) for n in sorted(left.keys() - right.keys()))
    changed = tuple(
        PackageChange(n, left[n], right[n])
        for n in sorted(left.keys() & right.keys())
        if not same_version(left[n], right[n])
    )
    return added, removed, changed


def compare_torch(a: TorchSummary | None, b: TorchSummary | None) -> TorchDiff | None:
    """None when neither side has torch; else both builds and what differs between them."""
    if a is None and b is None:
        return None
    empty = TorchSummary("")
    left, right = a or empty, b or empty
    changed = []
    if a is None or b is None or not same_version(left.version, right.version):
        changed.append("version")
    if left.variant != right.variant:
        changed.append("variant")
    if left.cuda != right.cuda:
        changed.append("cuda")
    return TorchDiff(a, b, tuple(changed))


def gpu_groups(machine: Machine) -> tuple[GpuGroup, ...]:
    """The GPUs counted by (name, compute capability), in name order: the driver's order of the
    GPUs says nothing about what the machine can run."""
    counts = Counter((g.name, g.compute_capability) for g in machine.gpus)
    return tuple(
        GpuGroup(name, cc, n)
        for (name, cc), n in sorted(counts.items(), key=lambda i: (i[0][0], i[0][1] or ""))
    )


def summarize_machine(machine: Machine) -> MachineSummary:
    host = machine.host
    toolkits = sorted({t.version or "unknown version" for t in machine.toolkits})
    return MachineSummary(
        platform=f"{host.os}-{host.arch}",
        os_release=host.os_release,
        libc=host.libc,
        driver=machine.driver.version,
        cuda_driver_api=machine.driver.cuda_driver_api,
        gpus=gpu_groups(machine),
        toolkits=tuple(toolkits),
    )


def describe_gpus(groups: Iterable[GpuGroup]) -> str | None:
    """ "2 x NVIDIA H100 80GB HBM3 (CC 9.0)"; None for no GPU."""
    parts = [f"{g.count} x {g.name} (CC {g.compute_capability or '?'})" for g in groups]
    return ", ".join(parts) or None


def compare_machines(a: Machine, b: Machine) -> MachineDiff:
    left, right = summarize_machine(a), summarize_machine(b)
    pairs: list[tuple[str, str | None, str | None]] = [
        ("platform", left.platform, right.platform),
        ("os_release", left.os_release, right.os_release),
        ("libc", left.libc, right.libc),
        ("driver", left.driver, right.driver),
        ("cuda_driver_api", left.cuda_driver_api, right.cuda_driver_api),
        ("gpus", describe_gpus(left.gpus), describe_gpus(right.gpus)),
        ("toolkits", ", ".join(left.toolkits) or None, ", ".join(right.toolkits) or None),
    ]
    changed = tuple(FieldChange(name, x, y) for name, x, y in pairs if x != y)
    return MachineDiff(left, right, changed)


def package_basis(a: DiffInput, b: DiffInput) -> str | None:
    """What the package lists are compared as: Python distributions where both sides have
    them, else conda packages where both have those (a conda lock and a conda prefix)."""
    if a.python is not None and b.python is not None:
        return PYTHON_PACKAGES
    if a.conda is not None and b.conda is not None:
        return CONDA_PACKAGES
    return None


def _nothing_in_common(a: DiffInput, b: DiffInput) -> UsageError:
    def holds(side: DiffInput) -> str:
        if side.kind == MACHINE and side.python is None:
            return "machine facts and no package list"
        if side.kind == "prefix" and side.conda is None:
            return "Python distributions and no conda records"
        return _HOLDS.get(side.kind, side.kind)

    return UsageError(
        "diff-nothing-in-common",
        f"Nothing to compare: {a.path} ({a.kind}) holds {holds(a)}, {b.path} ({b.kind}) "
        f"holds {holds(b)}.",
        "Compare like with like: two environments or locks (or an environment with a lock of "
        "the same installer: pylock.toml for a venv, conda.lock for a conda prefix), or two "
        "`torchenv inspect --json` documents.",
    )


def diff_inputs(a: DiffInput, b: DiffInput) -> DiffReport:
    """The report of ``a`` against ``b``; a UsageError when they share nothing to compare."""
    basis = package_basis(a, b)
    both_machines = a.machine is not None and b.machine is not None
    if basis is None and not both_machines:
        raise _nothing_in_common(a, b)
    added: tuple[PackageVersion, ...] = ()
    removed: tuple[PackageVersion, ...] = ()
    changed: tuple[PackageChange, ...] = ()
    if basis is not None:
        left = a.python if basis == PYTHON_PACKAGES else a.conda
        right = b.python if basis == PYTHON_PACKAGES else b.conda
        added, removed, changed = compare_packages(
            left or {}, right or {}, pep503=basis == PYTHON_PACKAGES
        )
    torch = compare_torch(a.torch, b.torch)
    machine = (
        compare_machines(a.machine, b.machine)
        if a.machine is not None and b.machine is not None
        else None
    )
    same = not (
        added or removed or changed or (torch and torch.changed) or (machine and machine.changed)
    )
    notes = [*a.notes, *b.notes]
    if basis is None:
        # say which side lacks the list: a document shared without it, or an emptied one
        for side in (a, b):
            if side.python is None and side.conda is None:
                notes.append(Msg("Packages not compared: {path} lists none.", path=side.path))
    return DiffReport(
        schema=DIFF_SCHEMA,
        a=DiffSide(a.kind, a.path, a.detail),
        b=DiffSide(b.kind, b.path, b.detail),
        added=added,
        removed=removed,
        changed=changed,
        torch=torch,
        machine=machine,
        same=same,
        packages=basis,
        notes=tuple(notes),
    )
