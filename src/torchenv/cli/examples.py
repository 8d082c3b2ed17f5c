"""The examples at the end of each command's --help: two or three real invocations, each under
a comment that says what it does. tests/unit/cli/test_help.py parses every example against the
command it belongs to, so an example cannot name an option that does not exist."""

from __future__ import annotations

# command path (as typed after `torchenv`) -> (what it does, the command line)
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "adopt": (
        (
            "write torchenv.toml and a lock for an environment made by hand",
            "torchenv adopt --prefix ~/envs/train",
        ),
        (
            "the same behind a mirror of the PyTorch index",
            "torchenv adopt --prefix .venv --pytorch-index https://mirror.example.cn/whl",
        ),
    ),
    "ci": (
        ("a GitHub Actions workflow: lock check, create, verify", "torchenv ci --to github"),
        (
            "GitLab, with the GPU checks on a self-hosted runner",
            "torchenv ci --to gitlab --gpu-runner gpu-h100",
        ),
    ),
    "create": (
        (
            "build the environment of ./torchenv.toml into .venv, verify it, move it into place",
            "torchenv create",
        ),
        (
            "with conda packages, somewhere else",
            "torchenv create --backend conda --prefix /opt/envs/train",
        ),
    ),
    "db": (
        ("refresh the torch release data from PyPI and the PyTorch index", "torchenv db update"),
        ("read one release's wheels again", "torchenv db update --only 2.13.0 --full"),
    ),
    "db update": (
        ("read what is new since the packaged data", "torchenv db update"),
        (
            "through a PyPI mirror, one release only",
            "torchenv db update --only 2.13.0"
            " --pypi-index https://pypi.tuna.tsinghua.edu.cn/simple",
        ),
    ),
    "deploy": (
        ("docker compose for this machine's GPUs", "torchenv deploy --to compose"),
        (
            "a Kubeflow PyTorchJob on 2 nodes of 8 GPUs",
            "torchenv deploy --to pytorchjob --nodes 2 --gpus-per-node 8"
            " --command 'train.py --epochs 10'",
        ),
        ("compose with Prometheus and Grafana", "torchenv deploy --to compose --monitoring"),
    ),
    "diff": (
        ("what differs between two environments", "torchenv diff .venv ~/envs/old"),
        ("between this machine and a teammate's", "torchenv diff mine.json theirs.json"),
    ),
    "doctor": (
        ("diagnose the active environment (or python3 on PATH)", "torchenv doctor"),
        ("another one, also importing torch in it", "torchenv doctor --prefix ~/envs/train --deep"),
        (
            "what a finding means and how to fix it with each installer",
            "torchenv doctor --explain driver-too-old-for-build",
        ),
    ),
    "export": (
        (
            "requirements.txt with hashes from pylock.toml",
            "torchenv export pylock.toml --format requirements.txt --out requirements.txt",
        ),
        (
            "an environment.yml for conda users",
            "torchenv export --format environment.yml --name train",
        ),
    ),
    "history": (
        ("the generations of .venv", "torchenv history"),
        ("keep the newest three", "torchenv history --prefix .venv --keep 3"),
    ),
    "image": (
        ("a Dockerfile that installs exactly the lock", "torchenv image"),
        (
            "with Jupyter and SSH, built with podman",
            "torchenv image --jupyter --ssh --build --builder podman",
        ),
    ),
    "init": (
        ("a spec for this machine", "torchenv init"),
        (
            "for a fleet of H100s on driver 580, torch 2.13",
            "torchenv init --gpu H100 --driver 580.65 --torch 2.13",
        ),
    ),
    "inspect": (
        ("this machine and the active environment", "torchenv inspect"),
        ("a machine description for planning elsewhere", "torchenv inspect --json > machine.json"),
    ),
    "list": (
        ("the environments torchenv made or adopted", "torchenv list"),
        ("as JSON, for scripts", "torchenv list --json"),
    ),
    "lock": (
        ("pylock.toml for ./torchenv.toml", "torchenv lock"),
        ("the CI gate: is the lock still fresh?", "torchenv lock --check"),
    ),
    "matrix": (
        ("which CUDA variants each torch release has", "torchenv matrix --torch '>=2.8'"),
        ("compare the packaged data with the indexes", "torchenv matrix --check --only 2.13.0"),
    ),
    "monitor": (
        ("a Prometheus exporter on 127.0.0.1:9847", "torchenv monitor serve"),
        ("its alerting rules", "torchenv monitor rules --out torchenv-rules.yml"),
    ),
    "monitor serve": (
        ("serve on loopback, reading the GPUs every 5 s", "torchenv monitor serve --interval 5"),
        ("print the metrics once and exit", "torchenv monitor serve --once"),
    ),
    "monitor rules": (
        ("alerting rules for Prometheus", "torchenv monitor rules --out torchenv-rules.yml"),
        ("for an exporter scraped under another job", "torchenv monitor rules --job gpu-nodes"),
    ),
    "monitor dashboard": (
        ("a Grafana dashboard", "torchenv monitor dashboard --out torchenv-dashboard.json"),
        ("for an exporter scraped under another job", "torchenv monitor dashboard --job gpu-nodes"),
    ),
    "plan": (
        ("which build fits this machine", "torchenv plan"),
        (
            "for two H100s on driver 580, torch 2.13",
            "torchenv plan --gpu H100 --gpu H100 --driver 580.65 --torch 2.13",
        ),
        ("for a machine described by `inspect --json`", "torchenv plan --for machine.json"),
    ),
    "rollback": (
        ("back to the generation before the last upgrade", "torchenv rollback"),
        ("to generation 2, without asking", "torchenv rollback --to 2 --yes"),
    ),
    "run": (
        ("a script in the environment of .venv", "torchenv run --prefix .venv -- python train.py"),
        (
            "record the CUDA allocator's history",
            "torchenv run --memory-snapshot snapshots -- python train.py",
        ),
    ),
    "upgrade": (
        ("see what an upgrade to the edited spec would change", "torchenv upgrade --dry-run"),
        ("upgrade side by side, verify, switch", "torchenv upgrade --yes"),
    ),
    "verify": (
        ("prove the active environment works, on the GPUs too", "torchenv verify"),
        ("the fast checks, for a container HEALTHCHECK", "torchenv verify --quick"),
        ("a JUnit report for CI", "torchenv verify --prefix .venv --junit verify.xml"),
    ),
}


def examples(command: str) -> str:
    """The epilog of ``command``'s help; ``\\b`` keeps click from rewrapping the lines."""
    lines = ["\b", "Examples:"]
    for what, line in EXAMPLES[command]:
        lines += [f"  # {what}", f"  {line}"]
    return "\n".join(lines)
