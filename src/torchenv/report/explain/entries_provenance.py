"""Explanations of the rules on environments built by ``torchenv create``: the record it writes,
and the spec, lock and packages compared with it (rules/provenance.py; failure catalog D4)."""

from __future__ import annotations

from torchenv.i18n import N_
from torchenv.report.explain.model import RuleExplanation, catalog, issue

ENTRIES = (
    RuleExplanation(
        id="env-record-unreadable",
        meaning=N_(
            "The environment has a `<prefix>/torchenv-env.json` record, written by `torchenv "
            "create`, but torchenv cannot use it: the file is unreadable, is not valid JSON, or a "
            "field has the wrong type. Without it, torchenv cannot tell whether the environment "
            "still matches the spec and lock it was built from."
        ),
        detection=N_(
            "Reads `<prefix>/torchenv-env.json` (size-limited, regular files only) and parses it "
            "into torchenv's record model; a field of the wrong type makes the whole record "
            "unusable. The finding names the file and the reason. An environment without a record "
            "is not reported. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "Rebuild the environment, which writes a new record: `torchenv create <spec> "
                    "--prefix <prefix> --force` (or `torchenv create --prefix <prefix> --force`)."
                ),
            ),
        ),
        sources=(catalog("D4"),),
    ),
    RuleExplanation(
        id="env-spec-changed",
        meaning=N_(
            "The spec file this environment was built from changed after `torchenv create` ran. "
            "The environment still holds what the old spec asked for. Rebuild it to match the spec "
            "again; if the change was a mistake, revert the spec instead."
        ),
        detection=N_(
            "Reads the spec path and the spec hash stored in `<prefix>/torchenv-env.json`, loads "
            "the spec file now and hashes it the same way. A different hash is reported. When the "
            "spec cannot be read now, this rule stays silent. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`torchenv lock <spec>` to resolve the spec again, then `torchenv create "
                    "<spec> --prefix <prefix> --force`."
                ),
            ),
        ),
        sources=(catalog("D4"),),
    ),
    RuleExplanation(
        id="env-lock-changed",
        meaning=N_(
            "The lock file named in the environment's record is not the one the environment was "
            "installed from: its content changed. The environment and the lock now describe "
            "different package sets, so installing from this lock gives another environment."
        ),
        detection=N_(
            "Compares the sha256 of the lock file's content now with the sha256 stored in "
            "`<prefix>/torchenv-env.json` when the environment was created. A lock file that no "
            "longer exists is not reported by this rule. `--deep` is not needed."
        ),
        fixes=(
            (
                "any",
                N_(
                    "`torchenv create --prefix <prefix> --force` reinstalls from the current lock. "
                    "If the lock changed by mistake, restore it from version control instead."
                ),
            ),
        ),
        sources=(catalog("D4"),),
    ),
    RuleExplanation(
        id="env-drifted-from-lock",
        meaning=N_(
            "Packages in the environment differ from the lock it was built from: some are missing, "
            "have other versions, or were added. Usually someone ran `pip install` or `uv pip "
            "install` in the environment later. Such an install can also replace torch with "
            "another build, e.g. a CPU or other-CUDA wheel pulled in by a package that requires "
            "`torch`."
        ),
        detection=N_(
            "Compares the package versions recorded in `<prefix>/torchenv-env.json` with every "
            "installed distribution (names normalized; `2.13` equals `2.13.0`, local labels such "
            "as `+cu126` must match). pip, setuptools and wheel are not counted as added packages. "
            "The evidence lists the first 8 differences. `--deep` is not needed."
        ),
        fixes=(
            (
                "uv",
                N_(
                    "Make the environment match the lock exactly: `uv pip sync <lock> --python "
                    "<prefix>/bin/python` (it also removes packages the lock does not list)."
                ),
            ),
            (
                "any",
                N_(
                    "Or rebuild: `torchenv create --prefix <prefix> --force`. If the new packages "
                    "are wanted, add them to the spec, then run `torchenv lock` and `torchenv "
                    "create` again."
                ),
            ),
        ),
        sources=(catalog("D4"), issue("pytorch/pytorch", 21477)),
    ),
)
