"""The one-way layers of design.md, enforced on the import statements of src/torchenv."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "torchenv"

# layer -> the torchenv layers it may import (itself always allowed); every layer may import
# i18n (the translation of messages, standard library only), added below
ALLOWED = {
    "i18n": set(),
    "models": set(),
    "errors": set(),
    "schemas": set(),  # the JSON Schemas of the --json documents: data, imports nothing
    "untrusted": {"errors"},
    "probe": {"models", "errors", "untrusted"},
    "knowledge": {"models", "errors", "untrusted"},
    "plan": {"models", "errors", "untrusted"},
    "spec": {"models", "errors", "plan", "untrusted"},
    "backends": {"models", "errors", "untrusted"},
    "verify": {"models", "errors", "untrusted"},
    "report": {"models", "errors", "untrusted"},
    "ship": {"models", "errors", "untrusted"},
    "commands": {
        "ship",
        "probe",
        "knowledge",
        "plan",
        "spec",
        "backends",
        "verify",
        "report",
        "models",
        "errors",
        "untrusted",
    },
    "cli": {"cli", "commands", "report", "models", "errors", "untrusted", "__init__"},
    "__main__": {"cli"},
    "__init__": set(),
}
for _layer, _allowed in ALLOWED.items():
    if _layer != "i18n":
        _allowed.add("i18n")
# third-party imports allowed per layer (stdlib is always allowed)
THIRD_PARTY = {
    "i18n": set(),
    "models": set(),
    "untrusted": {"tomli"},
    "probe": {"platformdirs", "pynvml", "yaml"},
    "knowledge": {"packaging", "platformdirs"},
    "plan": {"packaging"},
    "spec": {"packaging", "tomli", "tomli_w", "tomlkit"},
    "backends": {"packaging", "tomli", "tomli_w", "filelock", "uv", "rattler", "yaml"},
    "verify": set(),
    "schemas": set(),
    "report": {"packaging", "rich", "prometheus_client"},
    "ship": {"yaml"},
    "commands": {"prometheus_client"},
    "cli": {"click", "rich", "prometheus_client"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            # `from torchenv.backends import uv` imports the module torchenv.backends.uv
            if node.module.count(".") >= 1:
                names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


STDLIB = {
    "atexit",
    "json",
    "os",
    "platform",
    "sys",
    "sysconfig",
    "site",
    "time",
    "traceback",
    "warnings",
}
MODULES = sorted(p for p in SRC.rglob("*.py") if "scripts" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = layer_of(path)
    for name in imports(path):
        top = name.split(".")[0]
        if top == "torchenv":
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if target != layer:
                assert target in ALLOWED[layer], f"{layer} must not import {name}"
        elif top in {
            "packaging",
            "click",
            "rich",
            "platformdirs",
            "pynvml",
            "yaml",
            "torch",
            "tomli",
            "tomli_w",
            "tomlkit",
            "prometheus_client",
            "filelock",
            "uv",
            "rattler",
        }:
            assert top in THIRD_PARTY.get(layer, set()), f"{layer} must not import {top}"


# the installer implementations behind the Backend protocol (backends/base.py): commands reach
# them only through backends.choice, so a command cannot grow a special case for one installer
BACKEND_IMPLEMENTATIONS = {
    "torchenv.backends.uv",
    "torchenv.backends.pip",
    "torchenv.backends.conda_embedded",
    "torchenv.backends.conda_exe",
}


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if layer_of(p) in ("commands", "cli")],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_commands_depend_on_the_backend_protocol_only(path: Path) -> None:
    reached = set(imports(path)) & BACKEND_IMPLEMENTATIONS
    assert not reached, f"{path.name} imports {reached}: go through backends.choice"


def test_commands_import_each_other_without_a_cycle() -> None:
    """create and create_conda once imported each other; the commands form no cycle."""
    graph = {
        f"torchenv.commands.{p.stem}": {n for n in imports(p) if n.startswith("torchenv.commands.")}
        for p in MODULES
        if layer_of(p) == "commands"
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for step in graph.get(start, set()):
            if step == goal or (step not in seen and reaches(step, goal, seen | {step})):
                return True
        return False

    for module in graph:
        assert not reaches(module, module, {module}), f"{module} imports itself through others"


def test_probe_scripts_use_the_stdlib_only() -> None:
    for script in [
        *(SRC / "probe" / "scripts").glob("*.py"),
        *(SRC / "verify" / "scripts").glob("*.py"),
    ]:
        torch_ok = ("deep_check.py", "verify_check.py", "verify_gpu.py")
        allowed = {"torch"} if script.name in torch_ok else set()
        # a script may import the modules beside it (verify_check.py puts its folder on sys.path)
        allowed |= {p.stem for p in script.parent.glob("*.py")}
        for name in imports(script):
            top = name.split(".")[0]
            assert top in STDLIB or top in allowed, f"{script.name} imports {name}"


def test_modules_stay_small() -> None:
    for path in MODULES:
        assert len(path.read_text().splitlines()) <= 400, path
