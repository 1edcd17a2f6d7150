"""DuckDB side of benchmarks/pit.py: the sqlfeat repo over the parquet files, the hand-written
DuckDB baselines (ASOF and window form), and ``--explain`` diagnostics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import _common as C
import pandas as pd
from pit_data import FEATURE_REFS, SPINE_COLUMNS, SPINE_TS, VIEWS, Params, ViewSpec

FEATURE_STORE_YAML = """\
project: bench
registry: data/registry.json
offline_store:
  type: duckdb
"""


def sqlfeat_version() -> str:
    """Version and source directory of the sqlfeat being benchmarked."""
    try:
        import sqlfeat

        return f"{getattr(sqlfeat, '__version__', '?')} ({Path(sqlfeat.__file__).parent})"
    except Exception as exc:  # noqa: BLE001
        return f"n/a ({type(exc).__name__}: {exc})"


def feature_views(source_for) -> list[Any]:
    """The user entity and the 3 views, each reading ``source_for(view_spec)``."""
    from sqlfeat import Entity, FeatureView, Field, ValueType
    from sqlfeat import types as T

    user = Entity(name="user_id", join_keys=["user_id"], value_type=ValueType.INT64)
    objects: list[Any] = [user]
    for v in VIEWS:
        schema = [Field(name=f, dtype=getattr(T, t)) for f, t in v.features]
        objects.append(FeatureView(name=v.name, entities=[user], ttl=v.ttl, schema=schema, source=source_for(v)))
    return objects


def apply_repo(repo: Path, yaml: str, objects: list[Any]) -> Any:
    """(Re)write ``repo``'s feature_store.yaml, apply ``objects`` to a fresh registry, and return a
    FeatureStore opened on it."""
    from sqlfeat import FeatureStore

    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(yaml)
    (repo / "data" / "registry.json").unlink(missing_ok=True)
    FeatureStore(repo_path=str(repo)).apply(objects)
    return FeatureStore(repo_path=str(repo))


def duckdb_store(p: Params, workdir: Path, apply: bool = True) -> Any:
    """The FeatureStore over the parquet views; ``apply=False`` opens the repo as last applied."""
    from sqlfeat import FeatureStore, FileSource

    if not apply:
        return FeatureStore(repo_path=str(p.repo_dir(workdir)))

    def source(v: ViewSpec) -> Any:
        return FileSource(
            path=f"data/{v.name}.parquet", timestamp_field="event_time", created_timestamp_column=v.created
        )

    return apply_repo(p.repo_dir(workdir), FEATURE_STORE_YAML, feature_views(source))


def run_sqlfeat(store, spine: pd.DataFrame, strategy: str = "auto") -> pd.DataFrame:
    return store.get_historical_features(entity_df=spine, features=FEATURE_REFS, strategy=strategy).to_df()


def auto_strategy(store, spine: pd.DataFrame) -> str:
    """What ``strategy="auto"`` picks for this spine: one strategy, or each view's ("mixed: ...")."""
    chosen = store.get_historical_features(entity_df=spine, features=FEATURE_REFS).strategies
    kinds = sorted(set(chosen.values()))
    return kinds[0] if len(kinds) == 1 else "mixed: " + ", ".join(f"{v} {s}" for v, s in chosen.items())


# --------------------------------------------------------------------------------------------
# hand-written baselines
# --------------------------------------------------------------------------------------------


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ttl_interval(v: ViewSpec) -> str:
    return f"INTERVAL '{v.ttl_seconds} seconds'"


def asof_sql(p: Params, workdir: Path) -> str:
    """3 chained ASOF LEFT JOINs; TTL as a CASE on the matched row's event time.  No created-ts
    tie-break: the generated data has no (user_id, event_time) ties (asserted at generation)."""
    select = [f"s.{c}" for c in SPINE_COLUMNS]
    joins = []
    for i, v in enumerate(VIEWS):
        a = f"v{i}"
        for f in v.feature_names:
            if v.ttl:
                select.append(f"CASE WHEN {a}.event_time >= s.{SPINE_TS} - {_ttl_interval(v)} THEN {a}.{f} END AS {f}")
            else:
                select.append(f"{a}.{f}")
        joins.append(
            f"ASOF LEFT JOIN read_parquet({_lit(p.view_path(workdir, v.name))}) {a}\n"
            f"  ON s.user_id = {a}.user_id AND s.{SPINE_TS} >= {a}.event_time"
        )
    return "SELECT " + ",\n       ".join(select) + "\nFROM spine s\n" + "\n".join(joins)


def window_sql(p: Params, workdir: Path) -> str:
    """Per view: range LEFT JOIN on [t - ttl, t] + ROW_NUMBER() ... QUALIFY = 1; joined back by a
    spine row id."""
    ctes = ["s AS (SELECT *, row_number() OVER () AS __rid FROM spine)"]
    out = [f"s.{c}" for c in SPINE_COLUMNS]
    joins = []
    for i, v in enumerate(VIEWS):
        a = f"v{i}"
        cond = f"f.user_id = s.user_id AND f.event_time <= s.{SPINE_TS}"
        if v.ttl:
            cond += f" AND f.event_time >= s.{SPINE_TS} - {_ttl_interval(v)}"
        order = "f.event_time DESC" + (f", f.{v.created} DESC" if v.created else "")
        cols = ", ".join(f"f.{f}" for f in v.feature_names)
        ctes.append(
            f"{a} AS (\n  SELECT s.__rid, {cols}\n"
            f"  FROM s LEFT JOIN read_parquet({_lit(p.view_path(workdir, v.name))}) f ON {cond}\n"
            f"  QUALIFY row_number() OVER (PARTITION BY s.__rid ORDER BY {order}) = 1)"
        )
        out += [f"{a}.{f}" for f in v.feature_names]
        joins.append(f"JOIN {a} USING (__rid)")
    return "WITH " + ",\n".join(ctes) + "\nSELECT " + ", ".join(out) + "\nFROM s\n" + "\n".join(joins)


