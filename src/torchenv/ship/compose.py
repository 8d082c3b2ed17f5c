"""compose.yaml: the development container of ``torchenv image`` (Jupyter, SSH) and the one-machine
training run of ``torchenv deploy --to compose``.

Published ports are bound to 127.0.0.1: Jupyter and sshd are reached from other machines
through an SSH tunnel, never opened to the network (unauthenticated Jupyter on 0.0.0.0 is a
recurring incident: reference/anchors-images.md, 6). Shared memory is sized (`shm_size`), since
Docker's 64 MB /dev/shm breaks DataLoader workers and NCCL (pytorch README; NVIDIA/nccl#525);
`memlock` and `stack` are the ulimits NVIDIA's NGC containers ask for.

Compose interpolates `$` in every value of the file (compose-spec, "Interpolation"): a value
from the spec or a path is written with each `$` doubled, which Compose reads as one `$`. The
project and its data are mounted with the long volume syntax, since a `:` in a path would split
the short one ("SOURCE:TARGET:MODE").
"""

from __future__ import annotations

import string
from typing import Any

from torchenv.models.ship import ImageStack, SpecDeploy, SpecImage
from torchenv.ship.dockerfile import JUPYTER_PORT, SSH_PORT, WORKSPACE
from torchenv.ship.yamltext import yaml_text

NGC_ULIMITS = {"memlock": -1, "stack": 67108864}  # `docker run --ulimit` of NGC's start banner


def _literal(value: str) -> str:
    """``value`` as Compose reads it back after interpolation: `$$` is a literal `$`."""
    return value.replace("$", "$$")


def _relative(path: str) -> str:
    """A relative bind source as "./..." unless it starts with "." already: compose-go expands
    a leading "~" to the home directory (loader/paths.go, expandUser)."""
    return path if path.startswith(("/", ".")) else f"./{path}"


def _bind(source: str, target: str, *, read_only: bool = False) -> dict[str, Any]:
    """A bind mount in the long syntax. ``source`` is written as it is (interpolated): callers
    pass a `_literal` path or a variable of torchenv's own. The short syntax makes a missing
    host directory, the long one does only with create_host_path (compose-spec, "volumes")."""
    volume: dict[str, Any] = {"type": "bind", "source": source, "target": target}
    if read_only:
        volume["read_only"] = True
    volume["bind"] = {"create_host_path": True}
    return volume


def _overridable(variable: str, path: str) -> str:
    """`${VARIABLE:-path}`, so that an environment variable may point elsewhere, with the `$`
    of the default doubled (Compose interpolates the default too)."""
    return f"${{{variable}:-{_literal(path)}}}"


def _gpus(count: int | str) -> dict[str, Any]:
    """GPUs as the Compose Specification requests devices (deploy.resources.reservations)."""
    device = {"driver": "nvidia", "count": count, "capabilities": ["gpu"]}
    return {"resources": {"reservations": {"devices": [device]}}}


def render_dev_compose(
    stack: ImageStack, options: SpecImage, deploy: SpecDeploy, image: str, project: str = ".."
) -> str:
    """The image's own compose.yaml, beside its Dockerfile: `docker compose up --build`.
    ``project``: the spec's directory relative to the compose file; it is the container's
    /workspace, so notebooks and code live in the project, never in the generated directory
    (which the next `torchenv image` replaces)."""
    service: dict[str, Any] = {"image": _literal(image), "build": {"context": "."}}
    ports = []
    environment: dict[str, str] = {}
    secrets = []
    if options.jupyter:
        ports.append(f"127.0.0.1:{JUPYTER_PORT}:{JUPYTER_PORT}")
        environment["JUPYTER_TOKEN_FILE"] = "/run/secrets/jupyter_token"  # noqa: S105 - a path
        secrets.append("jupyter_token")
    if options.ssh:
        ports.append(f"127.0.0.1:{SSH_PORT}:{SSH_PORT}")
        secrets.append("authorized_keys")
    service["command"] = ["jupyter-lab"] if options.jupyter else ["sleep", "infinity"]
    if ports:
        service["ports"] = ports
    if environment:
        service["environment"] = environment
    if secrets:
        service["secrets"] = secrets
    service["volumes"] = [_bind(_literal(_relative(project)), WORKSPACE)]
    service["shm_size"] = deploy.shm_size
    service["ulimits"] = NGC_ULIMITS
    if stack.cuda:
        service["deploy"] = _gpus("all")
    document: dict[str, Any] = {"name": _project(stack.name, "dev"), "services": {"dev": service}}
    files = {}
    if options.jupyter:
        files["jupyter_token"] = {"file": "./secrets/jupyter_token"}
    if options.ssh:
        files["authorized_keys"] = {"file": "${TORCHENV_SSH_PUBKEY:-${HOME}/.ssh/id_ed25519.pub}"}
    if files:
        document["secrets"] = files
    header = (
        f"The development container of {stack.name!r} (written by torchenv).\n"
        "docker compose up --build -d; ports are published on 127.0.0.1 only.\n"
        f"/workspace is the project directory ({project} from here).\n"
        + (
            "Jupyter: http://127.0.0.1:8888/lab?token=$(cat secrets/jupyter_token)\n"
            if options.jupyter
            else ""
        )
        + (
            "SSH: ssh -p 2222 " + options.user + "@127.0.0.1 (your key: TORCHENV_SSH_PUBKEY)\n"
            if options.ssh
            else ""
        )
    )
    return yaml_text(header, [document])


