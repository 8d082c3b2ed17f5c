"""A stand-in for micromamba (none can be had on these machines: test-environment.md, "conda
without conda"), doing what ``micromamba create --prefix P --relocate-prefix R --file F`` does
with an explicit file: check each package's md5, extract it into P, write R where a package has
its build-prefix placeholder, and record it in P/conda-meta. Run as a script."""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlparse


def main(argv: list[str]) -> int:
    if argv[:1] != ["create"]:
        print(f"fake micromamba: unsupported {argv}", file=sys.stderr)
        return 2
    valued = ("--prefix", "--relocate-prefix", "--file")
    args = {flag: argv[i + 1] for i, flag in enumerate(argv[:-1]) if flag in valued}
    prefix, final = Path(args["--prefix"]), args["--relocate-prefix"]
    lines = Path(args["--file"]).read_text().splitlines()
    if "@EXPLICIT" not in lines:
        print("not an explicit file", file=sys.stderr)
        return 1
    (prefix / "conda-meta").mkdir(parents=True, exist_ok=True)
    for line in lines[lines.index("@EXPLICIT") + 1 :]:
        url, _, md5 = line.partition("#")
        path = Path(urlparse(url).path)
        if hashlib.md5(path.read_bytes()).hexdigest() != md5:  # noqa: S324 - conda's digest
            print(f"md5 mismatch for {path.name}", file=sys.stderr)
            return 1
        with tarfile.open(path, "r:bz2") as tar:
            index = json.load(tar.extractfile("info/index.json"))  # type: ignore[arg-type]
            paths = json.load(tar.extractfile("info/paths.json"))["paths"]  # type: ignore[arg-type]
            for entry in paths:
                data = tar.extractfile(entry["_path"]).read()  # type: ignore[union-attr]
                placeholder = entry.get("prefix_placeholder")
                if placeholder:
                    data = data.replace(placeholder.encode(), final.encode())
                target = prefix / entry["_path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        name = f"{index['name']}-{index['version']}-{index['build']}"
        record = {**index, "files": [e["_path"] for e in paths], "url": url, "md5": md5}
        (prefix / "conda-meta" / f"{name}.json").write_text(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
