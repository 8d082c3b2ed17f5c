"""The commands the uv and pip backends run, rendered without running anything.

uv resolves the lock (``uv pip compile -o pylock.toml``: PEP 751 output, sha256 of every file)
and installs it (``uv pip sync``: exactly the lock, nothing else). Its venv is made
``--relocatable`` because the environment is built in a sibling directory and renamed into place:
uv then writes entry points and activation scripts that find their prefix at run time.

The pip backend makes a stdlib venv and installs the same lock with ``--require-hashes
--no-deps`` from a requirements file generated from it; pip writes absolute paths into scripts,
so those are rewritten after the rename (``staging.relocate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torchenv.models.spec import SpecIndex
from torchenv.untrusted.text import strip_credentials

# the platform tags uv's --python-platform takes, per torchenv platform key
UV_PLATFORMS = {
    "linux_x86_64": "x86_64-manylinux_2_28",
    "linux_aarch64": "aarch64-manylinux_2_28",
    "win_amd64": "x86_64-pc-windows-msvc",
    "macos_arm64": "aarch64-apple-darwin",
    "macos_x86_64": "x86_64-apple-darwin",
}


@dataclass(frozen=True)
class Sources:
    """Where packages come from: PyPI (or its mirror), the variant's PyTorch index, local
    wheel folders."""

    pypi: str
    pytorch: str | None  # ".../whl/cu130"; None for builds PyPI serves as they are (macOS)
    find_links: tuple[str, ...] = ()

    @classmethod
    def for_variant(
        cls, index: SpecIndex, variant: str, macos: bool, base: Path | None = None
    ) -> Sources:
        """``base``: the spec's directory, against which relative find-links folders are
        resolved (the spec says so; uv and pip would resolve them against the working
        directory)."""
        pytorch = None if macos else f"{index.pytorch.rstrip('/')}/{variant}"
        links = tuple(
            str(base / link)
            if base and "://" not in link and not Path(link).is_absolute()
            else link
            for link in index.find_links
        )
        return cls(index.pypi, pytorch, links)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every location, as the spec gives it (credentials included: for the netrc)."""
        return (self.pypi, *([self.pytorch] if self.pytorch else []), *self.find_links)

    def without_credentials(self) -> Sources:
        """The same locations with no user or password: what a lock or a record may keep."""
        return Sources(
            strip_credentials(self.pypi),
            strip_credentials(self.pytorch) if self.pytorch else None,
            tuple(strip_credentials(link) for link in self.find_links),
        )


def _index_args(sources: Sources) -> list[str]:
    # no credentials on a command line (other users see it in ps, --verbose prints it): the
    # installer reads them from the netrc of backends/credentials.py
    clean = sources.without_credentials()
    args = ["--index-url", clean.pypi]
    if clean.pytorch:
        # uv tries --extra-index-url first; with its default "first-index" strategy a package the
        # PyTorch index has (torch, torchvision, nvidia-*) comes only from there, so PyPI cannot
        # substitute a build of another variant (uv docs, "Index strategy")
        args += ["--extra-index-url", clean.pytorch]
    for links in clean.find_links:
        args += ["--find-links", links]
    return args


def uv_compile(
    uv: str,
    requirements: str,
    out: str,
    python: str,
    platforms: Sequence[str],
    sources: Sources,
) -> list[str]:
    argv = [uv, "pip", "compile", requirements, "-o", out, "--python-version", python]
    if len(set(platforms)) == 1:
        argv += ["--python-platform", UV_PLATFORMS[platforms[0]]]
    else:
        argv.append("--universal")  # one lock whose markers select per platform
    return [*argv, *_index_args(sources), "--no-header", "--quiet"]


def uv_venv(uv: str, python: str, prefix: str) -> list[str]:
    return [uv, "venv", "--quiet", "--relocatable", "--python", python, prefix]


def uv_sync(uv: str, lock: str, prefix_python: str, sources: Sources) -> list[str]:
    return [uv, "pip", "sync", lock, "--python", prefix_python, *_index_args(sources)]


def pip_venv(base_python: str, prefix: str, prompt: str | None = None) -> list[str]:
    # the prompt would otherwise be the build directory's name
    return [base_python, "-m", "venv", *(["--prompt", prompt] if prompt else []), prefix]


def pip_install(prefix_python: str, requirements: str, sources: Sources) -> list[str]:
    return [
        prefix_python,
        "-m",
        "pip",
        "install",
        "--require-hashes",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        requirements,
        *_index_args(sources),
    ]
