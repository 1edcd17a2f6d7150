"""The join keys of a spine checked against the views that read them: per key, the type each view
compares it with, and which integer keys are uploaded as text."""

from __future__ import annotations

from sqlfeat.compiler import RetrievalPlan
from sqlfeat.errors import EntityDataFrameError
from sqlfeat.types import Family, column_family


def key_types(plan: RetrievalPlan, source_types: dict[str, dict]) -> dict[str, list[tuple[str, Family, str]]]:
    """Per join key, what each view compares it with: (view, family, type in words). A key whose
    dtype casts keys (String) compares as that dtype; any other as its source column's type."""
    found: dict[str, list[tuple[str, Family, str]]] = {}
    for request in plan.views:
        columns = source_types[request.view.source.name]
        for key, dtype in zip(request.join_keys, request.key_dtypes):
            if dtype is not None and dtype.casts_key:
                found.setdefault(key, []).append((request.name, dtype.family, f"{dtype.name} (compared as text)"))
                continue
            source_type = columns.get(request.source_key(key))
            if source_type is not None:
                found.setdefault(key, []).append((request.name, column_family(source_type), source_type.sql("duckdb")))
    return found


def check_key_types(spine_types: dict, expected: dict[str, list[tuple[str, Family, str]]]) -> None:
    for key, views in expected.items():
        if key not in spine_types:
            continue
        for view, family, said in views:
            if column_family(spine_types[key]) is not family:
                raise EntityDataFrameError(
                    f"entity_df column {key!r} is {spine_types[key].sql('duckdb')} but feature view "
                    f"{view!r} keys it as {said}; cast the column to match"
                )


def text_keys(spine_types: dict, expected: dict[str, list[tuple[str, Family, str]]]) -> tuple[str, ...]:
    """DataFrame key columns of integers that every view compares as text: uploaded as text (the
    decimal digits, as the warehouse casts the source's integers)."""
    return tuple(
        key for key, views in expected.items()
        if key in spine_types and column_family(spine_types[key]) is Family.INTEGER
        and all(family is Family.STRING for _, family, _ in views)
    )  # fmt: skip
