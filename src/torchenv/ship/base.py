"""Which base image an environment's image starts from, and why.

PyTorch's pip wheels carry their own CUDA user-space libraries (cuBLAS, cuDNN, NCCL, ...; the
``nvidia-*`` wheels), so a CUDA ``runtime`` base would hold them twice: about 2.3 GB in one image
(IBM/text-generation-inference PR #50); jupyter/docker-stacks builds its CUDA images on plain
Ubuntu for that reason (PR #2091). The driver comes from the host through the NVIDIA Container
Toolkit. So the default base is a plain OS image with the spec's Python.

A compiler is another matter: runtime images have no nvcc, headers or g++, so building CUDA
extensions, and ``torch.compile`` (Triton compiles a small C launcher), fail there (pytorch#116696,
pytorch#31171). ``[image] compiler = true`` picks NVIDIA's ``devel`` image of the build's CUDA.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from torchenv.errors import UsageError
from torchenv.i18n import Msg
from torchenv.models.ship import ImageStack, SpecImage, parse_reference, tagged_reference

# The CUDA toolkit image per wheel variant: the newest patch release NVIDIA published for the
# minor version, on the newest Ubuntu it is built for. Tags follow
# <x.y.z>-{base,runtime,devel}-ubuntu<version> (nvidia.github.io/container-wiki toolkit images).
# Seen tags: 11.8.0 .. 12.9.1 in replicate/cog pkg/config/cuda_compatibility.json
# (commit 001f947, devel-ubuntu rows); 13.0.1-devel-ubuntu24.04 in public Dockerfiles;
# 13.2.1 as "13.2.1-cudnn-devel-ubuntu24.04" in cog HEAD (reference/anchors-images.md, 1).
CUDA_DEVEL_TAGS = {
    "cu118": "11.8.0-devel-ubuntu22.04",
    "cu121": "12.1.1-devel-ubuntu22.04",
    "cu124": "12.4.1-devel-ubuntu22.04",
    "cu126": "12.6.3-devel-ubuntu24.04",
    "cu128": "12.8.1-devel-ubuntu24.04",
    "cu129": "12.9.1-devel-ubuntu24.04",
    "cu130": "13.0.1-devel-ubuntu24.04",
    "cu132": "13.2.1-devel-ubuntu24.04",
}
# Debian 12: glibc 2.36, above the manylinux_2_28 floor of torch's x86_64 and aarch64 wheels
# since 2.6 (knowledge/data/torch.json, glibc floors); the Docker Official Image "python" is
# published for it with every CPython from 3.9 on.
PYTHON_IMAGE = "python:{python}-slim-bookworm"
PYTHON_DEVEL_IMAGE = "python:{python}-bookworm"  # buildpack-deps: gcc, make, headers


@dataclass(frozen=True)
class BaseChoice:
    image: str
    has_python: bool  # False: uv installs a CPython build into /opt/python
    reason: str


def choose_base(stack: ImageStack, *, compiler: bool, base: str | None) -> BaseChoice:
    """The base of both stages. A free-threaded Python ("3.14t") has no Docker Official Image,
    so uv brings it; so it does on NVIDIA's Ubuntu images, whose Python is not the spec's."""
    free_threaded = stack.python.endswith("t")
    if base is not None:
        return BaseChoice(base, has_python=False, reason="[image] base in the spec")
    if compiler and stack.cuda is not None:
        tag = CUDA_DEVEL_TAGS.get(stack.variant)
        if tag is None:
            known = ", ".join(sorted(CUDA_DEVEL_TAGS))
            raise ValueError(
                f"no nvidia/cuda devel image is known for {stack.variant} (known: {known})"
            )
        return BaseChoice(
            f"nvidia/cuda:{tag}",
            has_python=False,
            reason=f"compiler = true: CUDA {stack.cuda} toolkit (nvcc, headers) for extensions "
            "and torch.compile",
        )
    if free_threaded:
        python = stack.python.removesuffix("t")
        return BaseChoice(
            PYTHON_IMAGE.format(python=python),
            has_python=False,
            reason=f"free-threaded Python {stack.python}: installed by uv on Debian 12",
        )
    if compiler:
        return BaseChoice(
            PYTHON_DEVEL_IMAGE.format(python=stack.python),
            has_python=True,
            reason="compiler = true on a CPU build: Debian 12 with gcc and headers",
        )
    why = (
        "the wheels bring their CUDA libraries and the host its driver, so no CUDA base is needed"
        if stack.cuda
        else "a CPU build needs nothing but Python"
    )
    return BaseChoice(PYTHON_IMAGE.format(python=stack.python), has_python=True, reason=why)


# The reference grammar (distribution/reference, reference.go): a path component is
# [a-z0-9]+ joined by ".", "_", "__" or dashes; the name at most 255 characters; a tag
# [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. The default name is kept well under the limit, since a
# registry's host and a namespace ("registry.example.com/team/") come before it on a push.
NAME_MAX = 255
DEFAULT_NAME_MAX = 128
TAG_MAX = 128
_HASHED_PART = 12  # hex digits of sha256 that keep two long names apart once cut
# a run of separators holding a "." is valid as that "." alone ("_" has become "-" before;
# dashes alone are valid)
_SEPARATOR_RUN = re.compile(r"[.-]*\.[.-]*")


def default_tag(stack: ImageStack) -> str:
    """``<torch>-<variant>-<lock hash>``: a tag that changes whenever the lock does. The parts
    come from the lock, so anything a tag cannot hold becomes "-"."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{stack.torch}-{stack.variant}-{stack.lock_sha256[:12]}")
    tag = tag.lstrip(".-") or "torchenv"
    return tag[:TAG_MAX]


def _name_component(name: str) -> str:
    """``name`` (the spec's, [A-Za-z0-9._-]+) as one path component of an image name."""
    cleaned = re.sub(r"[^a-z0-9._-]", "-", name.lower()).replace("_", "-")
    cleaned = _SEPARATOR_RUN.sub(lambda m: "." if m.group(0) == "." else "-", cleaned)
    cleaned = cleaned.strip(".-") or "torchenv"
    if len(cleaned) <= DEFAULT_NAME_MAX:
        return cleaned
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASHED_PART]
    return f"{cleaned[: DEFAULT_NAME_MAX - _HASHED_PART - 1].rstrip('.-')}-{digest}"


def default_image_name(stack: ImageStack) -> str:
    """``<spec name>:<default tag>``, valid whatever the spec's name: lowercase, separators
    that the grammar allows, and a long name cut with a hash of it appended."""
    return f"{_name_component(stack.name)}:{default_tag(stack)}"


def image_reference(options: SpecImage, stack: ImageStack) -> str:
    """What the image is tagged as: [image] name (with the default tag when it has none), else
    ``<spec name>:<default tag>``."""
    if not options.name:
        return default_image_name(stack)
    parts = parse_reference(options.name)
    if parts is not None:
        named = f"{parts['host']}/{parts['path']}" if parts["host"] else str(parts["path"])
        if len(named) > NAME_MAX:
            raise UsageError(
                "image-name-too-long",
                Msg(
                    "[image] name is {length} characters without its tag; registries accept at "
                    "most {limit} (distribution/reference).",
                    length=len(named),
                    limit=NAME_MAX,
                ),
                Msg("Give [image] name a shorter repository path."),
            )
    return tagged_reference(options.name, default_tag(stack))
