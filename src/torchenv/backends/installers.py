"""Where a lock's packages come from (``Sources``) and the installer commands of the uv and pip
backends, built from the shared argv of models/installer_argv.py with credentials left out.

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

from torchenv.models import installer_argv as argv_of
from torchenv.models.indexes import variant_index
from torchenv.models.installer_argv import UV_PLATFORMS
from torchenv.models.spec import SpecIndex
from torchenv.untrusted.text import strip_credentials

__all__ = ["UV_PLATFORMS", "Sources", "pip_install", "pip_venv", "uv_compile", "uv_sync", "uv_venv"]


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
        # macOS builds and a spec without a PyTorch index take PyPI's builds as they are
        pytorch = None if macos or index.pytorch is None else variant_index(variant, index.pytorch)
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
    return argv_of.index_options(clean.pypi, clean.pytorch, clean.find_links)


def uv_compile(
    uv: str,
    requirements: str,
    out: str,
    python: str,
    platforms: Sequence[str],
    sources: Sources,
    pypi_fallback: bool = False,
) -> list[str]:
    """``pypi_fallback``: a pinned release may be on PyPI only (an unlabeled domain library,
    models/indexes.py), while uv's default strategy stops at the first index that has the
    project; "unsafe-first-match" goes on to PyPI for a version the PyTorch index lacks.
    torch and labeled libraries still resolve only where their label exists."""
    options = _index_args(sources)
    if pypi_fallback and sources.pytorch:
        options += ["--index-strategy", "unsafe-first-match"]
    return argv_of.uv_pip_compile(uv, requirements, out, python, platforms, options)


def uv_venv(uv: str, python: str, prefix: str) -> list[str]:
    return argv_of.uv_venv(uv, python, prefix, relocatable=True)


def uv_sync(uv: str, lock: str, prefix_python: str, sources: Sources) -> list[str]:
    return argv_of.uv_pip_sync(uv, lock, prefix_python, _index_args(sources))


def pip_venv(base_python: str, prefix: str, prompt: str | None = None) -> list[str]:
    return argv_of.pip_venv(base_python, prefix, prompt)


def pip_install(prefix_python: str, requirements: str, sources: Sources) -> list[str]:
    return argv_of.pip_install(
        prefix_python,
        requirements_file=requirements,
        options=_index_args(sources),
        require_hashes=True,
        batch=True,
    )
