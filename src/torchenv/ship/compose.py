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

A training run on GPUs gets the exporter of ``torchenv monitor serve`` beside it, in the same
image, and with ``monitoring`` a Prometheus and a Grafana reading it (ship/monitorstack.py
writes their files): every port on 127.0.0.1, as above.
"""

from __future__ import annotations

import string
from typing import Any

from torchenv.models.ship import ImageStack, SpecDeploy, SpecImage
from torchenv.ship import monitorstack as ms
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
    stack: ImageStack,
    deploy: SpecDeploy,
    image: str,
    project: str = "../..",
    *,
    exporter_user: tuple[int, int] | None = None,
    monitoring: bool = False,
) -> str:
    """One machine, ``gpus_per_node`` GPUs: torchrun --standalone, in the project directory
    (``project``, relative to the compose file) mounted at /workspace, where the script is.
    ``exporter_user``: (uid, gid) of an exporter service beside it, none when None;
    ``monitoring``: Prometheus and Grafana too, whose files ``monitorstack`` writes."""
    if monitoring and exporter_user is None:
        raise ValueError("monitoring reads the exporter: give exporter_user")
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
    services = {"train": service}
    if exporter_user is not None:
        services["exporter"] = _exporter(image, exporter_user)
    if monitoring:
        services["prometheus"] = _prometheus()
        services["grafana"] = _grafana()
    document: dict[str, Any] = {"name": _project(stack.name, "train"), "services": services}
    if monitoring:
        document["volumes"] = {"prometheus-data": {}, "grafana-data": {}}
        document["secrets"] = {ms.GRAFANA_SECRET: {"file": f"./{ms.GRAFANA_PASSWORD_FILE}"}}
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
        + (_exporter_header() if exporter_user is not None else "")
        + (_monitoring_header() if monitoring else "")
    )
    text = yaml_text(header, [document])
    if exporter_user is None:
        return text
    return ms.comment_before(text, "pid: host", ms.HOST_PID_WHY)


def _hardened(service: dict[str, Any]) -> dict[str, Any]:
    """No privilege gained through setuid binaries, no capability kept: none of the
    monitoring services needs one (each runs as a user other than root)."""
    service["security_opt"] = ["no-new-privileges:true"]
    service["cap_drop"] = ["ALL"]
    service["restart"] = "unless-stopped"
    return service


def _exporter(image: str, user: tuple[int, int]) -> dict[str, Any]:
    """`torchenv monitor serve` in the training image, seeing every GPU (NVML's "utility"
    capability only) and the host's processes."""
    uid, gid = user
    port = ms.EXPORTER_PORT
    service: dict[str, Any] = {
        "image": _literal(image),
        "command": ms.exporter_args(),
        "user": f"{uid}:{gid}",  # the image's user, whose training processes it labels
        "pid": "host",
        "environment": dict(ms.EXPORTER_ENV),
        "ports": [f"127.0.0.1:{port}:{port}"],
        "read_only": True,
        "tmpfs": ["/tmp"],
        # the image's HEALTHCHECK verifies the environment (torch, CUDA): here, the metrics
        "healthcheck": {
            "test": ["CMD", *ms.HEALTH],
            "interval": "30s",
            "timeout": "15s",
            "start_period": "30s",
            "retries": 3,
        },
        "deploy": _gpus("all"),
    }
    return _hardened(service)


def _prometheus() -> dict[str, Any]:
    port = ms.PROMETHEUS_PORT
    service: dict[str, Any] = {
        "image": ms.PROMETHEUS_IMAGE,
        "command": [
            f"--config.file={ms.PROMETHEUS_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
        ],
        "ports": [f"127.0.0.1:{port}:{port}"],
        "volumes": [
            _bind("./prometheus", ms.PROMETHEUS_DIR, read_only=True),
            {"type": "volume", "source": "prometheus-data", "target": "/prometheus"},
        ],
        "read_only": True,
        "depends_on": ["exporter"],
    }
    return _hardened(service)


def _grafana() -> dict[str, Any]:
    port = ms.GRAFANA_PORT
    provisioning = "/etc/grafana/provisioning"
    service: dict[str, Any] = {
        "image": ms.GRAFANA_IMAGE,
        "ports": [f"127.0.0.1:{port}:{port}"],
        "environment": {
            # Grafana reads a setting's value from a file named by <VARIABLE>__FILE
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"/run/secrets/{ms.GRAFANA_SECRET}",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
        },
        "secrets": [ms.GRAFANA_SECRET],
        "volumes": [
            _bind(
                "./grafana/provisioning/datasources",
                f"{provisioning}/datasources",
                read_only=True,
            ),
            _bind(
                "./grafana/provisioning/dashboards", f"{provisioning}/dashboards", read_only=True
            ),
            _bind("./grafana/dashboards", ms.GRAFANA_DASHBOARDS, read_only=True),
            {"type": "volume", "source": "grafana-data", "target": "/var/lib/grafana"},
        ],
        "depends_on": ["prometheus"],
    }
    return _hardened(service)


def _exporter_header() -> str:
    port = ms.EXPORTER_PORT
    return (
        f"\nexporter: torchenv monitor serve in the same image, http://127.0.0.1:{port}/metrics,\n"
        "with every GPU and the host's PID namespace (pid: host), read-only, as the image's user.\n"
        "`docker compose up --exit-code-from train` stops it when the training ends."
    )


def _monitoring_header() -> str:
    secret = ms.GRAFANA_PASSWORD_FILE
    return (
        f"\nPrometheus: http://127.0.0.1:{ms.PROMETHEUS_PORT} (prometheus/: the scrape config, "
        "the alert rules).\n"
        f"Grafana: http://127.0.0.1:{ms.GRAFANA_PORT}, user admin, anonymous access off, the "
        "dashboard from grafana/.\n"
        f"Its admin password is read from {secret}, which torchenv never\n"
        "writes (and carries over when it writes this directory again). Make it first:\n"
        "  mkdir -p -m 700 secrets\n"
        f"  (umask 022 && openssl rand -base64 24 > {secret})\n"
        "Grafana's user in its container (uid 472) reads the file through the mount; the 0700\n"
        "directory keeps the other users of this machine out.\n"
        "From another machine, reach the ports through an SSH tunnel (ssh -L 3000:127.0.0.1:3000)."
    )


def _project(name: str, role: str) -> str:
    """Compose project names are lowercase letters, digits, '-' and '_' (compose-spec); the
    role keeps the dev and training projects apart (one's `down` would stop the other's
    containers as orphans)."""
    allowed = string.ascii_lowercase + string.digits + "-_"
    cleaned = "".join(c if c in allowed else "-" for c in f"{name}-{role}".lower())
    return cleaned.strip("-_") or "torchenv"
