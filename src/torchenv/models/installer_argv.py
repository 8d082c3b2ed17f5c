"""The command lines of the installers, in one place: what ``create`` and ``lock`` run, what a
plan's recipe shows, and what ``doctor`` proposes as a fix are the same argv, so a flag fixed
here is fixed everywhere. Pure: argv lists in, argv lists out; callers run them or ``shlex.join``
them for display.
"""

from __future__ import annotations

from collections.abc import Sequence

# the platform tags uv's --python-platform takes, per torchenv platform key
UV_PLATFORMS = {
    "linux_x86_64": "x86_64-manylinux_2_28",
    "linux_aarch64": "aarch64-manylinux_2_28",
    "win_amd64": "x86_64-pc-windows-msvc",
    "macos_arm64": "aarch64-apple-darwin",
    "macos_x86_64": "x86_64-apple-darwin",
}


def index_options(
    pypi: str | None, pytorch: str | None = None, find_links: Sequence[str] = ()
) -> list[str]:
    """``--index-url``/``--extra-index-url``/``--find-links``. With both indexes, PyPI is the
    index and the PyTorch variant's the extra one: uv tries ``--extra-index-url`` first and,
    with its default "first-index" strategy, takes a package the PyTorch index has (torch,
    torchvision, nvidia-*) only from there, so PyPI cannot substitute a build of another
    variant (uv docs, "Index strategy"). With the PyTorch index alone it is the index: it
    mirrors torch's dependencies too."""
    args: list[str] = []
    if pypi:
        args += ["--index-url", pypi]
        if pytorch:
            args += ["--extra-index-url", pytorch]
    elif pytorch:
        args += ["--index-url", pytorch]
    for links in find_links:
        args += ["--find-links", links]
    return args


def pip_venv(base_python: str, prefix: str, prompt: str | None = None) -> list[str]:
    # the prompt would otherwise be the build directory's name
    return [base_python, "-m", "venv", *(["--prompt", prompt] if prompt else []), prefix]


def uv_venv(uv: str, python: str | None, prefix: str, *, relocatable: bool = False) -> list[str]:
    """``relocatable``: entry points and activation scripts find their prefix at run time,
    for an environment built in one directory and renamed into another."""
    argv = [uv, "venv"]
    if relocatable:
        argv += ["--quiet", "--relocatable"]
    return [*argv, *(["--python", python] if python else []), prefix]


def pip_install(
    python: str,
    requirements: Sequence[str] = (),
    *,
    requirements_file: str | None = None,
    options: Sequence[str] = (),
    require_hashes: bool = False,
    reinstall: bool = False,
    batch: bool = False,
) -> list[str]:
    """``python -m pip install``. ``require_hashes`` installs a lock exactly (every file's
    hash, no dependency resolution); ``reinstall`` puts named packages back at the same version
    without touching their dependencies; ``batch``: no prompts or version nagging."""
    argv = [python, "-m", "pip", "install"]
    if require_hashes:
        argv += ["--require-hashes", "--no-deps"]
    if reinstall:
        argv += ["--force-reinstall", "--no-deps"]
    if batch:
        argv += ["--disable-pip-version-check", "--no-input"]
    argv += list(requirements)
    if requirements_file:
        argv += ["-r", requirements_file]
    return [*argv, *options]


def uv_pip_install(
    uv: str,
    python: str,
    requirements: Sequence[str],
    *,
    options: Sequence[str] = (),
    reinstall: bool = False,
) -> list[str]:
    argv = [uv, "pip", "install", "--python", python]
    argv += ["--reinstall", "--no-deps"] if reinstall else []
    return [*argv, *requirements, *options]


def uv_pip_sync(uv: str, lock: str, python: str, options: Sequence[str] = ()) -> list[str]:
    """Exactly the lock, nothing else: what is installed and not locked is removed."""
    return [uv, "pip", "sync", lock, "--python", python, *options]


def uv_pip_compile(
    uv: str,
    requirements: str,
    out: str,
    python: str,
    platforms: Sequence[str],
    options: Sequence[str] = (),
) -> list[str]:
    """A PEP 751 lock of ``requirements`` for the platforms: one platform's tag, or
    ``--universal`` (one lock whose markers select per platform)."""
    argv = [uv, "pip", "compile", requirements, "-o", out, "--python-version", python]
    if len(set(platforms)) == 1:
        argv += ["--python-platform", UV_PLATFORMS[platforms[0]]]
    else:
        argv.append("--universal")
    return [*argv, *options, "--no-header", "--quiet"]


def pip_uninstall(python: str, names: Sequence[str], uv: str | None = None) -> list[str]:
    if uv:
        return [uv, "pip", "uninstall", "--python", python, *names]
    return [python, "-m", "pip", "uninstall", "-y", *names]


def conda_install(
    prefix: str, specs: Sequence[str], channel: str = "conda-forge", force: bool = False
) -> list[str]:
    extra = ["--force-reinstall"] if force else []
    return ["conda", "install", "-p", prefix, "-c", channel, *extra, *specs]


def conda_remove(prefix: str, names: Sequence[str], force: bool = False) -> list[str]:
    return ["conda", "remove", "-p", prefix, *(["--force"] if force else []), *names]


def conda_create(name: str, specs: Sequence[str], channel: str = "conda-forge") -> list[str]:
    # --override-channels: a user's .condarc cannot add the `pytorch` channel (last release
    # 2.5.1, compat-matrix.md section 7) or `defaults` behind the plan's back
    return ["conda", "create", "-n", name, "--override-channels", "-c", channel, *specs]


def pixi_add(specs: Sequence[str], pypi: bool = False) -> list[str]:
    return ["pixi", "add", *(["--pypi"] if pypi else []), *specs]


def pixi_remove(names: Sequence[str]) -> list[str]:
    return ["pixi", "remove", *names]
