"""Frozen dataclasses shared by every layer, with JSON round-trip (``codec``). No I/O here."""

from __future__ import annotations

from torchenv.models.codec import DecodeError, from_data, to_data
from torchenv.models.compat import CompatKnowledge, DomainPairing, DriverRequirement, VariantArchs
from torchenv.models.environment import (
    ChannelFile,
    Conda,
    CondaRecord,
    Distribution,
    DomainLibrary,
    Environment,
    FileConflict,
    Interpreter,
    KernelSpec,
    TorchBuild,
)
from torchenv.models.findings import Finding, Outlook, RuleInfo, Severity, Summary, Target
from torchenv.models.machine import (
    Compilers,
    Driver,
    Gpu,
    Host,
    LoaderLibraries,
    Machine,
    ProbeNote,
    Toolkit,
    VisibleDevices,
)
from torchenv.models.reports import DoctorReport, InspectReport, RuleCatalog
from torchenv.models.runtime import RuntimeCheck, RuntimeDevice

__all__ = [
    "ChannelFile",
    "CompatKnowledge",
    "Compilers",
    "Conda",
    "CondaRecord",
    "DecodeError",
    "Distribution",
    "DoctorReport",
    "DomainLibrary",
    "DomainPairing",
    "Driver",
    "DriverRequirement",
    "Environment",
    "FileConflict",
    "Finding",
    "Gpu",
    "Host",
    "InspectReport",
    "Interpreter",
    "KernelSpec",
    "LoaderLibraries",
    "Machine",
    "Outlook",
    "ProbeNote",
    "RuleCatalog",
    "RuleInfo",
    "RuntimeCheck",
    "RuntimeDevice",
    "Severity",
    "Summary",
    "Target",
    "Toolkit",
    "TorchBuild",
    "VariantArchs",
    "VisibleDevices",
    "from_data",
    "to_data",
]
