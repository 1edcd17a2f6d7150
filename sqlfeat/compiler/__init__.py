"""The compiler: feature references -> a retrieval plan -> one dialect-neutral sqlglot query.

Nothing here connects to anything; a warehouse's dialect object decides the strategy (ASOF JOIN or
window + QUALIFY) and how the AST is rendered.
"""

from __future__ import annotations

from sqlfeat.compiler.pit import compile_point_in_time
from sqlfeat.compiler.plan import RetrievalPlan, Spine, ViewRequest, plan_retrieval, plan_view

__all__ = ["RetrievalPlan", "Spine", "ViewRequest", "compile_point_in_time", "plan_retrieval", "plan_view"]
