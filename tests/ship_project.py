"""A project on disk for the image and deploy commands: a spec, and a lock made for it (with the
spec's real hash), one wheel of which lies in a local folder as `torchenv lock` records it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import tomli_w

from torchenv.backends.lockfile import reseal, tomllib, with_tool_table
from torchenv.models.ship import ImageStack
from torchenv.spec import load_spec, spec_hash

CUDA_TOOL = """
cuda = "13.0"
archs = ["sm_80", "sm_90"]
driver-floor = "580.65.06"
"""


def ship_project(
    root: Path,
    spec_extra: str = "",
    *,
    variant: str = "cpu",
    packages: tuple[str, ...] = (),
    installer: str = "uv",
) -> Path:
    """torchenv.toml and pylock.toml under ``root``; returns the spec's path."""
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "torchenv.toml"
    listed = ", ".join(f'"{p}"' for p in packages)
    spec.write_text(
        f'name = "demo"\npython = "3.11"\ntorch = "==2.13.0"\n'
        f'cuda = "{"cpu" if variant == "cpu" else "13.0"}"\nlibraries = []\n'
        f'packages = [{listed}]\ninstaller = "{installer}"\n{spec_extra}'
    )
    write_sealed_lock(root, variant=variant, packages=packages)
    return spec


def write_sealed_lock(root: Path, *, variant: str = "cpu", packages: tuple[str, ...] = ()) -> Path:
    """A pylock.toml for the spec in ``root`` (its real hash), sealed as `torchenv lock` seals
    one, whose torch wheel lies in ``root/wheels-here`` (a local file, as find-links gives)."""
    wheels = root / "wheels-here"
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"not really a wheel")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    hashed = spec_hash(load_spec(None, root))
    entries = "".join(
        f'\n[[packages]]\nname = "{p}"\nversion = "4.6.0"\n'
        f'wheels = [{{ url = "https://files.pythonhosted.org/{p}-4.6.0-py3-none-any.whl", '
        f'hashes = {{ sha256 = "{"ab" * 32}" }} }}]\n'
        for p in packages
    )
    uv_text = (
        'lock-version = "1.0"\ncreated-by = "uv"\nrequires-python = ">=3.11"\n'
        f'\n[[packages]]\nname = "torch"\nversion = "2.13.0+{variant}"\n'
        f'wheels = [{{ url = "file://{wheel}", hashes = {{ sha256 = "{digest}" }} }}]\n'
        '\n[[packages]]\nname = "triton"\nversion = "3.6.0"\n'
        "marker = \"platform_machine == 'x86_64'\"\n"
        'wheels = [{ url = "https://files.pythonhosted.org/'
        'triton-3.6.0-cp311-cp311-manylinux_2_28_x86_64.whl" }]\n'
        f"{entries}"
    )
    tool = tomllib.loads(
        f'spec = "torchenv.toml"\nspec-hash = "{hashed}"\n'
        f'torch = "2.13.0"\nvariant = "{variant}"\npython = "3.11"\n'
        'platforms = ["linux_x86_64"]\n' + (CUDA_TOOL if variant != "cpu" else "")
    )
    lock = root / "pylock.toml"
    lock.write_text(with_tool_table(uv_text, tool))
    return lock


def stack(variant: str = "cu130", python: str = "3.11") -> ImageStack:
    cuda = None if variant == "cpu" else f"{variant[2:-1]}.{variant[-1]}"
    return ImageStack(
        name="demo",
        python=python,
        torch="2.13.0",
        variant=variant,
        cuda=cuda,
        driver_floor=None if cuda is None else "580.65.06",
        lock_sha256="a" * 64,
        spec_hash="b" * 64,
        archs=() if cuda is None else ("sm_80", "sm_90"),
    )


def edit_lock(lock: Path, old: str, new: str, *, seal: bool = True) -> None:
    """Change the lock's text as a hand edit would; ``seal``: and compute its lock-hash again,
    as someone who meant the change would (else torchenv reports the lock as edited)."""
    text = lock.read_text()
    assert old in text, f"{old!r} is not in the lock"
    text = text.replace(old, new)
    lock.write_text(reseal(text) if seal else text)


def set_in_lock(lock: Path, path: tuple[Any, ...], value: object, *, seal: bool = True) -> bool:
    """Put ``value`` at the key ``path`` of the lock (as ("packages", 0, "name")), sealed again
    unless ``seal`` is false; False when TOML cannot hold the value."""
    doc = tomllib.loads(lock.read_text())
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return False
    lock.write_text(reseal(text) if seal else text, "utf-8", "surrogateescape")
    return True
