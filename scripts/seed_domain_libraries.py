"""Write src/torchenv/knowledge/data/domain_libraries.json from the reference compat matrix.

Run by hand when shared/reference/compat-matrix.json changes:
    python scripts/seed_domain_libraries.py [path/to/compat-matrix.json]
Each torchvision/torchaudio release: its torch requirement, Requires-Python, yank state and the
CPython versions it has wheels for per platform (S1: PyPI file lists; S2: METADATA).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
DEFAULT = ROOT.parent / "shared" / "reference" / "compat-matrix.json"
OUT = ROOT / "src" / "torchenv" / "knowledge" / "data" / "domain_libraries.json"
PLATFORMS = ("linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64")


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    matrix = json.loads(source.read_text("utf-8"))
    rows = []
    for library in ("torchvision", "torchaudio"):
        for version, facts in matrix["domain_libraries"][library].items():
            python = {
                p: [v for v in facts[f"{p}_python"] if v != "py3-none"]
                for p in PLATFORMS
                if facts.get(f"{p}_python")
            }
            stable_abi = bool(facts.get("any_python")) or any(
                "py3-none" in (facts.get(f"{p}_python") or []) for p in PLATFORMS
            )
            rows.append(
                {
                    "library": library,
                    "version": version,
                    "requires_torch": facts.get("requires_torch"),
                    "requires_python": facts.get("requires_python"),
                    "yanked": bool(facts.get("yanked")),
                    "python": python,
                    # a py3-none wheel (stable ABI) installs on every CPython 3
                    "any_python": stable_abi,
                    "source": "S1,S2",
                }
            )
    doc = {
        "schema": "torchenv.knowledge.domain-libraries/1",
        "retrieved": matrix.get("retrieved", ""),
        "libraries": rows,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")
    print(f"wrote {OUT} ({len(rows)} releases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
