"""`torchenv matrix`: the knowledge base as one row per torch release, newest first."""

from __future__ import annotations

from torchenv.knowledge import KnowledgeBase, load_knowledge
from torchenv.knowledge.store import load_sources, source_ids
from torchenv.models.compat import TorchRelease
from torchenv.models.matrix import MATRIX_SCHEMA, MatrixReport, MatrixRow, SourceRef
from torchenv.plan.request import parse_torch, release_matches

PLATFORM = "linux_x86_64"  # the columns describe the Linux x86_64 wheels, the richest data


def _row(kb: KnowledgeBase, release: TorchRelease) -> MatrixRow:
    build = release.default_build
    cuda = build.cuda if build else None
    requirement = kb.driver_requirement(cuda) if cuda else None
    verified, index_source = kb.index_provenance(release.version, PLATFORM)
    cited = [release.source, index_source, requirement.source if requirement else ""]
    return MatrixRow(
        torch=release.version,
        released=release.released,
        yanked=release.yanked,
        python=release.python.get(PLATFORM, ()),
        pypi_variant=release.pypi_default.get(PLATFORM),
        cuda=cuda,
        archs=build.archs if build else (),
        driver_floor=requirement.hard_floor if requirement else None,
        index_variants=kb.platform_variants(release.version, PLATFORM),
        index_verified=verified,
        torchvision=release.torchvision,
        torchaudio=release.torchaudio,
        notes=release.notes,
        source=",".join(source_ids(" ".join(cited))),
    )


def run_matrix(torch_spec: str | None = None, kb: KnowledgeBase | None = None) -> MatrixReport:
    """Rows for the releases ``torch_spec`` admits, all when None. It is read as ``plan --torch``
    reads it (``parse_torch``): "2.12" is any 2.12.x, "2.12.0" that release, otherwise a PEP 440
    specifier, "torch>=2.14" too; a local label ("2.13.0+cu126") selects its release, since a
    row lists every variant. Raises UsageError when the value is malformed."""
    spec, _ = parse_torch(torch_spec)
    kb = kb or load_knowledge()
    releases = [r for r in kb.torch_releases() if release_matches(spec, r.version)]
    rows = tuple(_row(kb, release) for release in reversed(releases))
    known = load_sources()
    cited = sorted(
        {sid for row in rows for sid in row.source.split(",") if sid},
        key=lambda sid: (sid[0] != "S", int("".join(c for c in sid if c.isdigit()) or 0), sid),
    )
    sources = tuple(
        SourceRef(sid, known[sid]["what"], known[sid].get("url"), known[sid].get("retrieved"))
        for sid in cited
        if sid in known
    )
    return MatrixReport(MATRIX_SCHEMA, torch_spec, rows, kb.describe_origin(), sources)
