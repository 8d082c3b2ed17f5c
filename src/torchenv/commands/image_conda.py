"""The conda side of ``torchenv image``: the lock as the image gets it, and the files of its
build context (ship/condaimage.py says how the image is made)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from torchenv.backends.base import SpecRef
from torchenv.backends.condalocal import LocalPackage, local_packages
from torchenv.backends.lockfile import Lock
from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.ship import ShipFile, SpecImage
from torchenv.ship.condaimage import CONDA_LOCK, CONDA_SIDECAR, render_activate
from torchenv.ship.dockerfile import ENV_PREFIX
from torchenv.ship.runtime import render_profile, render_sshd_config
from torchenv.untrusted import files


def load_conda_lock(ref: SpecRef) -> Lock:
    """The spec's conda lock, checked fresh as `create` checks it, with its packages (conda
    names and versions, every platform) filled in."""
    from torchenv.backends.conda import require_rattler  # noqa: PLC0415
    from torchenv.backends.conda_rattler import read_lock  # noqa: PLC0415
    from torchenv.backends.lockload import load_fresh_conda_lock, with_packages  # noqa: PLC0415

    require_rattler()
    lock = load_fresh_conda_lock(ref)
    parts = read_lock(Path(lock.path))
    return with_packages(lock, [(n, v) for part in parts for n, v, _ in part.packages()])


def conda_context(lock: Lock, options: SpecImage) -> tuple[list[ShipFile], list[LocalPackage]]:
    """The lock and its record byte for byte (the image's label names the lock's sha256), the
    activation script, and the local packages to copy into ``conda-pkgs/``."""
    from torchenv.backends.conda import meta_path  # noqa: PLC0415
    from torchenv.backends.conda_rattler import read_lock  # noqa: PLC0415
    from torchenv.backends.lockfile import LOCK_LIMIT  # noqa: PLC0415

    sidecar = meta_path(Path(lock.path))
    try:
        record = files.read_bytes(sidecar, LOCK_LIMIT).decode("utf-8")
        text = lock.data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = files.describe(exc) if isinstance(exc, OSError) else Msg("it is not UTF-8")
        raise UsageError(
            "lock-unreadable",
            Msg(
                "Cannot read the conda lock {path} or its record: {error}.",
                path=lock.path,
                error=detail,
            ),
            Msg("Run `torchenv lock` to write them again."),
        ) from None
    context = [
        ShipFile(CONDA_LOCK, text),
        ShipFile(CONDA_SIDECAR, record),
        ShipFile("activate.sh", render_activate(ENV_PREFIX)),
        ShipFile("profile.sh", render_profile(conda=True)),
    ]
    if options.ssh:
        context.append(ShipFile("sshd_config", render_sshd_config(options.user, conda=True)))
    return context, local_packages(lock.path, read_lock(Path(lock.path)))


def installer_pins() -> list[str]:
    """The py-rattler the build stage's installer gets: the one that made the lock here."""
    try:
        return [f"py-rattler=={importlib.metadata.version('py-rattler')}"]
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - the lock needed it
        return []


def channel_urls(lock: Lock) -> tuple[str, ...]:
    """The lock's channels (http(s) URLs only): whose credentials the build's netrc holds."""
    channels = lock.tool.get("channels")
    if not isinstance(channels, list):
        return ()
    return tuple(c for c in channels if isinstance(c, str) and c.startswith(("http:", "https:")))