class Baselines:
    """One DuckDB connection (UTC, default threads) that runs the hand-written queries on the same
    pandas spine object sqlfeat gets (registered as a view, unregistered afterwards)."""

    def __init__(self, p: Params, workdir: Path, threads: int | None = None) -> None:
        self.con = C.duckdb_connect(threads)
        self.asof = asof_sql(p, workdir)
        self.window = window_sql(p, workdir)

    @property
    def threads(self) -> str:
        return str(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])

    def _run(self, sql: str, spine: pd.DataFrame) -> pd.DataFrame:
        self.con.register("spine", spine)
        try:
            return self.con.sql(sql).df()
        finally:
            self.con.unregister("spine")

    def run_asof(self, spine: pd.DataFrame) -> pd.DataFrame:
        return self._run(self.asof, spine)

    def run_window(self, spine: pd.DataFrame) -> pd.DataFrame:
        return self._run(self.window, spine)


# --------------------------------------------------------------------------------------------
# --explain: where the time goes
# --------------------------------------------------------------------------------------------


def sqlfeat_steps(store, spine: pd.DataFrame, strategy: str) -> tuple[Any, list[tuple[str, float]]]:
    """One ``to_df()`` cut into its steps, each timed (mirrors RetrievalJob.to_df; diagnostics
    only, leans on RetrievalJob internals).  Returns the job and [(step, seconds)]."""
    from sqlfeat.compiler.plan import ROW_ID

    steps: list[tuple[str, float]] = []

    def step(name: str, fn):
        t0 = time.perf_counter()
        out = fn()
        steps.append((name, time.perf_counter() - t0))
        return out

    job = step(
        "plan + validate (get_historical_features)",
        lambda: store.get_historical_features(entity_df=spine, features=FEATURE_REFS, strategy=strategy),
    )
    sql = step("compile + render SQL (job.sql)", lambda: job.sql)
    uploaded = step("upload spine keys (store.upload)", job._upload_keys)
    try:
        result = step("query + fetch Arrow (fetch_arrow)", lambda: job.store.fetch_arrow(sql))
    finally:
        job.store.drop_upload(uploaded)
    result = step("cast to declared types (_typed)", lambda: job._typed(result))
    result = step("restore spine order (_in_spine_order)", lambda: job._in_spine_order(result))

    def attach() -> pd.DataFrame:
        features = result.drop_columns([ROW_ID]).to_pandas().set_axis(spine.index)
        out = spine.copy()
        for name in job.plan.output_names:
            out[name] = features[name]
        return out

    step("to pandas + attach to a copy of the spine", attach)
    return job, steps


def explain(store, spine: pd.DataFrame, base: Baselines, out_dir: Path, size: int) -> list[str]:
    """For one spine size, write into ``out_dir``: sqlfeat's SQL (``sqlfeat_SIZE.sql``), DuckDB
    operator profiles of it and of the ASOF baseline (``*_SIZE.profile.txt`` readable,
    ``*.profile.json`` raw) and sqlfeat's client-side steps (``sqlfeat_SIZE.steps.txt``).
    Returns the lines of the steps summary."""

    def save(name: str, con, sql: str) -> None:
        prof = C.profile_query(con, sql, out_dir / f"{name}_{size}.profile.json")
        (out_dir / f"{name}_{size}.profile.txt").write_text(C.operator_summary(prof) + "\n")
        C.log(f"  wrote {out_dir / f'{name}_{size}.profile.txt'}")

    base.con.register("spine", spine)
    try:
        save("asof", base.con, base.asof)
        t0 = time.perf_counter()
        base.con.sql(base.asof).to_arrow_table()
        asof_arrow = time.perf_counter() - t0
    finally:
        base.con.unregister("spine")
    if store is None:
        return []
    lines: list[str] = []
    try:
        job, steps = sqlfeat_steps(store, spine, "auto")
        job, steps = sqlfeat_steps(store, spine, "auto")  # the second run: warm caches, like the timed runs
        (out_dir / f"sqlfeat_{size}.sql").write_text(job.sql + "\n")
        C.log(f"  wrote {out_dir / f'sqlfeat_{size}.sql'}")
        total = sum(s for _, s in steps)
        lines.append(
            f"sqlfeat to_df() @ {size:,}, strategy {job.strategy} -> "
            f"{auto_strategy(store, spine)}: {total:.3f} s in steps"
        )
        lines += [f"  {name:<45} {s:7.3f} s" for name, s in steps]
        lines.append(f"ASOF baseline, query + fetch Arrow only (no .df()): {asof_arrow:.3f} s")
        (out_dir / f"sqlfeat_{size}.steps.txt").write_text("\n".join(lines) + "\n")
        for line in lines:
            C.log("  " + line)
        # Profile on sqlfeat's own connection, with the spine uploaded the way to_df() does it.
        uploaded = job._upload_keys()
        try:
            save("sqlfeat", job.store.connection, job.sql)
        finally:
            job.store.drop_upload(uploaded)
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        C.log(f"  sqlfeat explain not available: {type(exc).__name__}: {exc}")
    return lines
