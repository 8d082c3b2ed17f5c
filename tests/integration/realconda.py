"""A local conda channel with a real Python and a real PyTorch, for the conda image test.

No conda-forge package can be reached from these machines (reference/test-environment.md), so
the channel is made here from what runs: this machine's CPython 3.11 (the interpreter of the
torch venv, a shared build) becomes the conda package ``python``, and each distribution of the
torch venv (torch 2.13.0+cpu from the local wheel, and what it needs) a conda package named as
conda-forge names it (``torch`` is ``pytorch``). Packages are made with py-rattler-build and
indexed with py-rattler, as conda-forge's are.

The interpreter names its install prefix in its ELF RUNPATH and in a few text files (the
sysconfig data). conda relocates such files at install time: their paths.json entry names the
build prefix as ``prefix_placeholder``, with ``file_mode`` binary (the string is replaced in
place and padded with NULs, so the new prefix must be shorter) or text. Those entries are added
here, the way conda-build records them.

What comes from the base image instead of conda packages: the C libraries the interpreter's
extension modules link (libffi, OpenSSL, ...); conda-forge ships those as packages of their own.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from builders import index_channel

PYTHON_BUILD = "h0_real_cpython"
TORCH_BUILD = "cpu_generic_py311_0"  # conda-forge's build string for a CPU build
# distribution name -> conda-forge package name (conda-forge keeps these as they are on PyPI,
# lower-cased, except torch)
CONDA_NAMES = {"torch": "pytorch", "typing-extensions": "typing_extensions"}
# what the test channel leaves out of the interpreter: tests, the static library, GUI and
# build-only parts; nothing `import torch` or torchenv's verify needs
PYTHON_SKIP = re.compile(
    r"^lib/python3\.\d+/(test|site-packages|config-[^/]+|idlelib|tkinter|turtledemo|lib2to3|"
    r"ensurepip)(/|$)|/__pycache__(/|$)"
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def interpreter_prefix(venv: Path) -> Path:
    """The install prefix of the venv's interpreter (pyvenv.cfg ``home`` is its bin/)."""
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).parent
    raise AssertionError(f"{venv}/pyvenv.cfg names no home")


def _python_files(prefix: Path) -> list[str]:
    minor = next(prefix.glob("lib/python3.*/os.py")).parent.name
    names = [
        f"bin/{minor}",
        "bin/python3",
        "bin/python",
        *(str(p.relative_to(prefix)) for p in prefix.glob("lib/libpython3*.so*")),
    ]
    for path in sorted((prefix / "lib" / minor).rglob("*")):
        rel = str(path.relative_to(prefix))
        if (path.is_file() or path.is_symlink()) and not PYTHON_SKIP.search(rel):
            names.append(rel)
    return [n for n in names if (prefix / n).exists() or (prefix / n).is_symlink()]


def _stage(source_root: Path, names: list[str], tree: Path) -> None:
    for rel in names:
        source, target = source_root / rel, tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)


def _placeholders(tree: Path, prefix: str) -> dict[str, str]:
    """rel path -> "binary" or "text" for each staged file that holds ``prefix``.

    A binary is marked only where every occurrence is a path under the prefix (its ELF
    RUNPATH, ``<prefix>/lib``). libpython also holds the bare prefix (getpath's compiled-in
    fallback), and the linker merged the string "3.11.7" (PY_VERSION) into that string's tail:
    replacing it there blanked ``sys.version``. That fallback is never used, since getpath
    finds the prefix from the executable's place, so the file is left as it is."""
    needle = prefix.encode()
    found = {}
    for path in tree.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if needle not in data:
            continue
        if b"\0" not in data:
            found[str(path.relative_to(tree))] = "text"
        elif all(data[m.end() : m.end() + 1] == b"/" for m in re.finditer(re.escape(needle), data)):
            found[str(path.relative_to(tree))] = "binary"
    return found


