#!/usr/bin/env python3
"""Extend the packaged knowledge data (src/torchenv/knowledge/data) from the survey and PyPI.

Run by hand from the repository root, not in CI (it reads a file outside the repository and,
unless --pypi-json is given, fetches https://pypi.org/pypi/torch/json once):

    python scripts/seed_knowledge.py --matrix /work/shared/reference/compat-matrix.json

Inputs: the survey's compat-matrix.json (facts with source ids S1...S13, retrieved 2026-11-23),
the current data files, and PyPI's JSON API for the first-upload date and yank state of each
torch release. Every existing record and field is kept; the fields this script owns (listed in
data/README.md) are recomputed from the inputs, so running it twice gives the same files.
Facts the inputs do not hold (the GPU name patterns, the platform rules of the survey's prose)
are tables below, each with the source id of the survey line it comes from.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import knowledge_audit  # the audit's corrections, applied last (same directory)

DATA = Path(__file__).resolve().parents[1] / "src" / "torchenv" / "knowledge" / "data"
PYPI_URL = "https://pypi.org/pypi/torch/json"


def key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def in_range(minor: str, low: str, high: str | None = None) -> bool:
    return key(low) <= key(minor) and (high is None or key(minor) <= key(high))


# --- PyPI: first upload (UTC date) and yank state per release (S1) --------------------------
def pypi_releases(path: str | None) -> dict[str, tuple[str | None, bool]]:
    if path:
        doc = json.loads(Path(path).read_text("utf-8"))
    else:
        with urllib.request.urlopen(PYPI_URL, timeout=120) as response:
            doc = json.load(response)
    out: dict[str, tuple[str | None, bool]] = {}
    for version, files in doc["releases"].items():
        if not files:
            continue
        first = min(f["upload_time_iso_8601"] for f in files)
        # PyPI yanks a whole release; a release counts as yanked only when every file is
        out[version] = (first[:10], all(f.get("yanked") for f in files))
    return out


# --- releases --------------------------------------------------------------------------------
def pin(value: str | None) -> str | None:
    """ "==13.0.96.* (via cuda-toolkit)" -> "13.0.96"; "<=13.1.1.3,>=13.1.0.3" -> "13.1.1.3"."""
    if not value:
        return None
    upper = re.search(r"<=\s*([\d.]+)", value)
    if upper:
        return upper.group(1).rstrip(".")
    found = re.search(r"(\d+(?:\.\d+)+)", value)
    return found.group(1) if found else None


def glibc(tags: list[str]) -> str | None:
    # The README's meaning: the glibc the Linux x86_64 wheels need. manylinux_2_28 says it in
    # the tag. manylinux1 promises 2.5 (PEP 513), but torch's manylinux1 wheels reference
    # GLIBC_2.17 symbols (libgomp in the 2.6.0 wheel, read for S14), hence 2.17 as README says.
    for tag in tags:
        found = re.match(r"manylinux_(\d+)_(\d+)_", tag)
        if found:
            return f"{found.group(1)}.{found.group(2)}"
        if tag.startswith(("manylinux1_", "manylinux2014_")):
            return "2.17"
    return None


def aarch64_default(minor: str) -> str:
    # S3: PyPI aarch64 wheels are +cpu up to 2.10, +cu130 for 2.11-2.14, +cu132 for 2.15
    if key(minor) <= (2, 10):
        return "cpu"
    return "cu132" if key(minor) >= (2, 15) else "cu130"


CP311 = "cp311 wheels exist only for Linux x86_64; other platforms stop at cp310 (S1)"
CP313 = "cp313 wheels exist only for Linux x86_64 (S1)"
NO_AUDIO = (
    "no torchaudio was released after 2.11.0; torchaudio 2.11.0 installs (it has no torch pin), "
    "its ABI compatibility with this torch is not verified (S1,S2)"
)
CUBLAS = (
    "cuBLAS is pinned as a range (nvidia-cublas>=13.1.0.3,<=13.1.1.3); cublas holds the upper "
    "pin (S2)"
)
NOTES: dict[str, list[str]] = {
    "1.13.0": [CP311],
    "1.13.1": [CP311],
    "2.0.0": [
        "torchvision 0.15.0 is yanked on PyPI (it requires torch==2.0.0+cu117): use 0.15.1 (S1,S2)",
        "torchaudio 2.0.0 is yanked on PyPI: use 2.0.1, which requires torch==2.0.0 (S1,S2)",
    ],
    "2.5.0": [CP313],
    "2.5.1": [CP313],
    "2.10.0": [
        "PyPI holds two sets of Linux x86_64 wheels: the originals and build-tag -3 re-uploads "
        "(which pip prefers), with identical METADATA and git_version (S1,S3)"
    ],
    "2.11.0": [
        "torchaudio 2.11.0 declares no torch requirement, so pip installs it next to any torch; "
        "it was built (+cu130) for 2.11 (S2)",
        "the CUDA libraries come from the cuda-toolkit metapackage and apply to Linux aarch64 "
        "too (marker platform_system == 'Linux') (S2,S13)",
    ],
    "2.12.0": [NO_AUDIO, CUBLAS],
    "2.12.1": [
        "test-infra release_versions.sh pairs torch 2.12.1 with torchaudio 2.11.0, a stable-ABI "
        "build without a torch pin; none was released for 2.12 (S2,S4b)",
        CUBLAS,
        "no cp313t wheels (2.12.0 had them) (S1)",
    ],
    "2.13.0": [NO_AUDIO],
    "2.14.0": [NO_AUDIO],
    "2.14.1": [
        "torchvision 0.29.1 requires torch>=2.14.0 (no exact pin); paired by release order (S2)",
        NO_AUDIO,
    ],
    "2.15.0": [
        "torchvision 0.29.2 (requires torch>=2.14.0, stable-ABI py3-none wheel built +cu132) is "
        "the pairing inferred from release order: no torchvision pins torch==2.15.0 (S1,S2)",
        NO_AUDIO,
        "drops Python 3.10 (Requires-Python >=3.11) and adds 3.15/3.15t (S1,S2)",
    ],
}

# Pairings the survey shows in italics (a loose pin, paired by version): S2 pairing_notes
PAIRINGS = {
    "2.11.0": {"torchaudio": "2.11.0"},
    "2.14.1": {"torchvision": "0.29.1"},
    "2.15.0": {"torchvision": "0.29.2"},
}


def seed_release(rel: dict[str, Any], survey: dict[str, Any], pypi: dict[str, Any]) -> None:
    version = rel["version"]
    minor = ".".join(version.split(".")[:2])
    released, yanked = pypi.get(version, (None, False))
    rel["released"] = released
    rel["yanked"] = yanked
    rel["glibc"] = glibc(survey.get("pypi_linux_x86_64_platform_tags") or [])
    x86 = survey["pypi_linux_x86_64"]
    pins = x86.get("pins") or {}
    default: dict[str, str] = {"linux_x86_64": x86["local_version"].split("+")[1]}
    tags = survey.get("pypi_python_tags") or {}
    if tags.get("linux_aarch64"):
        default["linux_aarch64"] = aarch64_default(minor)
    for platform in ("win_amd64", "macos_arm64", "macos_x86_64"):
        if tags.get(platform):
            # S3: the Windows wheels are +cpu; macOS wheels are CPU builds (arm64 with MPS)
            default[platform] = "cpu"
    rel["pypi_default"] = default
    build = rel["pypi_linux_x86_64"]
    build["git_version"] = x86.get("git_version")
    build["cublas"] = pin(pins.get("cublas"))
    build["cudart"] = pin(pins.get("cudart"))
    arm = survey.get("pypi_linux_aarch64") or {}
    if arm.get("local_version"):
        variant = arm["local_version"].split("+")[1]
        rel["pypi_linux_aarch64"] = {
            "variant": variant,
            "cuda": None if arm.get("cuda") in (None, "None") else arm["cuda"],
            "archs": list(arm.get("cuda_arch_flags") or []),
            "git_version": arm.get("git_version"),
        }
    for lib, value in PAIRINGS.get(version, {}).items():
        rel[lib] = value
    if version in NOTES:
        rel["notes"] = NOTES[version]
    sources = ["S1", "S2", "S3"]
    if key(minor) >= (2, 11):
        sources.append("S13")  # cudart/cublas behind the cuda-toolkit pin
    if version == "2.12.1":
        sources.append("S4b")
    if rel["glibc"] == "2.17":
        sources.append("S14")
    rel["source"] = ",".join(sources)


# --- minors: variants per platform -----------------------------------------------------------
def aarch64_cuda(minor: str, linux: list[str]) -> list[str]:
    # S4: test-infra CUDA_AARCH64_ARCHES at each minor's go-live commit (compat-matrix 1b/2),
    # from 2.7 on: the survey started the CUDA aarch64 wheels at 2.7; the audit found those of
    # 2.4-2.6 in the index listing, which knowledge_audit.apply_aarch64 adds afterwards
    if minor == "2.7":
        return ["cu128"]
    if minor == "2.8":
        return ["cu129"]
    if in_range(minor, "2.9", "2.11"):
        return ["cu126", "cu128", "cu130"]
    if in_range(minor, "2.12"):
        # 2.12+ built cu126/cu130/cu132; for 2.14/2.15 only the Linux list is known
        return [v for v in ("cu126", "cu130", "cu132") if v in linux]
    return []


def seed_minor(minor: str, entry: dict[str, Any]) -> None:
    linux = list(entry["index_variants"])
    cuda = [v for v in linux if v.startswith("cu")]
    windows = cuda + (["xpu"] if "xpu" in linux else []) + ["cpu"]
    entry["index_variants_by_platform"] = {
        "linux_aarch64": [*aarch64_cuda(minor, linux), "cpu"],
        "win_amd64": windows,
    }
    entry["platform_variants_verified"] = {
        "linux_aarch64": in_range(minor, "2.7", "2.13"),
        "win_amd64": False,
    }
    entry["platform_variants_note"] = aarch64_note(minor) + (
        " win_amd64: inferred as the CUDA variants of the Linux list (no ROCm), xpu where Linux "
        "has it, cpu; download.pytorch.org was not read."
    )


AARCH64_NOTE = {
    "2.6": "linux_aarch64: cpu only. test-infra CUDA_AARCH64_ARCHES at the 2.6 go-live commit "
    "lists 12.6-aarch64 and 12.8-aarch64 (S4), but that list is not channel-specific, so it does "
    "not show that the 2.6 release was built for them, and the survey (compat-matrix.md section "
    "2) has CUDA aarch64 wheels on download.pytorch.org from 2.7 on; cpu assumed.",
}


def aarch64_note(minor: str) -> str:
    if minor in AARCH64_NOTE:
        return AARCH64_NOTE[minor]
    if key(minor) < (2, 7):
        return (
            "linux_aarch64: cpu only: test-infra had no CUDA_AARCH64_ARCHES at the minor's "
            "go-live commit (S4), and the survey (compat-matrix.md section 2) has CUDA aarch64 "
            "wheels on download.pytorch.org from 2.7 on; cpu assumed."
        )
    return (
        "linux_aarch64: CUDA (SBSA) variants from test-infra CUDA_AARCH64_ARCHES at the minor's "
        "go-live commit (S4; that list is not channel-specific); cpu assumed."
    )


# --- GPU code of the aarch64 variants ----------------------------------------------------------
AARCH64_DROP = {"sm_50", "sm_60", "sm_70", "sm_75", "sm_86"}  # build_cuda.sh (S6)
SBSA = ["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"]
EXPLICIT_AARCH64 = [
    # (variant, minors, archs, source, verified, note)
    ("cu130", ["2.11", "2.12", "2.13", "2.14"], SBSA, "S3,S7b", True,
     "read from the PyPI aarch64 wheels; RELEASE.md says 12.0+PTX, the wheels list no PTX"),
    ("cu132", ["2.15"], SBSA, "S3", True, "read from the PyPI 2.15.0 aarch64 wheel"),
    ("cu132", ["2.12", "2.13", "2.14"], SBSA, "S7b", False,
     "RELEASE.md support matrix; it says 12.0+PTX, but the PyPI cu130/cu132 wheels read carry "
     "no PTX, so none is assumed"),
    ("cu130", ["2.9", "2.10"], [*SBSA, "compute_120"], "S6", False,
     "build_cuda.sh aarch64 case for CUDA 13.0: 8.0;9.0;10.0;11.0;12.0+PTX"),
]  # fmt: skip


def seed_arch_lists(torch: dict[str, Any]) -> None:
    rows = [r for r in torch["arch_lists"] if r.get("platform", "linux_x86_64") == "linux_x86_64"]
    new = [
        {"torch": minors, "variant": variant, "platform": "linux_aarch64", "archs": archs,
         "source": source, "verified": verified, "note": note}
        for variant, minors, archs, source, verified, note in EXPLICIT_AARCH64
    ]  # fmt: skip
    done = {(v, m) for v, minors, *_ in EXPLICIT_AARCH64 for m in minors}
    derived: dict[tuple[str, ...], list[str]] = {}
    for minor, entry in torch["minors"].items():
        for variant in entry["index_variants_by_platform"]["linux_aarch64"]:
            if not variant.startswith("cu") or (variant, minor) in done:
                continue
            x86 = next(r for r in rows if r["variant"] == variant and minor in r["torch"])
            archs = tuple(a for a in x86["archs"] if a not in AARCH64_DROP)
            derived.setdefault((variant, *archs), []).append(minor)
    for (variant, *archs), minors in derived.items():
        new.append({
            "torch": minors, "variant": variant, "platform": "linux_aarch64", "archs": archs,
            "source": "S6,S7b" if variant == "cu126" else "S6", "verified": False,
            "note": "the Linux x86_64 list of this variant without 5.0, 6.0, 7.0, 7.5 and 8.6, "
            "as build_cuda.sh filters it for aarch64" + (
                "; RELEASE.md gives 8.0;9.0 for 2.12-2.14" if variant == "cu126" else ""),
        })  # fmt: skip
    torch["arch_lists"] = rows + new


# --- conda-forge (S8) ----------------------------------------------------------------------
CF_CUDA = [
    # (first, last, {platform: [cuda]}) from "CUDA compiler versions built" and the CI variants
    ("2.5.1", "2.5.1", {"linux_x86_64": ["11.8", "12.0"]}),
    ("2.6.0", "2.7.1", {"linux_x86_64": ["12.6"]}),
    ("2.8.0", "2.10.0", {"linux_x86_64": ["12.9"], "win_amd64": ["12.8"]}),
    ("2.11.0", "2.13.0", {"linux_x86_64": ["12.9", "13.0"], "linux_aarch64": ["12.9", "13.0"],
                          "win_amd64": ["12.8", "13.0"]}),
]  # fmt: skip
CF_ARCHS = [
    # (cuda, platform, TORCH_CUDA_ARCH_LIST of recipe/build.sh, note). All come from the build
    # script, none from a package's files, so every row is "verified": false.
    ("12.9", "linux_x86_64", "5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX", None),
    ("12.9", "linux_aarch64", "5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX",
     "build.sh's 12.8/12.9 list, which the survey gives without a platform split"),
    ("12.8", "win_amd64", "5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX",
     "build.sh's 12.8 list; the Windows script (bld.bat) was not read"),
    ("13.0", "linux_x86_64", "7.5;8.0;8.6;9.0;10.0;11.0;12.0+PTX", None),
    ("13.0", "linux_aarch64", "7.5;8.0;8.6;8.7;9.0;10.0;11.0;12.0+PTX", None),
    ("13.0", "win_amd64", "7.5;8.0;8.6;9.0;10.0;11.0;12.0+PTX",
     "build.sh's x86_64 13.0 list; the Windows script (bld.bat) was not read"),
]  # fmt: skip


def archs_of(arch_list: str) -> list[str]:
    out = []
    for item in arch_list.split(";"):
        cc = item.removesuffix("+PTX").replace(".", "")
        out.append(f"sm_{cc}")
        if item.endswith("+PTX"):
            out.append(f"compute_{cc}")
    return out


def seed_conda_forge(torch: dict[str, Any], survey: dict[str, Any]) -> None:
    cf = survey["conda"]["conda_forge"]
    first_seen: dict[str, str] = cf["versions_first_seen_on_feedstock_main"]
    builds = []
    known = set()
    for low, high, per_platform in CF_CUDA:
        versions = [v for v in first_seen if key(low) <= key(v) <= key(high)]
        known.update(versions)
        for platform, cudas in per_platform.items():
            builds.append(
                {
                    "torch": versions,
                    "platform": platform,
                    "cuda": cudas,
                    "first_seen": {v: first_seen[v] for v in versions},
                    "source": "S8",
                }
            )
    older = [v for v in first_seen if v not in known]
    builds.insert(0, {
        "torch": older, "platform": "linux_x86_64", "cuda": [],
        "first_seen": {v: first_seen[v] for v in older}, "source": "S8",
        "note": "on the feedstock, but the survey did not record which CUDA versions were built",
    })  # fmt: skip
    arch_rows = [
        {"cuda": cuda, "platform": platform, "archs": archs_of(spec), "verified": False,
         "source": "S8", **({"note": note} if note else {})}
        for cuda, platform, spec, note in CF_ARCHS
    ]  # fmt: skip
    arch_rows.append({
        "cuda": "12.9", "platform": "linux_aarch64", "target": "tegra",
        "archs": archs_of("8.7+PTX"), "verified": False, "source": "S8",
        "note": "Jetson Orin (tegra) builds; conda_forge_archs() answers for the SBSA builds",
    })  # fmt: skip
    torch["conda_forge"] = {
        "feedstock": cf["feedstock"],
        "snapshot": cf["snapshot"],
        "builds": builds,
        "arch_lists": arch_rows,
        "facts": [*cf["cuda_selection"][:4], cf["caveat"]],
        "source": "S8",
    }


# --- GPUs (S12, unverified: see gpus.json's note) ------------------------------------------
# Patterns match a name normalised by knowledge.gpus.normalise(): lower case, without "nvidia",
# "geforce", "tesla", with "-"/"_" as spaces. Bare model numbers ("4090") are accepted too.
ONE_WORD = ("Tesla K80", "Tesla P100", "Tesla T4", "A100", "A30", "A40", "L4", "L40", "L40S",
            "H200", "GH200", "B100", "B200", "GB200")  # fmt: skip
GPU_MATCH = {  # one-word models match their word: r"\bl40s\b" (normalise drops "tesla")
    **{name: [rf"\b{name.split()[-1].lower()}\b"] for name in ONE_WORD},
    "Tesla V100": [r"\bv100s?\b"],
    "A10": [r"\ba10g?\b"],
    "A2 / A16": [r"\ba(2|16)\b"],
    "H100 (PCIe/SXM/NVL)": [r"\bh100\b"],
    "B300 / GB300 (Blackwell Ultra)": [r"\bg?b300\b"],
    "RTX PRO 6000 Blackwell (Server/Workstation)": [r"\brtx pro 6000\b"],
    "TITAN V": [r"\btitan v\b"],
    "GeForce GTX 10xx (1050-1080 Ti), TITAN Xp": [r"(^|\bgtx ?)10([5-8]0|xx)\b", r"\btitan xp\b"],
    "GeForce GTX 16xx": [r"(^|\bgtx ?)16([3-6]0|xx)\b"],
    # RTX 2050 is an Ampere part (8.6), so the Turing row starts at 2060
    "GeForce RTX 20xx": [r"(^|\brtx ?)20([6-8]0|xx)\b"],
    "GeForce RTX 30xx": [r"(^|\brtx ?)30([5-9]0|xx)\b"],
    "GeForce RTX 40xx": [r"(^|\brtx ?)40([5-9]0|xx)\b"],
    "GeForce RTX 50xx": [r"(^|\brtx ?)50([5-9]0|xx)\b"],
    "Jetson TX2": [r"\btx2\b", r"\btegra x2\b"],
    "Jetson AGX Xavier / Xavier NX": [r"\bxavier\b"],
    "Jetson AGX Orin / Orin NX / Orin Nano": [r"\borin\b"],
    "Jetson AGX Thor (T5000/T4000)": [r"\bthor\b"],
    "DGX Spark (GB10)": [r"\bgb10\b", r"\bdgx spark\b"],
}
NEW_GPUS = [
    {"name": "RTX A-series (A400-A6000)", "cc": "8.6", "arch": "Ampere",
     "segment": "workstation", "match": [r"\brtx a\d{3,4}\b", r"^a\d{4}\b", r"\brtx a series\b"]},
    {"name": "RTX Ada Generation (RTX 2000-6000 Ada)", "cc": "8.9", "arch": "Ada Lovelace",
     "segment": "workstation", "match": [r"\brtx \d{4}( sff)? ada\b", r"\brtx ada\b"]},
    {"name": "Quadro RTX 3000-8000", "cc": "7.5", "arch": "Turing", "segment": "workstation",
     "match": [r"\bquadro rtx [3-8]000\b"]},
]  # fmt: skip
# nvidia-smi names: "NVIDIA H800", "NVIDIA H20", "NVIDIA A800-SXM4-80GB", "Tesla P40", "Tesla M60",
# "NVIDIA TITAN RTX", "NVIDIA T1000 8GB"; word boundaries keep "h20" off "h200", "p4" off "p40"
# and "t400" off "t4"
NEW_GPUS += [
    {"name": name, "cc": cc, "arch": arch, "segment": segment, "match": match}
    for name, cc, arch, segment, match in [
        ("H800", "9.0", "Hopper", "datacenter", [r"\bh800\b"]),
        ("H20", "9.0", "Hopper", "datacenter", [r"\bh20\b"]),
        ("A800", "8.0", "Ampere", "datacenter", [r"\ba800\b"]),
        ("Tesla P40", "6.1", "Pascal", "datacenter", [r"\bp40\b"]),
        ("Tesla P4", "6.1", "Pascal", "datacenter", [r"\bp4\b"]),
        ("Tesla M60", "5.2", "Maxwell", "datacenter", [r"\bm60\b"]),
        ("Tesla M40", "5.2", "Maxwell", "datacenter", [r"\bm40\b"]),
        ("GeForce GTX 9xx (950-980 Ti)", "5.2", "Maxwell", "consumer",
         [r"(^|\bgtx ?)9([5-8]0|xx)\b"]),
        ("TITAN RTX", "7.5", "Turing", "consumer", [r"\btitan rtx\b"]),
        ("T400 / T600 / T1000", "7.5", "Turing", "workstation", [r"\bt(400|600|1000)\b"]),
    ]
]  # fmt: skip
# the GPUs issue 13 found missing, as nvidia-smi names them: "Tesla K40m", "NVIDIA GeForce GTX
# 750 Ti", "Quadro P4000", "NVIDIA L20", "NVIDIA RTX PRO 4000 Blackwell", and the Jetson Nano's
# "NVIDIA Tegra X1" (its own tools say so; it has no nvidia-smi)
NEW_GPUS += [
    {"name": name, "cc": cc, "arch": arch, "segment": segment, "match": match}
    for name, cc, arch, segment, match in [
        ("Tesla K40", "3.5", "Kepler", "datacenter", [r"\bk40[cm]?\b"]),
        ("GeForce GTX 750 / 750 Ti", "5.0", "Maxwell", "consumer", [r"\bgtx ?750( ti)?\b"]),
        ("Quadro P4000", "6.1", "Pascal", "workstation", [r"\b(quadro )?p4000\b"]),
        ("L20", "8.9", "Ada Lovelace", "datacenter", [r"\bl20\b"]),
        ("RTX PRO 4000 / 4500 / 5000 Blackwell", "12.0", "Blackwell", "workstation",
         [r"\brtx pro (4000|4500|5000)\b"]),
        ("Jetson Nano", "5.3", "Maxwell", "embedded", [r"\bjetson nano\b", r"\btegra x1\b"]),
    ]
]  # fmt: skip


# NVIDIA's compute capability table (S12b: developer.nvidia.com/cuda-gpus as Lei Mao compiled it
# and michaelbommarito.com lists it), the CC 3.5+ models no row above covers. nvidia-smi names:
# "Quadro GV100", "Quadro T2000", "Quadro P2000", "NVIDIA TITAN X (Pascal)", "Quadro GP100",
# "Quadro M6000 24GB", "NVIDIA GeForce GTX TITAN X", "Quadro K2200", "Tesla K20m". A trailing
# "m" is a mobile part of another CC ("Quadro M5000M" is 5.0, "Quadro M5000" 5.2; "GTX 780M" is
# 3.0), so the patterns end at a word boundary; "GTX TITAN X" (Maxwell) is not "TITAN X" (Pascal)
S12B_GPUS = [
    {"name": name, "cc": cc, "arch": arch, "segment": segment, "match": match}
    for name, cc, arch, segment, match in [
        ("Quadro GV100", "7.0", "Volta", "workstation", [r"\bgv100\b"]),
        ("Quadro T500 / T1200 / T2000 (mobile)", "7.5", "Turing", "workstation",
         [r"\bt(500|1200|2000)\b"]),
        ("Quadro P400-P6000, P500-P5200 (mobile)", "6.1", "Pascal", "workstation",
         [r"\b(quadro )?p(400|500|520|600|620|1000|2000|2200|3000|3200|4200|5000|5200|6000)\b"]),
        ("TITAN X (Pascal)", "6.1", "Pascal", "consumer", [r"(?<!gtx )\btitan x\b"]),
        ("Quadro GP100", "6.0", "Pascal", "workstation", [r"\bgp100\b"]),
        ("Quadro M620-M6000 (Maxwell 2)", "5.2", "Maxwell", "workstation",
         [r"\b(quadro )?m(620|2000|2200|4000|5000|5500m?|6000)\b"]),
        ("GeForce GTX TITAN X", "5.2", "Maxwell", "consumer", [r"\bgtx titan x\b"]),
        ("GeForce GTX 965M / 970M / 980M, 910M", "5.2", "Maxwell", "consumer",
         [r"\bgtx ?9(65|70|80)m\b", r"\b910m\b"]),
        ("Quadro K620-K2200, M500M-M5000M (Maxwell 1)", "5.0", "Maxwell", "workstation",
         [r"\bquadro k(620|1200|2200)\b", r"\bk620m\b",
          r"\b(quadro )?m(520|1200|500m|600m|1000m|2000m|3000m|4000m|5000m)\b"]),
        ("GeForce GTX 950M / 960M / 850M, 830M-940M", "5.0", "Maxwell", "consumer",
         [r"\bgtx ?(950|960|850)m\b", r"\b(830|840|930|940)m\b"]),
        ("NVS 810", "5.0", "Maxwell", "workstation", [r"\bnvs ?810\b"]),
        ("Tesla K20", "3.5", "Kepler", "datacenter", [r"\bk20[cm]?\b"]),
        ("Quadro K5200 / K6000, K510M / K610M", "3.5", "Kepler", "workstation",
         [r"\bquadro k(5200|6000)\b", r"\bk(510|610)m\b"]),
        ("GeForce GTX TITAN / TITAN Black / TITAN Z, GTX 780 / 780 Ti", "3.5", "Kepler",
         "consumer", [r"\bgtx titan( black| z)?$", r"\bgtx ?780( ti)?\b"]),
        ("GeForce GT 720, 920M", "3.5", "Kepler", "consumer", [r"\bgt 720\b", r"\b920m\b"]),
    ]
]  # fmt: skip


NEW_NAMES = {row["name"] for row in NEW_GPUS + S12B_GPUS}


def seed_gpus(gpus: dict[str, Any]) -> None:
    for row in gpus["gpus"]:
        if row["name"] == "Jetson AGX Thor (T5000/T4000)" and " " in row["cc"]:
            # cc is "X.Y" everywhere; the old value's remark moves to a note
            row["cc"], row["note"] = "11.0", "reported as 10.1 by CUDA 12.8/12.9 (S10a)"
        if row["name"] in GPU_MATCH:
            row["match"] = GPU_MATCH[row["name"]]
    names = {row["name"] for row in gpus["gpus"]}
    gpus["gpus"] = [row for row in gpus["gpus"] if row["name"] not in NEW_NAMES]
    gpus["gpus"] += [dict(row, source="S12") for row in NEW_GPUS]
    gpus["gpus"] += [dict(row, source="S12b") for row in S12B_GPUS]
    if not names >= set(GPU_MATCH):
        raise SystemExit(f"gpus.json lacks rows of GPU_MATCH: {set(GPU_MATCH) - names}")


# --- sources ---------------------------------------------------------------------------------
NEW_SOURCES = {"S4b", "S8"}
URLS = {
    "S4b": "https://github.com/pytorch/test-infra",
    "S8": "https://github.com/conda-forge/pytorch-cpu-feedstock",
}
S14 = {
    "id": "S14",
    "what": "GLIBC_x.y symbol versions referenced by torch/lib/*.so in the PyPI Linux x86_64 "
    "cp311 wheels of 1.13.0 (up to 2.16), 2.6.0 (2.17, libgomp) and 2.7.0 (2.28), read by HTTP "
    "range requests (libtorch_cpu.so was not read)",
    "url": "https://pypi.org/project/torch/",
    "retrieved": "2026-11-23",
}

S12B = {
    "id": "S12b",
    "what": "NVIDIA's CUDA GPUs compute capability table (https://developer.nvidia.com/cuda-gpus, "
    "not readable here) as compiled into one table by Lei Mao "
    "(https://leimao.github.io/blog/NVIDIA-GPU-Compute-Capability/, read in a reposted copy; it "
    "gives RTX 50 as 10.0, the page's old value, not used) and as listed by "
    "https://michaelbommarito.com/wiki/programming/tools/gpu-compute-capability (its 12.0 "
    "section); only the CC 3.5+ models no S12 row covered were added",
    "url": "https://developer.nvidia.com/cuda-gpus",
    "retrieved": "2026-12-07",
}


def seed_sources(sources: dict[str, Any], survey: dict[str, Any]) -> None:
    have = {row["id"] for row in sources["sources"]}
    for row in survey["sources"]:
        if row["id"] in NEW_SOURCES and row["id"] not in have:
            what = row["what"] + (f" (commit {row['commit']})" if row.get("commit") else "")
            sources["sources"].append(
                {"id": row["id"], "what": what, "url": URLS[row["id"]], "retrieved": "2026-11-23"}
            )
    if "S14" not in have:
        sources["sources"].append(S14)
    if "S12b" not in have:
        sources["sources"].append(S12B)
    s1 = next(row for row in sources["sources"] if row["id"] == "S1")
    if "upload" not in s1["what"]:
        s1["what"] += "; first upload time and yank state from https://pypi.org/pypi/torch/json"
    sources["sources"].sort(key=lambda r: (r["id"][0] != "S", key(r["id"]) or (0,), r["id"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--matrix", required=True, help="the survey's compat-matrix.json")
    parser.add_argument("--pypi-json", help="a saved copy of " + PYPI_URL + " (else fetched)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA,
        help="read and rewrite the files there (default: the packaged data); a copy in a "
        "temporary directory shows what a run would change",
    )
    args = parser.parse_args()
    survey = json.loads(Path(args.matrix).read_text("utf-8"))
    files = {name: json.loads((args.data_dir / name).read_text("utf-8")) for name in
             ("torch.json", "gpus.json", "sources.json")}  # fmt: skip
    torch = files["torch.json"]
    pypi = pypi_releases(args.pypi_json)
    by_version = {r["version"]: r for r in survey["torch_releases"]}
    for rel in torch["releases"]:
        seed_release(rel, by_version[rel["version"]], pypi)
        knowledge_audit.apply_release(rel)
    knowledge_audit.apply_variants(torch["minors"])
    for minor, entry in torch["minors"].items():
        seed_minor(minor, entry)
    knowledge_audit.apply_aarch64(torch["minors"])
    # twice: the aarch64 rows derive from the corrected Linux rows, then are corrected too
    torch["arch_lists"] = knowledge_audit.apply_arch_lists(torch["arch_lists"])
    seed_arch_lists(torch)
    torch["arch_lists"] = knowledge_audit.apply_arch_lists(torch["arch_lists"])
    seed_conda_forge(torch, survey)
    seed_gpus(files["gpus.json"])
    seed_sources(files["sources.json"], survey)
    knowledge_audit.apply_sources(files["sources.json"])
    for name, data in files.items():
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        (args.data_dir / name).write_text(text, "utf-8")


if __name__ == "__main__":
    main()
