"""The declarative environment spec: ``torchenv.toml`` or ``[tool.torchenv]`` in pyproject.toml.

```toml
name = "vision"
python = "3.11"
torch = "==2.13.*"          # a PEP 440 specifier, or a release ("2.13", "2.13.0")
cuda = "auto"               # auto | cpu | "12.6"
libraries = ["torchvision"] # domain libraries paired with torch: torchvision, torchaudio
packages = ["numpy<3"]      # further PEP 508 requirements
installer = "uv"            # uv | pip | conda

[targets]                   # default: the machine that runs torchenv
gpus = ["H100", "8.6"]
driver = "580.65.06"
platform = "linux_x86_64"
machines = ["nodes/a.json"] # `torchenv inspect --json` files, relative to the spec file

[index]
pypi = "https://pypi.org/simple"              # or a mirror
pytorch = "https://download.pytorch.org/whl"  # or a mirror of it; false: PyPI (mirror) only
find-links = ["/opt/wheels"]                  # local wheel folders
channels = ["conda-forge"]                    # conda channels: names, URLs, "./local" paths

[image]                     # `torchenv image` (models/ship.py); not part of the spec's hash
jupyter = true
ssh = true

[deploy]                    # `torchenv deploy`
nodes = 2
gpus-per-node = 8
command = ["train.py", "--epochs", "10"]
```
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torchenv.models.indexes import PYPI_INDEX, PYTORCH_INDEX
from torchenv.models.ship import SpecDeploy, SpecImage

__all__ = ["LOCK_FILE", "PYPI_INDEX", "PYTORCH_INDEX", "SPEC_FILE", "Spec", "SpecIndex"]

SPEC_FILE = "torchenv.toml"
LOCK_FILE = "pylock.toml"  # PEP 751


@dataclass(frozen=True)
class SpecTargets:
    gpus: tuple[str, ...] = ()
    driver: str | None = None
    platform: str | None = None
    machines: tuple[str, ...] = ()  # resolved against the spec file's directory


@dataclass(frozen=True)
class SpecIndex:
    pypi: str = PYPI_INDEX
    pytorch: str | None = PYTORCH_INDEX  # None: `pytorch = false`, PyPI's own builds only
    find_links: tuple[str, ...] = ()
    # conda channels, highest priority first; local paths stay as written (relative to the spec
    # file) so that moving the project does not change the spec's hash
    channels: tuple[str, ...] = ("conda-forge",)


@dataclass(frozen=True)
class Spec:
    name: str
    python: str | None = None  # "3.11"
    torch: str | None = None  # normalised PEP 440 specifier
    cuda: str = "auto"  # auto | cpu | "12.6"
    libraries: tuple[str, ...] = ("torchvision",)
    packages: tuple[str, ...] = ()
    installer: str = "uv"
    targets: SpecTargets = field(default_factory=SpecTargets)
    index: SpecIndex = field(default_factory=SpecIndex)
    image: SpecImage = field(default_factory=SpecImage)
    deploy: SpecDeploy = field(default_factory=SpecDeploy)
    path: str | None = None  # the file it was read from (not part of its hash)


@dataclass(frozen=True)
class SpecProblem:
    """One validation problem, located in the file."""

    file: str
    line: int | None
    key: str  # dotted: "targets.gpus[1]"
    message: str  # what is wrong and what was expected
