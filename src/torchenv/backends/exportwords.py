"""The words of `torchenv export`'s refusals (export.py): what a value of a lock that is out of
form is, and what it should have been. Each is an ``i18n.Msg``: English as a ``str``, shown in
the language of the process where the error is printed."""

from __future__ import annotations

from torchenv.i18n import Msg

REDO = Msg("The lock was edited or damaged: run `torchenv lock` to write it again.")
RENAME = Msg("Give another --name.")
THE_LOCK = Msg("the lock")

# what the refused value is
ENVIRONMENT_NAME = Msg("environment name")
PACKAGE_NAME = Msg("package name")
INDEX_LOCATION = Msg("index location")
PLATFORM = Msg("platform")
CONDA_PACKAGE_NAME = Msg("conda package name")

# what it should have been
NAME_CHARACTERS = Msg("letters, digits, _ . -")
PEP508_NAME = Msg("a PEP 508 name")
PEP440_VERSION = Msg("a PEP 440 version")
PEP508_MARKER = Msg("a PEP 508 marker")
URL_OR_PATH = Msg("a URL or path without spaces")
CONDA_SUBDIR = Msg("a conda subdir")
CONDA_NAME = Msg("a conda package name")
CONDA_VERSION = Msg("a conda version")
CONDA_BUILD = Msg("a conda build string")
CUDA_VERSION = Msg("a CUDA version")


def version_of(name: str) -> Msg:
    return Msg("version of {name}", name=name)


def marker_of(name: str) -> Msg:
    return Msg("marker of {name}", name=name)


def build_of(name: str) -> Msg:
    return Msg("build of {name}", name=name)


def refused(where: str, what: str, value: str, expected: str) -> Msg:
    """The message that refuses ``value``, the ``what`` of ``where`` (a file, an option)."""
    return Msg(
        "{where}: the {what} {value} cannot be exported: expected {expected}.",
        where=where,
        what=what,
        value=value,
        expected=expected,
    )
