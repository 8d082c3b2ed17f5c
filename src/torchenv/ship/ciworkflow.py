"""The CI workflow of a project: GitHub Actions or a GitLab pipeline that rebuilds the locked
environment on every change and proves it (issue 14; the practice of the source documents:
the environment file in git, a CI job that recreates and tests it).

Jobs: ``lock --check`` (the lock must be fresh), ``create`` with the installer's download cache
kept between runs (keyed on the lock), ``verify --junit`` (the CPU checks on hosted runners; a
CUDA build without a GPU skips the GPU checks) with the JUnit report uploaded; optionally the
full GPU checks on a self-hosted runner carrying a label, and on tags the image built from the
lock and pushed.

GitHub: actions are pinned to full commit SHAs with their version in a comment (a tag can be
moved; GitHub's security hardening guide), ``permissions`` grants only ``contents: read`` and
the image job alone ``packages: write``, checkout keeps no credentials, registry passwords reach
the login action and ``--password-stdin`` only, never a command line or the log.
"""

from __future__ import annotations

from typing import Any

from torchenv.models.ci import CiRequest
from torchenv.ship.yamltext import yaml_text

# (owner/repo, commit, version): the tag's commit as read from each repository on 2026-12-07
ACTIONS = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup-python": (
        "actions/setup-python",
        "5fda3b95a4ea91299a34e894583c3862153e4b97",
        "v7.0.0",
    ),
    "cache": ("actions/cache", "27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "upload-artifact": (
        "actions/upload-artifact",
        "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        "v7.0.0",
    ),
    "login": ("docker/login-action", "4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"),
    "build-push": (
        "docker/build-push-action",
        "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a",
        "v7.3.0",
    ),
}
MARKER = "Written by `torchenv ci"  # a file holding this line is torchenv's to replace
PREFIX = ".torchenv-ci"  # the environment's directory on the runner
TOOL_PYTHON = "3.12"  # the runners' Python for torchenv itself (it needs 3.10 or newer)
JUNIT = "torchenv-verify.xml"
CONTEXT = "torchenv-image"  # the image's build context
GHCR_DEFAULT = "ghcr.io/${{ github.repository }}"  # the repository's own registry
GITLAB_DEFAULT = "$CI_REGISTRY_IMAGE"
# where each installer keeps its downloads (XDG_CACHE_HOME moves all three on Linux)
CACHE_DIRS = {"uv": "uv", "pip": "pip", "conda": "rattler"}


def header(request: CiRequest) -> str:
    return (
        f"{MARKER} --to {request.to}` (torchenv {request.torchenv_version}) from "
        f"{request.spec}.\nRun it again after changing the spec: it replaces this file only\n"
        "while the line above is here (remove that line to keep your own edits).\n"
        f"The jobs: the lock is fresh ({request.lock}), the environment builds from it,\n"
        "`torchenv verify` passes."
    )


def workflow(request: CiRequest) -> tuple[str, tuple[str, ...]]:
    """(the file's text, its job names)."""
    if request.to == "github":
        doc = _github(request)
        jobs = tuple(doc["jobs"])
    else:
        doc = _gitlab(request)
        jobs = tuple(k for k in doc if k not in ("stages", "variables", "default", ".torchenv"))
    return pin_comments(yaml_text(header(request), [doc])), jobs


def _uses(name: str) -> str:
    repo, commit, _ = ACTIONS[name]
    return f"{repo}@{commit}"  # the version is the comment pin_comments adds


def pin_comments(text: str) -> str:
    """``uses: actions/checkout@<sha>`` gets `` # v7.0.1``: a reviewer sees the version."""
    for repo, commit, version in ACTIONS.values():
        text = text.replace(f"{repo}@{commit}\n", f"{repo}@{commit} # {version}\n")
    return text


def _setup(request: CiRequest) -> list[dict[str, Any]]:
    # torchenv runs on TOOL_PYTHON; the pip backend also needs the lock's own Python on PATH
    # (uv downloads its own); setup-python takes several, the last one is the default
    versions = [TOOL_PYTHON]
    if request.installer == "pip" and request.python != TOOL_PYTHON:
        versions.insert(0, request.python)
    return [
        {"uses": _uses("checkout"), "with": {"persist-credentials": False}},
        {"uses": _uses("setup-python"), "with": {"python-version": "\n".join(versions)}},
        {"name": "Install torchenv", "run": request.install},
    ]


