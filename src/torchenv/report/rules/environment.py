"""Rules on the environment itself: its interpreter, metadata and Jupyter kernels
(failure catalog family I, and bad input that must become findings)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator

from torchenv.i18n import N_, Msg
from torchenv.models import Severity
from torchenv.report import fixes
from torchenv.report.rules.base import Facts, Hit, rule

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_INSTALLERS = {"pip": "pip", "uv": "uv", "conda": "conda", "uv-pixi": "pixi"}


@rule(
    "interpreter-does-not-run",
    ERROR,
    N_("The environment's Python interpreter cannot be started"),
)
def interpreter_does_not_run(f: Facts) -> Iterator[Hit]:
    interp = f.environment.interpreter
    if interp.runs:
        return
    yield Hit(
        Msg(
            "the interpreter of {prefix} does not run; facts were read from its files",
            prefix=f.environment.prefix,
        ),
        tuple(f"{n.source}: {n.message}" for n in interp.notes)
        or (Msg("no python executable under {prefix}", prefix=f.environment.prefix),),
        (Msg("recreate the environment (its base Python may have been removed or upgraded)"),),
    )


@rule("torch-not-installed", INFO, N_("torch is not installed in this environment"))
def torch_not_installed(f: Facts) -> Iterator[Hit]:
    env = f.environment
    conda_torch = env.conda is not None and any(
        r.name in ("pytorch", "pytorch-gpu", "pytorch-cpu") for r in env.conda.records
    )
    if env.torch is None and env.distribution("torch") is None and not conda_torch:
        dirs = ", ".join(env.site_dirs) if env.site_dirs else Msg("(no site dirs)")
        yield Hit(
            Msg("torch is not installed in {prefix}", prefix=env.prefix),
            (Msg("no torch package on sys.path: {dirs}", dirs=dirs),),
            (),
        )


@rule(
    "metadata-unreadable",
    WARNING,
    N_("A distribution's metadata is missing or malformed; installers cannot manage it"),
)
def metadata_unreadable(f: Facts) -> Iterator[Hit]:
    broken = [d for d in f.environment.distributions if d.error]
    if broken:
        yield Hit(
            Msg("{count} installed distribution(s) have broken metadata", count=len(broken)),
            tuple(f"{d.metadata_dir}: {d.error}" for d in broken),
            tuple(
                " ".join(
                    fixes.install(
                        f.environment,
                        [f"{d.name}=={d.version}" if d.version else d.name],
                        reinstall=True,
                        installer=_INSTALLERS.get(d.installer or ""),
                    )
                )
                for d in broken
            ),
        )


def _env_name(prefix: str) -> str:
    return os.path.basename(prefix.rstrip("/")) or prefix


# Directory names too common to tell which environment a kernel was made for.
_GENERIC_NAMES = frozenset({"venv", ".venv", "env", ".env", "base", "python", "python3", "default"})


def _names_environment(kernel: str, display: str | None, env_name: str) -> bool:
    if env_name in _GENERIC_NAMES:
        return False
    words = re.findall(r"[\w.-]+", f"{kernel} {display or ''}".lower())
    return env_name in words


@rule(
    "jupyter-kernel-foreign-interpreter",
    WARNING,
    N_("A Jupyter kernel meant for this environment runs another interpreter"),
    catalog="I1",
)
def kernel_foreign(f: Facts) -> Iterator[Hit]:
    env = f.environment
    name = _env_name(env.prefix).lower()
    for spec in env.kernels:
        if spec.in_environment is not False:
            continue
        if spec.scope != "env" and not _names_environment(spec.name, spec.display_name, name):
            continue
        yield Hit(
            Msg(
                "Jupyter kernel {kernel} runs {interpreter}, not this environment's Python: "
                "notebooks using it will not see this environment's packages",
                kernel=repr(spec.display_name or spec.name),
                interpreter=spec.argv0,
            ),
            (
                f"{spec.path}: argv[0] = {spec.argv0}",
                Msg("environment: {prefix}", prefix=env.prefix),
            ),
            (
                f"{env.interpreter.executable or 'python'} -m pip install ipykernel && "
                f"{env.interpreter.executable or 'python'} -m ipykernel install --user "
                f"--name {_env_name(env.prefix)} --display-name 'Python ({_env_name(env.prefix)})'",
            ),
        )


@rule(
    "jupyter-kernel-missing-interpreter",
    WARNING,
    N_("A Jupyter kernel points at an interpreter that no longer exists"),
    catalog="I1",
)
def kernel_missing(f: Facts) -> Iterator[Hit]:
    for spec in f.environment.kernels:
        if spec.interpreter_exists is False or spec.error:
            why = spec.error or Msg("{interpreter} does not exist", interpreter=spec.argv0)
            yield Hit(
                Msg(
                    "Jupyter kernel {kernel} cannot start: {reason}",
                    kernel=repr(spec.display_name or spec.name),
                    reason=why,
                ),
                (f"{spec.path}",),
                (
                    Msg(
                        "{command}, then reinstall it from a working environment with "
                        "`python -m ipykernel install --user`",
                        command="jupyter kernelspec remove " + spec.name,
                    ),
                ),
            )


def _host_port(address: str, port: int | None) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _reaches_only_this_machine(address: str) -> bool:
    text = address.strip("[]").lower()
    if text in ("localhost", "ip6-localhost"):
        return True
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False  # a host name: whatever it resolves to, not provably loopback
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


@rule(
    "jupyter-server-without-auth",
    ERROR,
    N_("A running Jupyter server asks for no token and no password"),
    catalog="I3",
)
def jupyter_without_auth(f: Facts) -> Iterator[Hit]:
    for server in f.machine.jupyter_servers:
        # an empty token alone is not enough: a password set by `jupyter server password`
        # leaves it empty too. The server's own process was seen listening and was asked
        # (probe/jupyter_servers.py); a file alone is never enough.
        if not server.running or not server.answers_without_auth or not server.listening:
            continue
        # the sockets say where it listens; the file's hostname is "localhost" for --ip='*'
        exposed = [a for a in server.listening if not _reaches_only_this_machine(a)]
        where = ", ".join(_host_port(a, server.port) for a in (exposed or server.listening))
        if exposed:
            title = Msg(
                "The Jupyter server on {where} asks for no token and no password: anyone who "
                "can reach the port can run code as this user",
                where=where,
            )
        else:
            title = Msg(
                "The Jupyter server on {where} asks for no token and no password: every user "
                "and program on this machine can run code as this user",
                where=where,
            )
        # the classic notebook (nbserver-PID.json) has its own stop command
        app = "notebook" if os.path.basename(server.runtime_file).startswith("nb") else "server"
        yield Hit(
            title,
            (
                Msg("{file}: token empty, no password", file=server.runtime_file),
                Msg("listening on {where} (/proc/net/tcp)", where=where),
                Msg(
                    "GET {path} without credentials: 200",
                    path=f"{server.base_url.rstrip('/')}/api/status",
                ),
            ),
            (
                Msg(
                    "stop it (`jupyter {app} stop {port}`) and start it without "
                    "`--IdentityProvider.token=''` / `--ServerApp.token=''` / "
                    "`--NotebookApp.token=''`: Jupyter then makes a random token; or set a "
                    "password with `jupyter {app} password`",
                    app=app,
                    port=server.port or "PORT",
                ),
                Msg(
                    "listen on 127.0.0.1 and reach it through SSH: `ssh -L {port}:localhost:"
                    "{port} HOST`",
                    port=server.port or 8888,
                ),
            ),
            severity=ERROR if exposed else WARNING,
        )
