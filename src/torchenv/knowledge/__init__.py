"""Packaged, versioned compatibility data (each record with its source) and typed queries."""

from __future__ import annotations

from torchenv.knowledge.store import KnowledgeBase, load_knowledge

__all__ = ["KnowledgeBase", "load_knowledge"]