def _github(request: CiRequest) -> dict[str, Any]:
    cache = CACHE_DIRS[request.installer]
    lock_hash = "${{ hashFiles('" + request.lock + "') }}"
    env_steps = [
        *_setup(request),
        {"name": "The lock is fresh", "run": 'torchenv lock --check "$TORCHENV_SPEC"'},
        {
            "uses": _uses("cache"),
            "with": {
                "path": f"~/.cache/{cache}",
                # no restore-keys: a cache restored from another lock would be saved again
                # with this one's downloads added, growing with every torch release locked
                "key": f"torchenv-{cache}-${{{{ runner.os }}}}-{lock_hash}",
            },
        },
        {
            "name": "Create the environment",
            "run": f'torchenv create "$TORCHENV_SPEC" --prefix {PREFIX}',
        },
        {
            "name": "Verify it",
            "run": f"torchenv verify --prefix {PREFIX} --junit {JUNIT}",
        },
        {
            "uses": _uses("upload-artifact"),
            "if": "always()",
            "with": {"name": "torchenv-verify", "path": JUNIT, "if-no-files-found": "ignore"},
        },
    ]
    jobs: dict[str, Any] = {
        "environment": {"runs-on": "ubuntu-24.04", "timeout-minutes": 60, "steps": env_steps}
    }
    if request.gpu_runner:
        gpu_steps = [dict(s) for s in env_steps if s.get("uses") != _uses("cache")]
        upload = gpu_steps[-1]
        upload["with"] = {**upload["with"], "name": "torchenv-verify-gpu"}
        jobs["gpu"] = {
            "needs": "environment",
            "runs-on": ["self-hosted", request.gpu_runner],
            "timeout-minutes": 60,
            "steps": gpu_steps,
        }
    events: dict[str, Any] = {
        "push": {"branches": ["**"]},  # every branch, whatever the default one is called
        "pull_request": None,
        "workflow_dispatch": None,
    }
    if request.image:
        events["push"]["tags"] = ["v*"]
        jobs["image"] = _github_image(request, request.image, list(jobs))
    return {
        "name": "torchenv",
        "on": events,
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": "torchenv-${{ github.ref }}",
            "cancel-in-progress": True,
        },
        "env": {"TORCHENV_SPEC": request.spec},
        "jobs": jobs,
    }


def _github_image(request: CiRequest, image: str, needs: list[str]) -> dict[str, Any]:
    registry = image.split("/", 1)[0]
    ghcr = registry == "ghcr.io"
    login = {
        "registry": registry,
        "username": "${{ github.actor }}" if ghcr else "${{ secrets.REGISTRY_USERNAME }}",
        "password": "${{ secrets.GITHUB_TOKEN }}" if ghcr else "${{ secrets.REGISTRY_PASSWORD }}",
    }
    naming: list[dict[str, Any]] = []
    if image == GHCR_DEFAULT:
        # ghcr.io takes lower-case names only, and owner/repository may have capitals
        naming.append(
            {
                "name": "The image's name",
                "run": 'echo "IMAGE=ghcr.io/${GITHUB_REPOSITORY,,}" >> "$GITHUB_ENV"',
            }
        )
        image = "${{ env.IMAGE }}"
    permissions = {"contents": "read", **({"packages": "write"} if ghcr else {})}
    return {
        "if": "startsWith(github.ref, 'refs/tags/v')",
        "needs": needs,
        "runs-on": "ubuntu-24.04",
        "timeout-minutes": 90,
        "permissions": permissions,
        "steps": [
            *_setup(request),
            {
                "name": "The image's build context",
                "run": f'torchenv image "$TORCHENV_SPEC" --out {CONTEXT}',
            },
            *naming,
            {"uses": _uses("login"), "with": login},
            {
                "uses": _uses("build-push"),
                "with": {
                    "context": CONTEXT,
                    "push": True,
                    "tags": f"{image}:${{{{ github.ref_name }}}}",
                },
            },
        ],
    }


def _gitlab(request: CiRequest) -> dict[str, Any]:
    environment = {
        "stage": "environment",
        "extends": ".torchenv",
        "cache": {
            "key": {"files": [request.lock], "prefix": f"torchenv-{request.installer}"},
            "paths": [".cache/"],
        },
        "script": [
            f'torchenv create "$TORCHENV_SPEC" --prefix {PREFIX}',
            f"torchenv verify --prefix {PREFIX} --junit {JUNIT}",
        ],
        "artifacts": {"when": "always", "reports": {"junit": JUNIT}},
    }
    doc: dict[str, Any] = {
        "stages": ["check", "environment", "gpu", "image"],
        "variables": {"TORCHENV_SPEC": request.spec, "XDG_CACHE_HOME": "$CI_PROJECT_DIR/.cache"},
        "default": {"image": f"python:{TOOL_PYTHON}-bookworm", "interruptible": True},
        ".torchenv": {"before_script": [request.install]},
        "lock-fresh": {
            "stage": "check",
            "extends": ".torchenv",
            "script": ['torchenv lock --check "$TORCHENV_SPEC"'],
        },
        "environment": environment,
    }
    if request.gpu_runner:
        doc["gpu"] = {**environment, "stage": "gpu", "tags": [request.gpu_runner]}
        doc["gpu"].pop("cache")
    if request.image:
        own = request.image == GITLAB_DEFAULT
        user, password, registry = (
            ("$CI_REGISTRY_USER", "$CI_REGISTRY_PASSWORD", "$CI_REGISTRY")
            if own
            else ("$REGISTRY_USERNAME", "$REGISTRY_PASSWORD", request.image.split("/", 1)[0])
        )
        doc["container-image"] = {  # "image" is a GitLab keyword
            "stage": "image",
            "extends": ".torchenv",
            "rules": [{"if": "$CI_COMMIT_TAG =~ /^v/"}],
            "script": [
                "apt-get update -qq && apt-get install -y -qq buildah >/dev/null",
                f'torchenv image "$TORCHENV_SPEC" --out {CONTEXT}',
                # the password goes through stdin: it is never on a command line or in the log
                f'printf "%s" "{password}" | buildah login -u "{user}" --password-stdin '
                f'"{registry}"',
                f'buildah bud -t "{request.image}:$CI_COMMIT_TAG" {CONTEXT}',
                f'buildah push "{request.image}:$CI_COMMIT_TAG"',
            ],
            # inside the job's container: no overlay on overlay, no namespaces of its own
            "variables": {
                "BUILDAH_ISOLATION": "chroot",
                "STORAGE_DRIVER": "vfs",
                "BUILDAH_FORMAT": "docker",
            },
        }
    return doc
