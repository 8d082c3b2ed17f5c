"""Turn what the user typed into a ``PlanRequest``; every malformed value is a UsageError that says
what was expected."""

from __future__ import annotations

import re
from collections.abc import Sequence

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.compat import split_local, variant_cuda
from torchenv.models.plan import PlanOptions, PlanRequest

INSTALLERS = ("uv", "pip", "conda", "pixi")
PLATFORMS = ("linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64")


def parse_torch(text: str | None) -> tuple[str | None, str | None]:
    """(specifier, CUDA implied by a local label).

    "2.13" means any 2.13.x, "2.13.0" exactly that release, "2.13.0+cu126" that release's cu126
    build; anything else must be a PEP 440 specifier (">=2.8,<2.12", "~=2.10.0"). The forms of
    conda and of the source documents are read too: "2.11.*" (a bare wildcard), "=2.11" (conda's
    single "=", a prefix match: any 2.11.x) and "pytorch>=2.8" (conda's package name).
    """
    if text is None or not text.strip():
        return None, None
    text = text.strip()
    for name in ("pytorch", "torch"):  # "torch>=2.8" as in a requirements file, conda's name
        if text.startswith(name):
            text = text[len(name) :].strip()
            break
    conda_prefix = re.fullmatch(r"=(\d+(?:\.\d+)*)", text)
    if conda_prefix:  # conda's "=2.11" is 2.11.*; "=2.11.0" is that release and its builds
        text = conda_prefix.group(1)
    if re.fullmatch(r"\d+(?:\.\d+)*\.\*", text):  # "2.11.*": PEP 440 wants "==" before it
        text = "==" + text
    public, local = split_local(text)
    cuda = None
    if local is not None:
        cuda = "cpu" if local == "cpu" else variant_cuda(local)
        if cuda is None:
            raise _bad_torch(text)
    if re.fullmatch(r"\d+\.\d+", public):
        return f"=={public}.*", cuda
    if re.fullmatch(r"\d+\.\d+\.\d+", public):
        return f"=={public}", cuda
    if local is not None:
        raise _bad_torch(text)
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # noqa: PLC0415

    try:
        SpecifierSet(public)
    except InvalidSpecifier:
        raise _bad_torch(text) from None
    return public, None


def _bad_torch(text: str) -> UsageError:
    return UsageError(
        "bad-torch-spec",
        Msg('--torch "{value}" is not a version or a version specifier.', value=text),
        Msg(
            'Give a release ("2.13", "2.13.0", "2.13.0+cu126") or a PEP 440 specifier '
            '(">=2.8", ">=2.8,<2.12", "~=2.10.0").'
        ),
    )


def parse_cuda(text: str | None) -> str:
    """ "auto", "cpu", "12.6" or "cu126" -> "auto" | "cpu" | "12.6"."""
    value = (text or "auto").strip().lower()
    if value in ("auto", "cpu"):
        return value
    if re.fullmatch(r"\d{2}\.\d", value):
        return value
    if re.fullmatch(r"cu\d{3}", value):
        cuda = variant_cuda(value)
        if cuda:
            return cuda
    raise UsageError(
        "bad-cuda",
        Msg('--cuda "{value}" is not a CUDA choice.', value=text),
        Msg(
            'Give "auto" (fit the GPUs and driver), "cpu", a CUDA version ("12.6") or a PyTorch '
            'variant ("cu126").'
        ),
    )


def parse_python(text: str | None) -> str | None:
    """ "3.12", "3.12.4", "python3.12", "cp312", "3.14t" -> "3.12" / "3.14t"."""
    if text is None or not text.strip():
        return None
    value = text.strip().lower().removeprefix("python").removeprefix("cp")
    match = re.fullmatch(r"3\.?(\d{1,2})(?:\.\d+)?(t?)", value)
    if match is None:
        raise UsageError(
            "bad-python",
            Msg('--python "{value}" is not a Python version.', value=text),
            Msg('Give a CPython version such as "3.12" (or "3.14t" for the free-threaded build).'),
        )
    return f"3.{int(match.group(1))}{match.group(2)}"


