"""Diagnosis rules: pure functions from facts to findings, each with a stable id.

Importing this package registers every rule, in the order of the failure catalog's suggested
check ordering (what is installed, can it load, is the driver reachable and new enough, right
GPUs, toolchain, notebooks), then the runtime (--deep) rules.
"""

from __future__ import annotations

from torchenv.report.rules import (
    conda,
    cuda_libs,
    driver,
    driver_install,
    environment,
    forward_compat,
    machine,
    packages,
    provenance,
    runtime,
)
from torchenv.report.rules.base import REGISTRY, Facts, Hit, Rule, evaluate

_FAMILY = (
    environment,
    provenance,
    packages,
    cuda_libs,
    conda,
    driver_install,
    driver,
    machine,
    forward_compat,
    runtime,
)
_FAMILY_ORDER = [m.__name__ for m in _FAMILY]
REGISTRY.sort(key=lambda r: _FAMILY_ORDER.index(r.check.__module__))

__all__ = ["REGISTRY", "Facts", "Hit", "Rule", "evaluate"]
