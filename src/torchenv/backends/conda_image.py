"""The installer of a conda image's build stage: ``python -m torchenv.backends.conda_image``.

It installs exactly the conda lock into the image's prefix with py-rattler (the embedded
installer of ``create``; no conda, mamba or micromamba binary in the image), then writes the
environment's record (``torchenv-env.json``) as ``create`` does, so that ``verify`` and
``doctor`` in the container compare the environment with its lock.

The lock is checked first, as ``create`` checks it: its sidecar must be sealed and name the
lock's sha256, so a lock edited in the build context is refused. Packages the lock takes from
the user's machine (a local channel) come from the build context (condalocal.py): each
``file://`` URL is mapped to the copy of that name, whose sha256 must be the record's.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchenv.backends.conda import conda_installed, content_hash, meta_path, parse_meta
from torchenv.backends.condalocal import is_local
from torchenv.backends.envrecord import write_env_record
from torchenv.backends.lockfile import LOCK_LIMIT
from torchenv.errors import TorchenvError, UsageError
from torchenv.i18n import Msg
from torchenv.models.envrecord import EnvRecord
from torchenv.untrusted import files

AGAIN = Msg("Run `torchenv lock`, then `torchenv image` again.")


def read_sealed_lock(lock: Path) -> tuple[bytes, Any]:
    """The lock's bytes and its sidecar's record, when the sidecar is sealed and names them."""
    sidecar = meta_path(lock)
    try:
        data = files.read_bytes(lock, LOCK_LIMIT)
        meta = files.read_bytes(sidecar, LOCK_LIMIT)
    except OSError as exc:
        raise UsageError(
            "lock-unreadable",
            Msg("Cannot read the conda lock: {error}.", error=files.describe(exc)),
            AGAIN,
        ) from None
    locked_sha, record, sealed = parse_meta(meta, str(sidecar))
    if not sealed or locked_sha != content_hash(data):
        raise UsageError(
            "lock-edited",
            Msg(
                "{lock} does not match its record {record}: it changed after `torchenv lock` "
                "wrote it.",
                lock=lock,
                record=sidecar.name,
            ),
            AGAIN,
        )
    return data, record


def local_copies(records: Sequence[Any], packages: Path) -> list[Any]:
    """``records`` with each local (``file://``) URL replaced by the copy under ``packages``
    (``<subdir>/<file name>``), checked against the record's sha256."""
    import rattler  # noqa: PLC0415

    out = []
    for record in records:
        url = str(record.url)
        if not is_local(url):
            out.append(record)
            continue
        name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
        copy = packages / str(record.subdir) / name
        try:
            digest = files.sha256_of(copy)
        except OSError as exc:
            raise UsageError(
                "image-package-missing",
                Msg(
                    "The lock takes {name} from a local channel, and its copy {copy} cannot be "
                    "read: {error}.",
                    name=name,
                    copy=copy,
                    error=files.describe(exc),
                ),
                AGAIN,
            ) from None
        if record.sha256 is None or digest != bytes(record.sha256).hex():
            raise UsageError(
                "image-package-hash",
                Msg("{copy} does not have the sha256 the lock gives {name}.", copy=copy, name=name),
                AGAIN,
            )
        out.append(rattler.RepoDataRecord(record, record.file_name, copy.as_uri(), record.channel))
    return out


def install_lock(lock: Path, prefix: Path, packages: Path, recorded_as: str) -> int:
    """Install the lock's records for this machine into ``prefix`` (absent or empty) and write
    its record; returns the number of packages installed."""
    from torchenv.backends.conda_embedded import platform_part  # noqa: PLC0415
    from torchenv.backends.conda_rattler import host_subdir, install, read_lock  # noqa: PLC0415

    data, record = read_sealed_lock(lock)
    part = platform_part(str(lock), read_lock(lock), host_subdir())
    if prefix.is_symlink() or (prefix.exists() and not prefix.is_dir()):
        raise UsageError(
            "prefix-not-a-directory",
            Msg("{prefix} is not a directory.", prefix=prefix),
            Msg("Install into a new one."),
        )
    if prefix.exists() and any(prefix.iterdir()):
        raise UsageError(
            "prefix-not-empty",
            Msg("{prefix} is not empty.", prefix=prefix),
            Msg("Install into a new directory."),
        )
    install(local_copies(part.records, packages), prefix, prefix)
    installed = conda_installed(prefix, part.subdir, part.virtual_packages, part.packages())
    write_env_record(
        prefix,
        EnvRecord(
            packages=installed.packages,
            backend="conda",
            spec_hash=record.spec_hash,
            lock_path=recorded_as,
            lock_sha256=content_hash(data),
            plan=dict(record.table),
            lock_extra=installed.extra,
        ),
    )
    return len(part.records)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m torchenv.backends.conda_image",
        description="Install a conda lock written by `torchenv lock` into an image's prefix.",
    )
    parser.add_argument("lock", type=Path, help="the conda.lock (its .torchenv.json beside it)")
    parser.add_argument("prefix", type=Path, help="the environment's directory (new or empty)")
    parser.add_argument(
        "--packages", type=Path, default=Path("conda-pkgs"), help="copies of local packages"
    )
    parser.add_argument(
        "--recorded-as", default=None, help="the lock's path as the environment's record names it"
    )
    args = parser.parse_args(argv)
    try:
        recorded_as = args.recorded_as or str(args.lock)
        count = install_lock(args.lock, args.prefix, args.packages.absolute(), recorded_as)
    except TorchenvError as exc:
        print(f"torchenv: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return int(exc.exit_code)
    print(f"torchenv: installed {count} conda packages into {args.prefix}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover - run in an image's build stage
    sys.exit(main())
