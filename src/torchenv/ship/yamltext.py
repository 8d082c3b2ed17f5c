"""YAML text of generated files: a comment header, then the documents in the order written."""

from __future__ import annotations

from typing import Any

import yaml


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases (&id001 / *id001) when one dict appears twice: a reader of the
    file should see every value where it applies."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def yaml_text(header: str, documents: list[dict[str, Any]]) -> str:
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, width=100)
    return comment + body