def render_train_compose(
    stack: ImageStack, deploy: SpecDeploy, image: str, project: str = "../.."
) -> str:
    """One machine, ``gpus_per_node`` GPUs: torchrun --standalone, in the project directory
    (``project``, relative to the compose file) mounted at /workspace, where the script is."""
    argv = [
        "torchrun",
        "--standalone",
        f"--nproc-per-node={max(deploy.gpus_per_node, 1)}",
        *deploy.command,
    ]
    project = _relative(project)
    # compose-go ends a variable at the first "}" and counts "${" as a nested one, with no
    # escape for either (template/template.go, getFirstBraceClosingIndex): a path holding a
    # brace cannot be a default, so it is mounted as it is and the variables are not read
    overridable = "{" not in project and "}" not in project
    data, checkpoints = f"{project}/data", f"{project}/checkpoints"
    volumes = [
        _bind(_literal(project), WORKSPACE),
        _bind(
            _overridable("TORCHENV_DATA", data) if overridable else _literal(data),
            f"{WORKSPACE}/data",
            read_only=True,
        ),
        _bind(
            _overridable("TORCHENV_CHECKPOINTS", checkpoints)
            if overridable
            else _literal(checkpoints),
            f"{WORKSPACE}/checkpoints",
        ),
    ]
    service: dict[str, Any] = {
        "image": _literal(image),
        "command": [_literal(part) for part in argv],
        "working_dir": WORKSPACE,
        "volumes": volumes,
        "shm_size": _literal(deploy.shm_size),
        "ulimits": NGC_ULIMITS,
    }
    if deploy.gpus_per_node:
        service["deploy"] = _gpus(deploy.gpus_per_node)
    document = {"name": _project(stack.name, "train"), "services": {"train": service}}
    header = (
        f"Training run of {stack.name!r} on one machine (written by torchenv deploy).\n"
        f"docker compose up; /workspace is the project directory ({project} from here), with\n"
        + (
            "data/ read-only and checkpoints/ in it (or $TORCHENV_DATA, $TORCHENV_CHECKPOINTS).\n"
            if overridable
            else "data/ read-only and checkpoints/ in it ($TORCHENV_DATA and "
            "$TORCHENV_CHECKPOINTS are not read:\nthe path holds a brace, which Compose cannot "
            "take in a variable's default).\n"
        )
        + "NCCL_DEBUG is left unset (NCCL's docs: debug variables are not for production runs);\n"
        "add `environment: {NCCL_DEBUG: INFO}` to the service to debug a hang."
    )
    return yaml_text(header, [document])


def _project(name: str, role: str) -> str:
    """Compose project names are lowercase letters, digits, '-' and '_' (compose-spec); the
    role keeps the dev and training projects apart (one's `down` would stop the other's
    containers as orphans)."""
    allowed = string.ascii_lowercase + string.digits + "-_"
    cleaned = "".join(c if c in allowed else "-" for c in f"{name}-{role}".lower())
    return cleaned.strip("-_") or "torchenv"
