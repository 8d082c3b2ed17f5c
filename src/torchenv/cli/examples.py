"""The examples at the end of each command's --help: two or three real invocations, each under
a comment that says what it does. tests/unit/cli/test_help.py parses every example against the
command it belongs to, so an example cannot name an option that does not exist.

What an example does is translated (marked with N_ here, translated when the help is made);
the command lines never are."""

from __future__ import annotations

from torchenv.i18n import N_, _

# command path (as typed after `torchenv`) -> (what it does, the command line)
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "adopt": (
        (
            N_("write torchenv.toml and a lock for an environment made by hand"),
            "torchenv adopt --prefix ~/envs/train",
        ),
        (
            N_("the same behind a mirror of the PyTorch index"),
            "torchenv adopt --prefix .venv --pytorch-index https://mirror.example.cn/whl",
        ),
    ),
    "ci": (
        (N_("a GitHub Actions workflow: lock check, create, verify"), "torchenv ci --to github"),
        (
            N_("GitLab, with the GPU checks on a self-hosted runner"),
            "torchenv ci --to gitlab --gpu-runner gpu-h100",
        ),
    ),
    "create": (
        (
            N_(
                "build the environment of ./torchenv.toml into .venv, verify it, move it into place"
            ),
            "torchenv create",
        ),
        (
            N_("with conda packages, somewhere else"),
            "torchenv create --backend conda --prefix /opt/envs/train",
        ),
    ),
    "db": (
        (
            N_("refresh the torch release data from PyPI and the PyTorch index"),
            "torchenv db update",
        ),
        (N_("read one release's wheels again"), "torchenv db update --only 2.13.0 --full"),
    ),
    "db update": (
        (N_("read what is new since the packaged data"), "torchenv db update"),
        (
            N_("through a PyPI mirror, one release only"),
            "torchenv db update --only 2.13.0"
            " --pypi-index https://pypi.tuna.tsinghua.edu.cn/simple",
        ),
    ),
    "deploy": (
        (N_("docker compose for this machine's GPUs"), "torchenv deploy --to compose"),
        (
            N_("a Kubeflow PyTorchJob on 2 nodes of 8 GPUs"),
            "torchenv deploy --to pytorchjob --nodes 2 --gpus-per-node 8"
            " --command 'train.py --epochs 10'",
        ),
        (N_("compose with Prometheus and Grafana"), "torchenv deploy --to compose --monitoring"),
    ),
    "diff": (
        (N_("what differs between two environments"), "torchenv diff .venv ~/envs/old"),
        (N_("between this machine and a teammate's"), "torchenv diff mine.json theirs.json"),
    ),
    "doctor": (
        (N_("diagnose the active environment (or python3 on PATH)"), "torchenv doctor"),
        (
            N_("another one, also importing torch in it"),
            "torchenv doctor --prefix ~/envs/train --deep",
        ),
        (
            N_("what a finding means and how to fix it with each installer"),
            "torchenv doctor --explain driver-too-old-for-build",
        ),
    ),
    "export": (
        (
            N_("requirements.txt with hashes from pylock.toml"),
            "torchenv export pylock.toml --format requirements.txt --out requirements.txt",
        ),
        (
            N_("an environment.yml for conda users"),
            "torchenv export --format environment.yml --name train",
        ),
    ),
    "history": (
        (N_("the generations of .venv"), "torchenv history"),
        (N_("keep the newest three"), "torchenv history --prefix .venv --keep 3"),
    ),
    "image": (
        (N_("a Dockerfile that installs exactly the lock"), "torchenv image"),
        (
            N_("with Jupyter and SSH, built with podman"),
            "torchenv image --jupyter --ssh --build --builder podman",
        ),
    ),
    "init": (
        (N_("a spec for this machine"), "torchenv init"),
        (
            N_("for a fleet of H100s on driver 580, torch 2.13"),
            "torchenv init --gpu H100 --driver 580.65 --torch 2.13",
        ),
    ),
    "inspect": (
        (N_("this machine and the active environment"), "torchenv inspect"),
        (
            N_("a machine description for planning elsewhere"),
            "torchenv inspect --json > machine.json",
        ),
    ),
    "list": (
        (N_("the environments torchenv made or adopted"), "torchenv list"),
        (N_("as JSON, for scripts"), "torchenv list --json"),
    ),
    "lock": (
        (N_("pylock.toml for ./torchenv.toml"), "torchenv lock"),
        (N_("the CI gate: is the lock still fresh?"), "torchenv lock --check"),
    ),
    "matrix": (
        (N_("which CUDA variants each torch release has"), "torchenv matrix --torch '>=2.8'"),
        (N_("compare the packaged data with the indexes"), "torchenv matrix --check --only 2.13.0"),
    ),
    "monitor": (
        (N_("a Prometheus exporter on 127.0.0.1:9847"), "torchenv monitor serve"),
        (N_("its alerting rules"), "torchenv monitor rules --out torchenv-rules.yml"),
    ),
    "monitor serve": (
        (
            N_("serve on loopback, reading the GPUs every 5 s"),
            "torchenv monitor serve --interval 5",
        ),
        (N_("print the metrics once and exit"), "torchenv monitor serve --once"),
    ),
    "monitor rules": (
        (N_("alerting rules for Prometheus"), "torchenv monitor rules --out torchenv-rules.yml"),
        (N_("for an exporter scraped under another job"), "torchenv monitor rules --job gpu-nodes"),
    ),
    "monitor dashboard": (
        (N_("a Grafana dashboard"), "torchenv monitor dashboard --out torchenv-dashboard.json"),
        (
            N_("for an exporter scraped under another job"),
            "torchenv monitor dashboard --job gpu-nodes",
        ),
    ),
    "plan": (
        (N_("which build fits this machine"), "torchenv plan"),
        (
            N_("for two H100s on driver 580, torch 2.13"),
            "torchenv plan --gpu H100 --gpu H100 --driver 580.65 --torch 2.13",
        ),
        (N_("for a machine described by `inspect --json`"), "torchenv plan --for machine.json"),
    ),
    "rollback": (
        (N_("back to the generation before the last upgrade"), "torchenv rollback"),
        (N_("to generation 2, without asking"), "torchenv rollback --to 2 --yes"),
    ),
    "run": (
        (
            N_("a script in the environment of .venv"),
            "torchenv run --prefix .venv -- python train.py",
        ),
        (
            N_("record the CUDA allocator's history"),
            "torchenv run --memory-snapshot snapshots -- python train.py",
        ),
    ),
    "upgrade": (
        (N_("see what an upgrade to the edited spec would change"), "torchenv upgrade --dry-run"),
        (N_("upgrade side by side, verify, switch"), "torchenv upgrade --yes"),
    ),
    "verify": (
        (N_("prove the active environment works, on the GPUs too"), "torchenv verify"),
        (N_("the fast checks, for a container HEALTHCHECK"), "torchenv verify --quick"),
        (N_("a JUnit report for CI"), "torchenv verify --prefix .venv --junit verify.xml"),
    ),
}


def examples(command: str) -> str:
    """The epilog of ``command``'s help; ``\\b`` keeps click from rewrapping the lines."""
    lines = ["\b", _("Examples:")]
    for what, line in EXAMPLES[command]:
        lines += [f"  # {_(what)}", f"  {line}"]
    return "\n".join(lines)


def inline_examples(*commands: str) -> str:
    """A help text's own examples block (command lines only), after its translated text."""
    return "\n\n\b\n" + _("Examples:") + "".join(f"\n  {line}" for line in commands)
