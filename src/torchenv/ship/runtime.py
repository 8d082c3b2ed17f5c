"""The files that run inside the image: the entrypoint, Jupyter Server's configuration and sshd's.

Secrets are never part of the image. The Jupyter token (or a password hash) is read when the
server starts, from the environment or from a file that compose and Kubernetes mount under
/run/secrets. SSH host keys are made by the entrypoint at the container's first start (keys
baked into a layer are the same in every container and readable by anyone with the image:
atmoz/sftp#32), and the user's public keys are mounted at run time.

sshd runs as the image's user: no root in the container. A non-root sshd can only let in the
user it runs as; that is the point. It listens on a port above 1024 for the same reason.
"""

from __future__ import annotations

from torchenv.ship.condaimage import ACTIVATE
from torchenv.ship.dockerfile import ENV_PREFIX, JUPYTER_PORT, SSH_PORT, SSH_STATE, WORKSPACE

JUPYTER_CONFIG = "/etc/torchenv/jupyter_server_config.py"
SSHD_CONFIG = "/etc/torchenv/sshd_config"
# where compose and Kubernetes mount secrets: paths, not the secrets
TOKEN_SECRET = "/run/secrets/jupyter_token"  # noqa: S105
KEYS_SECRET = "/run/secrets/authorized_keys"  # noqa: S105
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def render_entrypoint() -> str:
    return f"""#!/bin/bash
# Entrypoint of the torchenv image: tini (PID 1) starts it as the image's user.
# It starts sshd when the image has it and a public key is mounted, then runs the command.

# a conda image's activation (activate.d scripts of its packages), in bash as `conda activate`
# runs them, and before `set -u`: they are written for shells that allow unset variables
if [ -r {ACTIVATE} ]; then
    # shellcheck source=/dev/null
    . {ACTIVATE}
fi
set -eu

start_sshd() {{
    if [ ! -s "$HOME/.ssh/authorized_keys" ] && [ ! -s {KEYS_SECRET} ]; then
        echo "torchenv: sshd not started: mount a public key at $HOME/.ssh/authorized_keys" \\
            "or {KEYS_SECRET}" >&2
        return 0
    fi
    # host keys are made at the first start of each container, never stored in the image;
    # SSH is an extra: when it cannot start, the container's command still runs
    if [ ! -f {SSH_STATE}/ssh_host_ed25519_key ] &&
        ! ssh-keygen -q -t ed25519 -N '' -f {SSH_STATE}/ssh_host_ed25519_key; then
        echo "torchenv: sshd not started: cannot write host keys to {SSH_STATE}" \\
            "(the container runs as uid $(id -u), the image's user is another)" >&2
        return 0
    fi
    if /usr/sbin/sshd -f {SSHD_CONFIG}; then
        echo "torchenv: sshd listens on port {SSH_PORT} (public keys only)" >&2
    else
        echo "torchenv: sshd did not start (see above)" >&2
    fi
}}

if [ -f {SSHD_CONFIG} ] && [ "${{TORCHENV_SSH:-1}}" != 0 ]; then
    start_sshd
fi

case "${{1:-}}" in
    jupyter-lab)
        shift
        exec jupyter lab --config={JUPYTER_CONFIG} "$@"
        ;;
esac
exec "$@"
"""


def render_jupyter_config() -> str:
    return f'''"""Jupyter Server settings of the torchenv image (written by torchenv).

Authentication is always on. The token is read when the server starts, never stored in the
image: from JUPYTER_TOKEN, or from the file named by JUPYTER_TOKEN_FILE (default
{TOKEN_SECRET}, where compose and Kubernetes mount secrets). A password works the same way
as a hash (`python -c "from jupyter_server.auth import passwd; print(passwd())"`) in
JUPYTER_PASSWORD_HASH or JUPYTER_PASSWORD_HASH_FILE. With none of them Jupyter makes a random
token and prints it in the log. An empty token would turn authentication off, so it is refused.
"""

import os

c = get_config()  # noqa: F821 - defined by Jupyter when it loads this file

# all interfaces inside the container; the compose file torchenv writes publishes the port on
# 127.0.0.1 only (reach it from elsewhere through an SSH tunnel)
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = {JUPYTER_PORT}
c.ServerApp.open_browser = False
c.ServerApp.allow_root = False
c.ServerApp.root_dir = "{WORKSPACE}"


def _secret(name, default_file=None):
    """The value of $NAME, else the content of the file $NAME_FILE (or default_file)."""
    if name in os.environ:
        value = os.environ[name]
    else:
        path = os.environ.get(name + "_FILE", default_file)
        if not path or not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise SystemExit(
                f"torchenv: cannot read {{path}} ({{exc.strerror}}): the secret must be readable "
                f"by uid {{os.getuid()}}, the user Jupyter runs as."
            ) from None
    if not value:
        raise SystemExit(
            f"torchenv: {{name}} is empty, which would turn authentication off: "
            "set a token (for example `openssl rand -hex 32`), or unset it for a random one."
        )
    return value


_hash = _secret("JUPYTER_PASSWORD_HASH")
if _hash is not None:
    c.PasswordIdentityProvider.hashed_password = _hash
_token = _secret("JUPYTER_TOKEN", "{TOKEN_SECRET}")
if _token is not None:
    c.IdentityProvider.token = _token
'''


def render_sshd_config(
    user: str, state_dir: str = SSH_STATE, port: int = SSH_PORT, *, conda: bool = False
) -> str:
    """Key-only sshd for ``user``. ``state_dir`` and ``port`` are parameters so that a test can
    run this very configuration on a host. ``conda``: the environment is a conda prefix."""
    marker = f"CONDA_PREFIX={ENV_PREFIX}" if conda else f"VIRTUAL_ENV={ENV_PREFIX}"
    return f"""# sshd of the torchenv image (written by torchenv): public keys only, run as {user}.
Port {port}
HostKey {state_dir}/ssh_host_ed25519_key
PidFile {state_dir}/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys {KEYS_SECRET}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
UsePAM no
# Docker's ENV does not reach SSH sessions: the environment is put on their PATH here
SetEnv PATH={ENV_PREFIX}/bin:{SYSTEM_PATH} {marker}
StrictModes yes
X11Forwarding no
PrintMotd no
LogLevel INFO
Subsystem sftp internal-sftp
"""


def render_profile(*, conda: bool = False) -> str:
    """/etc/profile.d/torchenv.sh: login shells (SSH sessions) get the environment on PATH,
    since Debian's /etc/profile sets PATH anew before it reads /etc/profile.d. A conda
    environment is activated (condaimage.py): its activate.d scripts run too."""
    if conda:
        return (
            "# written by torchenv: the conda environment of this image, for login shells\n"
            f"if [ -r {ACTIVATE} ]; then\n    # shellcheck source=/dev/null\n    . {ACTIVATE}\nfi\n"
        )
    return (
        "# written by torchenv: the environment of this image, for login shells\n"
        f"export VIRTUAL_ENV={ENV_PREFIX}\n"
        f'case ":$PATH:" in *":{ENV_PREFIX}/bin:"*) ;;\n'
        f'    *) export PATH="{ENV_PREFIX}/bin:$PATH" ;;\nesac\n'
    )