def _mark_placeholders(package: Path, modes: dict[str, str], prefix: str) -> None:
    """Add the prefix placeholder of each file in ``modes`` to the package's info/paths.json."""
    with tarfile.open(package, "r:bz2") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]  # type: ignore[union-attr]
    with tarfile.open(package, "w:bz2", compresslevel=1) as tar:
        for member, content in members:
            data = content
            if member.name == "info/paths.json":
                doc = json.loads(content)
                for entry in doc["paths"]:
                    if entry["_path"] in modes:
                        entry.update(prefix_placeholder=prefix, file_mode=modes[entry["_path"]])
                data = json.dumps(doc).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)


def _distributions(site: Path) -> dict[str, tuple[str, str, Path]]:
    """normalised name -> (name, version, dist-info dir) of each distribution in ``site``."""
    found = {}
    for info in site.glob("*.dist-info"):
        fields = dict(
            line.split(": ", 1)
            for line in (info / "METADATA").read_text().splitlines()
            if ": " in line and not line.startswith(" ")
        )
        found[_norm(fields["Name"])] = (fields["Name"], fields["Version"], info)
    return found


def _requirements(info: Path, known: set[str]) -> list[str]:
    needs = []
    for line in (info / "METADATA").read_text().splitlines():
        if line.startswith("Requires-Dist: ") and "extra ==" not in line:
            requirement = line.removeprefix("Requires-Dist: ")
            name = _norm(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
            if name in known:
                needs.append(CONDA_NAMES.get(name, name))
    return needs


def _record_files(info: Path, site: Path, lib: str) -> list[str]:
    """The distribution's files as paths in the prefix (RECORD; bin/ scripts left out: their
    shebangs name the venv)."""
    names = []
    for line in (info / "RECORD").read_text().splitlines():
        rel = line.rsplit(",", 2)[0]
        if not rel or rel.startswith("../") or "__pycache__" in rel:
            continue
        if (site / rel).is_file():
            names.append(f"{lib}/site-packages/{rel}")
    return names


def build_channel(venv: Path, out: Path, staging: Path) -> Path:
    """The channel at ``out`` (linux-64 and noarch), from the torch venv ``venv``."""
    import rattler_build

    for subdir in ("linux-64", "noarch"):
        (out / subdir).mkdir(parents=True, exist_ok=True)
    prefix = interpreter_prefix(venv)
    version = subprocess.run(
        [str(venv / "bin/python"), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    minor = ".".join(version.split(".")[:2])
    lib = f"lib/python{minor}"
    tree = staging / "python"
    _stage(prefix, _python_files(prefix), tree)
    (tree / lib / "site-packages").mkdir(parents=True, exist_ok=True)
    (tree / lib / "site-packages" / "README.txt").write_text("site-packages of the environment\n")
    modes = _placeholders(tree, str(prefix))
    made = rattler_build.assemble_package(
        "python",
        version,
        "linux-64",
        PYTHON_BUILD,
        out / "linux-64",
        files_dir=tree,
        archive_type=rattler_build.ArchiveType.TarBz2,
        compression_level=1,
        detect_prefix=False,
    )
    _mark_placeholders(Path(made.path), modes, str(prefix))
    site = venv / lib / "site-packages"
    dists = _distributions(site)
    python_pin = f"python >={minor},<{minor.split('.')[0]}.{int(minor.split('.')[1]) + 1}"
    for name, (_, dist_version, info) in sorted(dists.items()):
        conda_name = CONDA_NAMES.get(name, name)
        tree = staging / conda_name
        _stage(venv, _record_files(info, site, lib), tree)
        public = dist_version.split("+")[0]
        rattler_build.assemble_package(
            conda_name,
            public,
            "linux-64",
            TORCH_BUILD if conda_name == "pytorch" else f"py{minor.replace('.', '')}_0",
            out / "linux-64",
            files_dir=tree,
            depends=[python_pin, *_requirements(info, set(dists))],
            archive_type=rattler_build.ArchiveType.Conda,
            compression_level=1,
            detect_prefix=False,
        )
    index_channel(out)
    return out