def parse_driver(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    if re.fullmatch(r"\d{3}", value):
        # a branch alone is ambiguous: R580 starts at 580.65.06, the CUDA 13.0 floor
        raise UsageError(
            "driver-branch-only",
            Msg('--driver "{value}" names a driver branch, not a version.', value=text),
            Msg(
                'Give the full version nvidia-smi prints, e.g. "580.65.06": within a branch the '
                "CUDA it supports can differ."
            ),
        )
    if not re.fullmatch(r"\d{3}(?:\.\d{1,3}){1,2}", value):
        raise UsageError(
            "bad-driver",
            Msg('--driver "{value}" is not an NVIDIA driver version.', value=text),
            Msg('Give the version nvidia-smi prints, e.g. "570.133.07" or "580.65.06".'),
        )
    return value


def parse_installer(text: str | None) -> str | None:
    if text is None:
        return None
    if text not in INSTALLERS:
        raise UsageError(
            "bad-installer",
            Msg(
                '--installer "{value}" is not one of {choices}.',
                value=text,
                choices=", ".join(INSTALLERS),
            ),
        )
    return text


def parse_platform(text: str) -> str:
    value = text.strip().lower().replace("-", "_")
    value = {"linux": "linux_x86_64", "windows": "win_amd64", "macos": "macos_arm64"}.get(
        value, value
    )
    if value not in PLATFORMS:
        raise UsageError(
            "bad-platform",
            Msg('--platform "{value}" is not a platform torch publishes wheels for.', value=text),
            Msg("Give one of {choices}.", choices=", ".join(PLATFORMS)),
        )
    return value


def build_request(
    torch: str | None,
    python: str | None,
    cuda: str | None,
    installer: str | None,
    pytorch_index: bool = True,
) -> PlanRequest:
    spec, implied = parse_torch(torch)
    choice = parse_cuda(cuda)
    if implied is not None:
        if cuda is not None and choice not in ("auto", implied):
            raise UsageError(
                "conflicting-cuda",
                Msg(
                    '--torch "{torch}" names a {implied} build but --cuda says {cuda}.',
                    torch=torch,
                    implied=implied,
                    cuda=choice,
                ),
                Msg("Drop the local label from --torch or make --cuda agree with it."),
            )
        choice = implied
    chosen = parse_installer(installer)
    if not pytorch_index and chosen in ("conda", "pixi"):
        raise UsageError(
            "conflicting-index",
            Msg(
                "--installer {installer} plans conda-forge builds; --no-pytorch-index is about "
                "the PyPI wheels.",
                installer=chosen,
            ),
            Msg("Drop one of the two options."),
        )
    return PlanRequest(spec, parse_python(python), choice, chosen, pytorch_index=pytorch_index)


def release_matches(spec: str | None, version: str) -> bool:
    if spec is None:
        return True
    # the two forms parse_torch writes for a bare release, answered without importing packaging
    # (about 30 ms of start-up on the development machines)
    exact = re.fullmatch(r"==(\d+\.\d+\.\d+)", spec)
    if exact:
        return version == exact.group(1)
    prefix = re.fullmatch(r"==(\d+\.\d+)\.\*", spec)
    if prefix:
        return version.startswith(prefix.group(1) + ".")
    from packaging.specifiers import SpecifierSet  # noqa: PLC0415
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def exact_pin(spec: str | None) -> bool:
    """An exact ``==X.Y.Z`` pin: then even a yanked release may be chosen (PEP 592)."""
    return bool(spec and re.fullmatch(r"==\d+\.\d+\.\d+", spec))


def parse_options(
    *,
    torch: str | None = None,
    python: str | None = None,
    cuda: str | None = None,
    installer: str | None = None,
    gpus: Sequence[str] = (),
    driver: str | None = None,
    platform: str | None = None,
    machine_files: Sequence[str] = (),
    pytorch_index: bool = True,
) -> PlanOptions:
    """The options of ``plan``, ``init`` and a spec's targets, checked and normalised once."""
    return PlanOptions(
        build_request(torch, python, cuda, installer, pytorch_index),
        tuple(gpus),
        parse_driver(driver),
        parse_platform(platform) if platform else None,
        tuple(machine_files),
    )
