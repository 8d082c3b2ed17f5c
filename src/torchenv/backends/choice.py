"""Which backend builds an environment: ``--backend`` if given, else the spec's ``installer``.
The conda lock and the pylock are different files, so a backend must match the spec's
installer family; ``conda`` means py-rattler inside torchenv when the extra is installed, else
a micromamba on PATH; ``micromamba`` asks for the executable explicitly."""

from __future__ import annotations

from collections.abc import Callable

from torchenv.backends.base import Backend
from torchenv.backends.conda import CONDA_LOCK_FILE, MISSING_RATTLER
from torchenv.backends.conda_embedded import CondaEmbeddedBackend
from torchenv.backends.conda_exe import CondaExecutableBackend
from torchenv.backends.pip import PipBackend
from torchenv.backends.tools import BackendError
from torchenv.backends.uv import UvBackend
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.spec import Spec

BACKENDS = ("uv", "pip", "conda", "micromamba")
CONDA_FAMILY = ("conda", "micromamba")


def choose_backend(
    requested: str | None, spec: Spec, which: Callable[[str], str | None]
) -> Backend:
    """The backend to build with, refused (exit 2, or 4 for a missing tool) with what to do
    when it cannot install the spec's lock or cannot run here."""
    chosen = requested or spec.installer
    conda_spec = spec.installer == "conda"
    if conda_spec and chosen not in CONDA_FAMILY:
        raise UsageError(
            "backend-mismatch",
            Msg(
                '{spec} has installer = "conda": its lock is {lock}, which the {backend} backend '
                "cannot install.",
                spec=spec.path,
                lock=CONDA_LOCK_FILE,
                backend=chosen,
            )
            if spec.path
            else Msg(
                'The spec has installer = "conda": its lock is {lock}, which the {backend} '
                "backend cannot install.",
                lock=CONDA_LOCK_FILE,
                backend=chosen,
            ),
            Msg('Create with --backend conda, or set installer = "uv" and lock again.'),
        )
    if chosen in CONDA_FAMILY and not conda_spec:
        raise UsageError(
            "backend-mismatch",
            Msg(
                "The conda backend installs {lock}, which `torchenv lock` writes for a spec with "
                'installer = "conda"; {spec} has installer = "{installer}".',
                lock=CONDA_LOCK_FILE,
                spec=spec.path,
                installer=spec.installer,
            )
            if spec.path
            else Msg(
                "The conda backend installs {lock}, which `torchenv lock` writes for a spec with "
                'installer = "conda"; this spec has installer = "{installer}".',
                lock=CONDA_LOCK_FILE,
                installer=spec.installer,
            ),
            Msg(
                'Set installer = "conda" in the spec and run `torchenv lock`, or create with '
                "--backend {installer}.",
                installer=spec.installer,
            ),
        )
    backend: Backend
    if chosen == "uv":
        backend = UvBackend()
    elif chosen == "pip":
        backend = PipBackend()
    elif chosen == "micromamba":
        backend = CondaExecutableBackend()
    elif chosen == "conda":
        embedded = CondaEmbeddedBackend()
        if embedded.unavailable(which) is None:
            return embedded
        executable = CondaExecutableBackend()
        if executable.unavailable(which) is None:
            return executable
        raise BackendError(
            "conda-backend-missing",
            MISSING_RATTLER,
            Msg(
                'Or put micromamba on PATH, or set installer = "uv" in the spec (and create '
                "with --backend uv or pip)."
            ),
        )
    else:
        raise UsageError(
            "bad-backend",
            Msg(
                '"{backend}" is not one of {backends}.',
                backend=chosen,
                backends=", ".join(BACKENDS),
            ),
        )
    why = backend.unavailable(which)
    if why is not None:
        raise BackendError(
            f"{chosen}-unavailable",
            Msg("The {backend} backend cannot run here: {why}.", backend=chosen, why=why),
            Msg("Install what it needs, or choose another --backend."),
        )
    return backend


def lock_file_names() -> tuple[str, ...]:
    """Every file `torchenv lock` writes, for any backend."""
    names: list[str] = []
    for backend in (UvBackend(), PipBackend(), CondaEmbeddedBackend(), CondaExecutableBackend()):
        names += [n for n in backend.lock_files if n not in names]
    return tuple(names)
