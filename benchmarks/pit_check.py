"""Correctness check of benchmarks/pit.py: two PIT results compared value by value.

Results come from different engines and fetch paths (DuckDB ``.df()``, sqlfeat's Arrow-to-pandas,
psycopg rows), so columns are normalised first: nulls of any kind are equal, numbers and booleans
compare as float64 with a relative tolerance of 1e-6, timestamps as UTC instants.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pit_data import FEATURE_NAMES, SPINE_COLUMNS


def _norm(col: pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    """(null mask, values, kind) of a column, in a form comparable across dtypes/backends."""
    na = col.isna().to_numpy()
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        s = pd.to_datetime(col, utc=True)
        return na, s.dt.tz_convert(None).to_numpy("datetime64[ns]").view("int64"), "time"
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return na, col.astype("float64").to_numpy(na_value=np.nan), "num"
    values = col.astype(object).to_numpy()
    present = values[~na]
    if len(present) and all(isinstance(x, (bool, int, float, np.bool_, np.number)) for x in present):
        out = np.full(len(values), np.nan)
        out[~na] = present.astype("float64")
        return na, out, "num"
    if len(present) and all(isinstance(x, (dt.datetime, np.datetime64)) for x in present):
        return _norm(pd.Series(pd.to_datetime(values, utc=True)))
    return na, values, "obj"


def compare(got: pd.DataFrame, exp: pd.DataFrame, what: str, ref: str = "ASOF") -> tuple[bool, list[str], list[str]]:
    """Value-by-value comparison of ``got`` against ``exp`` (the reference result, named ``ref``
    in messages) after sorting both by the spine columns.  Returns (ok, problems, dtype notes)."""
    notes: list[str] = []
    dtypes: list[str] = []
    missing = [c for c in SPINE_COLUMNS + FEATURE_NAMES if c not in got.columns]
    if missing:
        return False, [f"{what}: missing columns {missing}; has {list(got.columns)}"], []
    if len(got) != len(exp):
        return False, [f"{what}: {len(got)} rows, expected {len(exp)}"], []

    def sort(df: pd.DataFrame) -> pd.DataFrame:
        keys = [_norm(df[c])[1] for c in SPINE_COLUMNS]
        return df.iloc[np.lexsort(keys[::-1])].reset_index(drop=True)

    g, e = sort(got), sort(exp)
    ok = True
    for c in SPINE_COLUMNS + FEATURE_NAMES:
        gn, gv, gk = _norm(g[c])
        en, ev, ek = _norm(e[c])
        if str(g[c].dtype) != str(e[c].dtype):
            dtypes.append(f"{c} {g[c].dtype} ({ref} {e[c].dtype})")
        bad = gn != en
        both = ~gn & ~en
        if gk == ek == "num":
            bad |= both & ~np.isclose(gv, ev, rtol=1e-6, atol=0, equal_nan=True)
        elif gk == ek:
            bad |= both & (gv != ev)
        else:
            bad |= both  # different kinds (e.g. str vs number): only equal where both are null
        n_bad = int(bad.sum())
        if n_bad:
            ok = False
            i = int(np.flatnonzero(bad)[0])
            row = {k: e.at[i, k] for k in SPINE_COLUMNS}
            notes.append(
                f"{what}: {n_bad} of {len(e)} rows differ in {c!r}; e.g. {row}: got {g.at[i, c]!r}, {ref} {e.at[i, c]!r}"
            )
    return ok, notes, dtypes
