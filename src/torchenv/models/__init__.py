"""Frozen dataclasses shared by every layer, with JSON round-trip (``codec``). No I/O here.

Names are imported from their submodule on first use (PEP 562): a command pays only for the
models it touches, which keeps start-up of ``plan`` and ``doctor`` short.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchenv.models.codec import DecodeError, from_data, to_data
    from torchenv.models.compat import (
        CompatKnowledge,
        DomainPairing,
        DriverRequirement,
        VariantArchs,
    )
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
        JupyterServer,
        LoaderLibraries,
        Machine,
        ProbeNote,
        Toolkit,
        VisibleDevices,
    )
    from torchenv.models.reports import DoctorReport, InspectReport, RuleCatalog
    from torchenv.models.runtime import RuntimeCheck, RuntimeDevice

_WHERE = {
    "ChannelFile": "environment",
    "CompatKnowledge": "compat",
    "Compilers": "machine",
    "Conda": "environment",
    "CondaRecord": "environment",
    "DecodeError": "codec",
    "Distribution": "environment",
    "DoctorReport": "reports",
    "DomainLibrary": "environment",
    "DomainPairing": "compat",
    "Driver": "machine",
    "DriverRequirement": "compat",
    "Environment": "environment",
    "FileConflict": "environment",
    "Finding": "findings",
    "Gpu": "machine",
    "Host": "machine",
    "InspectReport": "reports",
    "Interpreter": "environment",
    "JupyterServer": "machine",
    "KernelSpec": "environment",
    "LoaderLibraries": "machine",
    "Machine": "machine",
    "Outlook": "findings",
    "ProbeNote": "machine",
    "RuleCatalog": "reports",
    "RuleInfo": "findings",
    "RuntimeCheck": "runtime",
    "RuntimeDevice": "runtime",
    "Severity": "findings",
    "Summary": "findings",
    "Target": "findings",
    "Toolkit": "machine",
    "TorchBuild": "environment",
    "VariantArchs": "compat",
    "VisibleDevices": "machine",
    "from_data": "codec",
    "to_data": "codec",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"torchenv.models.{module}"), name)
    globals()[name] = value
    return value


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
    "JupyterServer",
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
