"""The planner: pure (machine facts, request, knowledge) -> plan, with every rejection explained."""

from __future__ import annotations

from torchenv.plan.planner import make_plan

__all__ = ["make_plan"]
