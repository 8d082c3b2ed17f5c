"""Checks of the spec's TOML data: every problem is collected (with its key) so that the user sees
them all at once, and a ``Spec`` is built only when there are none."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torchenv.i18n import Msg
from torchenv.models.spec import PYPI_INDEX, PYTORCH_INDEX, Spec, SpecIndex, SpecTargets
from torchenv.plan.request import (
    parse_cuda,
    parse_driver,
    parse_platform,
    parse_python,
    parse_torch,
)
from torchenv.spec.checker import Checker, invalid, value_kind
from torchenv.spec.ship import check_deploy, check_image
from torchenv.untrusted.text import has_credentials

TOP_KEYS = (
    "name",
    "python",
    "torch",
    "cuda",
    "libraries",
    "packages",
    "installer",
    "targets",
    "index",
    "image",
    "deploy",
)
TARGET_KEYS = ("gpus", "driver", "platform", "machines")
INDEX_KEYS = ("pypi", "pytorch", "find-links", "channels")
LIBRARIES = ("torchvision", "torchaudio")
SPEC_INSTALLERS = ("uv", "pip", "conda")
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
# a channel name, with labels ("conda-forge", "conda-forge/label/rc"), as conda spells them
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*")
# the stack itself is chosen by `torch` and `libraries`; a pin in `packages` would fight the plan
_STACK_PACKAGES = {"torch": "torch", "torchvision": "libraries", "torchaudio": "libraries"}


def check_spec(data: dict[str, Any], check: Checker, prefix: str, name: str | None) -> Spec | None:
    """The Spec of ``data`` (one spec table), or None after reporting what is wrong. ``prefix``
    is put before every key reported ("tool.torchenv." in pyproject.toml); ``name`` is the
    fallback when the table has none (pyproject.toml's [project] name)."""

    def key(short: str) -> str:
        return prefix + short

    check.unknown_keys(data, TOP_KEYS, prefix)
    name = _name(check, data, key("name"), name)
    python = None
    if "python" in data:
        text = check.string(key("python"), data["python"], '"3.12"')
        if text is not None:
            python = check.parsed(
                key("python"),
                text,
                parse_python,
                Msg('a CPython version such as "3.12" or "3.14t"'),
            )
    torch, cuda = _torch_and_cuda(check, data, key)
    libraries = _libraries(check, data.get("libraries", list(LIBRARIES[:1])), key("libraries"))
    packages = _packages(check, data.get("packages", []), key("packages"))
    installer = "uv"
    if "installer" in data:
        text = check.string(key("installer"), data["installer"], '"uv"')
        if text is not None and text not in SPEC_INSTALLERS:
            check.report(key("installer"), invalid(text, Msg('"uv", "pip" or "conda"')))
        installer = text or installer
    targets = _targets(check, data.get("targets", {}), key("targets"))
    index = _index(check, data.get("index", {}), key("index"))
    if index is not None and index.pytorch is None and installer == "conda":
        check.report(
            key("index") + ".pytorch",
            Msg(
                'false is about the PyPI wheels, but installer = "conda" installs conda-forge '
                "builds: drop one of the two"
            ),
        )
    image = check_image(check, data.get("image", {}), key("image"))
    deploy = check_deploy(check, data.get("deploy", {}), key("deploy"))
    if (
        check.failures
        or name is None
        or targets is None
        or index is None
        or image is None
        or deploy is None
    ):
        return None
    return Spec(
        name=name,
        python=python,
        torch=torch,
        cuda=cuda,
        libraries=libraries,
        packages=packages,
        installer=installer,
        targets=targets,
        index=index,
        image=image,
        deploy=deploy,
    )


def _name(check: Checker, data: dict[str, Any], key: str, fallback: str | None) -> str | None:
    if "name" not in data:
        if fallback is None:
            check.report(key, Msg('missing: every spec needs a name such as "vision"'))
        return fallback
    name = check.string(key, data["name"], '"vision"')
    if name is not None and not NAME_PATTERN.fullmatch(name):
        check.report(
            key,
            invalid(
                name, Msg('a simple name of letters, digits, ".", "_" and "-" such as "vision"')
            ),
        )
        return None
    return name


def _torch_and_cuda(
    check: Checker, data: dict[str, Any], key: Callable[[str], str]
) -> tuple[str | None, str]:
    torch = implied = None
    if "torch" in data:
        text = check.string(key("torch"), data["torch"], '"2.13" or ">=2.8"')
        if text is not None:
            parsed = check.parsed(
                key("torch"),
                text,
                parse_torch,
                Msg(
                    'a release ("2.13", "2.13.0", "2.13.0+cu126") or a PEP 440 specifier '
                    '(">=2.8", ">=2.8,<2.12", "~=2.10.0")'
                ),
            )
            if parsed is not None:
                torch, implied = parsed
    cuda = "auto"
    given = None
    if "cuda" in data:
        text = check.string(key("cuda"), data["cuda"], '"12.6"')
        if text is not None:
            given = check.parsed(
                key("cuda"),
                text,
                parse_cuda,
                Msg(
                    '"auto" (fit the GPUs and driver), "cpu", a CUDA version ("12.6") or a '
                    'PyTorch variant ("cu126")'
                ),
            )
            cuda = given or cuda
    if implied is not None:
        if given not in (None, "auto", implied):
            if implied == "cpu":
                message = Msg(
                    '"{torch}" names a CPU build but cuda is "{cuda}": drop the local label or '
                    "make cuda agree with it",
                    torch=data["torch"],
                    cuda=given,
                )
            else:
                message = Msg(
                    '"{torch}" names a CUDA {implied} build but cuda is "{cuda}": drop the local '
                    "label or make cuda agree with it",
                    torch=data["torch"],
                    implied=implied,
                    cuda=given,
                )
            check.report(key("torch"), message)
        cuda = implied
    return torch, cuda


def _libraries(check: Checker, value: object, key: str) -> tuple[str, ...]:
    items = check.strings(key, value, '["torchvision"]')
    seen: set[str] = set()
    for i, item in items:
        if item not in LIBRARIES:
            check.report(f"{key}[{i}]", invalid(item, Msg('"torchvision" or "torchaudio"')))
        elif item in seen:
            check.report(f"{key}[{i}]", Msg('"{item}" is listed twice', item=item))
        seen.add(item)
    return tuple(item for _, item in items)


def _packages(check: Checker, value: object, key: str) -> tuple[str, ...]:
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415
    from packaging.utils import canonicalize_name  # noqa: PLC0415

    items = check.strings(key, value, '["numpy<3"]')
    for i, item in items:
        try:
            requirement = Requirement(item)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            check.report(
                f"{key}[{i}]",
                invalid(
                    item,
                    Msg('a PEP 508 requirement such as "numpy<3" ({reason})', reason=reason),
                ),
            )
            continue
        owner = _STACK_PACKAGES.get(canonicalize_name(requirement.name))
        if owner:
            check.report(
                f"{key}[{i}]",
                Msg(
                    '"{item}": {name} is part of the PyTorch stack: set it with the `{owner}` '
                    "key, not in packages",
                    item=item,
                    name=requirement.name,
                    owner=owner,
                ),
            )
    return tuple(item for _, item in items)


def _targets(check: Checker, value: object, key: str) -> SpecTargets | None:
    if not isinstance(value, dict):
        check.report(key, Msg("expected a table ([targets]), got {kind}", kind=value_kind(value)))
        return None
    check.unknown_keys(value, TARGET_KEYS, key + ".")
    gpus: tuple[str, ...] = ()
    if "gpus" in value:
        items = check.strings(f"{key}.gpus", value["gpus"], '["H100", "8.6"]')
        for i, item in items:
            if not item.strip():
                check.report(
                    f"{key}.gpus[{i}]",
                    Msg(
                        'empty: expected a GPU name, a compute capability or an arch ("H100", '
                        '"8.6", "sm_90")'
                    ),
                )
        gpus = tuple(item.strip() for _, item in items)
    driver = platform = None
    if "driver" in value:
        text = check.string(f"{key}.driver", value["driver"], '"580.65.06"')
        if text is not None:
            driver = check.parsed(
                f"{key}.driver",
                text,
                parse_driver,
                Msg('an NVIDIA driver version as nvidia-smi prints it ("580.65.06")'),
            )
    if "platform" in value:
        text = check.string(f"{key}.platform", value["platform"], '"linux_x86_64"')
        if text is not None:
            from torchenv.plan.request import PLATFORMS  # noqa: PLC0415

            platform = check.parsed(
                f"{key}.platform",
                text,
                parse_platform,
                Msg("one of {platforms}", platforms=", ".join(PLATFORMS)),
            )
    machines: tuple[str, ...] = ()
    if "machines" in value:
        listed = check.strings(f"{key}.machines", value["machines"], '["nodes/a.json"]')
        machines = tuple(item for _, item in listed)
        for i, item in listed:
            path = check.base_dir / Path(item).expanduser()
            if not path.is_file():
                check.report(
                    f"{key}.machines[{i}]",
                    # the entry as written, not the joined path: Path() folds the "//" of a
                    # URL given by mistake, and a credential in it would escape redaction
                    Msg(
                        "no such file: {item} in {directory} (expected a `torchenv inspect "
                        "--json` file, relative to the spec's directory)",
                        item=item,
                        directory=check.base_dir,
                    ),
                )
        if "gpus" in value or "driver" in value or "platform" in value:
            check.report(
                f"{key}.machines",
                Msg(
                    "machines reads the targets from files, while gpus, driver and platform "
                    "describe one machine in the spec: give one or the other"
                ),
            )
    return SpecTargets(gpus=gpus, driver=driver, platform=platform, machines=machines)


def _index(check: Checker, value: object, key: str) -> SpecIndex | None:
    if not isinstance(value, dict):
        check.report(key, Msg("expected a table ([index]), got {kind}", kind=value_kind(value)))
        return None
    check.unknown_keys(value, INDEX_KEYS, key + ".")
    urls: dict[str, str | None] = {"pypi": PYPI_INDEX, "pytorch": PYTORCH_INDEX}
    if isinstance(value.get("pytorch"), bool):
        # false: the team reaches a PyPI mirror only, and takes each release's PyPI build
        urls["pytorch"] = PYTORCH_INDEX if value["pytorch"] else None
    for name, default in tuple(urls.items()):
        if name in value and not (name == "pytorch" and isinstance(value[name], bool)):
            example = f'"{default}"'
            if name == "pytorch":
                example = Msg("{url} or false", url=example)
            text = check.string(f"{key}.{name}", value[name], example)
            if text is not None and check.url(f"{key}.{name}", text):
                urls[name] = text
    links: tuple[str, ...] = ()
    if "find-links" in value:
        listed = check.strings(f"{key}.find-links", value["find-links"], '["/opt/wheels"]')
        links = tuple(item for _, item in listed)
        for i, item in listed:
            where = f"{key}.find-links[{i}]"
            if "://" in item:
                check.url(where, item)
            elif not (check.base_dir / Path(item).expanduser()).is_dir():
                check.report(
                    where,
                    invalid(
                        item,
                        Msg(
                            "an existing directory of wheels (relative to the spec's directory) "
                            "or an http(s):// or file:// URL"
                        ),
                    ),
                )
    channels = SpecIndex().channels
    if "channels" in value:
        channels = _channels(check, value["channels"], f"{key}.channels")
    return SpecIndex(
        pypi=urls["pypi"] or PYPI_INDEX,
        pytorch=urls["pytorch"],
        find_links=links,
        channels=channels,
    )


def is_channel_path(text: str) -> bool:
    """A local channel directory rather than a channel name. conda and rattler read a channel as
    a path only when it looks like one (absolute, or starting with ./ ../ ~), since "a/b" is a
    name with a label; the same rule keeps a word like "conda-forge" a name here."""
    return (
        text.startswith(("./", "../", "~", ".\\", "..\\"))
        or text in (".", "..")
        or Path(text).is_absolute()
    )


def _channels(check: Checker, value: object, key: str) -> tuple[str, ...]:
    listed = check.strings(key, value, '["conda-forge"]')
    if isinstance(value, list) and not value:
        check.report(key, Msg('empty: expected at least one channel such as "conda-forge"'))
    for i, item in listed:
        where = f"{key}[{i}]"
        if "://" in item and has_credentials(item):
            # rattler would write them into conda.lock, which is shared
            check.report(
                where,
                Msg(
                    "a channel URL with credentials: give them to rattler instead (the "
                    "RATTLER_AUTH_FILE JSON file, ~/.netrc or the keyring; rattler's docs, "
                    '"Authentication") and write the URL without them'
                ),
            )
        elif "://" in item:
            check.url(where, item)
        elif is_channel_path(item):
            if not (check.base_dir / Path(item).expanduser()).is_dir():
                check.report(
                    where,
                    invalid(
                        item,
                        Msg("an existing channel directory (relative to the spec's directory)"),
                    ),
                )
        elif not CHANNEL_NAME.fullmatch(item):
            check.report(
                where,
                invalid(
                    item,
                    Msg(
                        'a channel name ("conda-forge"), an http(s):// or file:// URL, or a local '
                        'channel directory ("./channel", "/srv/channel")'
                    ),
                ),
            )
    return tuple(item for _, item in listed)
