"""On-demand feature views the warehouse and online suites share: SQL expressions and Feast's
pandas and python functions over one view and one request field, with nulls and zero divisors."""

from __future__ import annotations

import pandas as pd

from sqlfeat import Field, OnDemandFeatureView, RequestSource, on_demand_feature_view
from sqlfeat.types import Float64, Int64

request = RequestSource(name="request", schema=[Field(name="bonus", dtype=Int64)])
SCALE = 10


def sql_view(source) -> OnDemandFeatureView:
    return OnDemandFeatureView(name="ratios", sources=[source, request], schema=[
        Field(name="ctr", dtype=Float64, expression="clicks / impressions"),
        Field(name="half", dtype=Float64, expression="clicks / 2"),
        Field(name="ctr_safe", dtype=Float64, expression="clicks / NULLIF(impressions, 0)"),
        Field(name="plus", dtype=Int64, expression="clicks + bonus"),
        Field(name="scaled", dtype=Float64, expression="COALESCE(impressions, 0) * 1.5 + bonus"),
    ])  # fmt: skip


def pandas_view(source) -> OnDemandFeatureView:
    @on_demand_feature_view(sources=[source, request], schema=[Field(name="ctr_pd", dtype=Float64),
                                                               Field(name="plus_pd", dtype=Int64)])  # fmt: skip
    def pandas_ratios(inputs: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame()
        out["ctr_pd"] = inputs["clicks"].astype("float64") / inputs["impressions"].astype("float64").replace(0, float("nan"))
        out["plus_pd"] = inputs["clicks"] + inputs["bonus"] * SCALE // SCALE
        return out

    return pandas_ratios


def python_view(source) -> OnDemandFeatureView:
    @on_demand_feature_view(sources=[source, request], schema=[Field(name="plus_py", dtype=Int64)], mode="python")
    def python_plus(inputs: dict) -> dict:
        pairs = zip(inputs["clicks"], inputs["bonus"])
        return {"plus_py": [None if c is None or b is None else c + b for c, b in pairs]}

    return python_plus


FEATURES = ["ratios:ctr", "ratios:half", "ratios:ctr_safe", "ratios:plus", "ratios:scaled",
            "pandas_ratios:ctr_pd", "pandas_ratios:plus_pd", "python_plus:plus_py"]  # fmt: skip
