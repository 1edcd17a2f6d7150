"""PostgreSQL side of benchmarks/pit.py: the same generated data loaded into PostgreSQL, sqlfeat
(``offline_store: {type: postgres}``) against the hand-written LATERAL / DISTINCT ON queries.

The data is loaded once per run into a schema of its own (``sqlfeat_bench_<pid>``, dropped at the
end) with COPY, indexed on ``(user_id, event_time)`` (``+ created`` for ``user_clicks``, whose
tie-break orders by it) and ``VACUUM ANALYZE``d: the load is not timed.  The server's settings are
left as they are (the report prints the ones that matter).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import _common as C
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from pit_data import FEATURE_REFS, SPINE_COLUMNS, SPINE_TS, VIEWS, Params, ViewSpec
from pit_duckdb import apply_repo, feature_views

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
URL_ENV = "SQLFEAT_BENCH_PG_URL"
SETTINGS = ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "effective_cache_size", "jit")


def _pg_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    for check, name in (
        (pa.types.is_boolean, "boolean"), (pa.types.is_int32, "integer"), (pa.types.is_integer, "bigint"),
        (pa.types.is_float32, "real"), (pa.types.is_floating, "double precision"), (pa.types.is_string, "text"),
    ):  # fmt: skip
        if check(t):
            return name
    raise TypeError(f"no PostgreSQL type for {t}")


def _copy_in(con, table: str, data: pa.Table) -> None:
    """COPY an Arrow table into ``table`` as CSV (pyarrow writes it; nulls are unquoted empties)."""
    cols = ", ".join(data.column_names)
    with con.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy:
        for batch in data.to_batches(max_chunksize=200_000):
            buf = io.BytesIO()
            pcsv.write_csv(pa.Table.from_batches([batch]), buf, pcsv.WriteOptions(include_header=False))
            copy.write(buf.getvalue())


def _ttl(v: ViewSpec) -> str:
    return f"interval '{v.ttl_seconds} seconds'"


def _order(v: ViewSpec, alias: str) -> str:
    return f"{alias}.event_time DESC" + (f", {alias}.{v.created} DESC" if v.created else "")


def lateral_sql(schema: str, spine: str) -> str:
    """Per view a ``LEFT JOIN LATERAL (... ORDER BY event_time DESC LIMIT 1)``: one index probe
    per spine row and view, the query a PostgreSQL user writes."""
    select = [f"s.{c}" for c in SPINE_COLUMNS]
    joins = []
    for i, v in enumerate(VIEWS):
        a = f"v{i}"
        cond = f"f.user_id = s.user_id AND f.event_time <= s.{SPINE_TS}"
        if v.ttl:
            cond += f" AND f.event_time >= s.{SPINE_TS} - {_ttl(v)}"
        select += [f"{a}.{f}" for f in v.feature_names]
        joins.append(
            f"LEFT JOIN LATERAL (\n  SELECT {', '.join('f.' + f for f in v.feature_names)} FROM {schema}.{v.name} f\n"
            f"  WHERE {cond}\n  ORDER BY {_order(v, 'f')} LIMIT 1) {a} ON true"
        )
    return "SELECT " + ", ".join(select) + f"\nFROM {spine} s\n" + "\n".join(joins)


def distinct_on_sql(schema: str, spine: str) -> str:
    """Per view a range join + ``DISTINCT ON (spine row) ... ORDER BY row, event_time DESC``
    (PostgreSQL's spelling of the window form), LEFT JOINed back on the spine's row id."""
    ctes, select, joins = [], [f"s.{c}" for c in SPINE_COLUMNS], []
    for i, v in enumerate(VIEWS):
        a = f"v{i}"
        cond = f"f.user_id = s.user_id AND f.event_time <= s.{SPINE_TS}"
        if v.ttl:
            cond += f" AND f.event_time >= s.{SPINE_TS} - {_ttl(v)}"
        ctes.append(
            f"{a} AS (\n  SELECT DISTINCT ON (s.rid) s.rid, {', '.join('f.' + f for f in v.feature_names)}\n"
            f"  FROM {spine} s JOIN {schema}.{v.name} f ON {cond}\n  ORDER BY s.rid, {_order(v, 'f')})"
        )
        select += [f"{a}.{f}" for f in v.feature_names]
        joins.append(f"LEFT JOIN {a} ON {a}.rid = s.rid")
    return "WITH " + ",\n".join(ctes) + "\nSELECT " + ", ".join(select) + f"\nFROM {spine} s\n" + "\n".join(joins)


class PgBench:
    """A schema of its own in PostgreSQL holding the generated views (and spine tables), the
    sqlfeat repo pointing at it, and the hand-written baselines."""

    def __init__(self, url: str, p: Params, workdir: Path, timeout_s: float, schema: str | None = None) -> None:
        import psycopg

        self.url, self.p, self.workdir = url, p, workdir
        self.schema = schema or f"sqlfeat_bench_{os.getpid()}"
        self.timeout_ms = int(timeout_s * 1000)
        self.con = psycopg.connect(url, autocommit=True, connect_timeout=10)
        self.con.execute("SET TIME ZONE 'UTC'")
        self.con.execute(f"SET statement_timeout = {self.timeout_ms}")
        self.store = None

    # -- setup (not timed) -------------------------------------------------------------------
    def server_info(self) -> str:
        version = self.con.execute("SHOW server_version").fetchone()[0]
        settings = ", ".join(f"{s}={self.con.execute(f'SHOW {s}').fetchone()[0]}" for s in SETTINGS)
        return f"PostgreSQL {version} ({settings})"

    def load(self) -> float:
        t0 = time.perf_counter()
        self.con.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self.con.execute(f"CREATE SCHEMA {self.schema}")
        for v in VIEWS:
            data = pq.read_table(self.p.view_path(self.workdir, v.name))
            table = f"{self.schema}.{v.name}"
            cols = ", ".join(f"{f.name} {_pg_type(f.type)}" for f in data.schema)
            self.con.execute(f"CREATE TABLE {table} ({cols})")
            _copy_in(self.con, table, data)
            index = "user_id, event_time" + (f", {v.created}" if v.created else "")
            self.con.execute(f"CREATE INDEX ON {table} ({index})")
            self.con.execute(f"VACUUM ANALYZE {table}")
        return time.perf_counter() - t0

    def load_spine(self, spine: pd.DataFrame) -> str:
        """The spine as table ``<schema>.spine_<n>`` (row id, spine columns), analyzed."""
        name = f"{self.schema}.spine_{len(spine)}"
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(f"CREATE TABLE {name} (rid bigint, user_id bigint, {SPINE_TS} timestamptz, label bigint)")
        _copy_in(self.con, name, _spine_arrow(spine))
        self.con.execute(f"ANALYZE {name}")
        return name

    def open_store(self) -> Any:
        from sqlfeat import PostgreSQLSource

        def source(v: ViewSpec) -> Any:
            return PostgreSQLSource(
                table=f"{self.schema}.{v.name}", timestamp_field="event_time", created_timestamp_column=v.created
            )

        self.store = apply_repo(self.p.data_dir(self.workdir) / "repo_pg", self.repo_yaml(), feature_views(source))
        return self.store

    def repo_yaml(self) -> str:
        """feature_store.yaml of a repo on this server (with this statement_timeout)."""
        sep = "&" if "?" in self.url else "?"
        # The URL (it may hold a password) reaches the repo through the environment, not the file.
        os.environ[URL_ENV] = f"{self.url}{sep}options=-c%20statement_timeout%3D{self.timeout_ms}"
        return f"project: bench_pg\nregistry: data/registry.json\noffline_store:\n  type: postgres\n  url: ${{{URL_ENV}}}\n"

    def close(self) -> None:
        try:
            if self.store is not None:
                self.store.offline_store.close()
        finally:
            try:
                self.con.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            finally:
                self.con.close()

    # -- timed forms -------------------------------------------------------------------------
    def run_sqlfeat(self, entity_df: Any, strategy: str = "auto") -> pd.DataFrame:
        """``entity_df`` is the pandas spine or the name of a spine table in the schema."""
        job = self.store.get_historical_features(entity_df=entity_df, features=FEATURE_REFS, strategy=strategy)
        return job.to_df()

    def _fetch_df(self, sql: str) -> pd.DataFrame:
        cur = self.con.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])

    def run_baseline(self, form: str, spine: Any) -> pd.DataFrame:
        """The hand-written ``form`` ("lateral" | "distinct_on"). A DataFrame spine is first
        COPYed into a temporary table (as a user would), a table name is used as it is."""
        return self.run_on_spine(lateral_sql if form == "lateral" else distinct_on_sql, spine)

    def run_on_spine(self, build, spine: Any) -> pd.DataFrame:
        """Fetch ``build(schema, spine_table)`` as a DataFrame, the spine COPYed into a temporary
        table with a row id ``rid`` first when it is a DataFrame."""
        if isinstance(spine, str):
            return self._fetch_df(build(self.schema, spine))
        tmp = "bench_spine_tmp"
        self.con.execute(f"DROP TABLE IF EXISTS {tmp}")
        self.con.execute(
            f"CREATE TEMPORARY TABLE {tmp} (rid bigint, user_id bigint, {SPINE_TS} timestamptz, label bigint)"
        )
        try:
            _copy_in(self.con, tmp, _spine_arrow(spine))
            return self._fetch_df(build(self.schema, tmp))
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {tmp}")

    def forms(self, spine: pd.DataFrame) -> list:
        from pit_timing import Form

        return [
            Form("sqlfeat", lambda: self.run_sqlfeat(spine)),
            Form("lateral", lambda: self.run_baseline("lateral", spine)),
            Form("distinct_on", lambda: self.run_baseline("distinct_on", spine)),
        ]

    def explain(self, form: str, spine_table: str) -> str:
        """EXPLAIN (ANALYZE, BUFFERS) of a baseline on a spine table, or of sqlfeat's SQL."""
        if form == "sqlfeat":
            sql = self.store.get_historical_features(entity_df=spine_table, features=FEATURE_REFS).sql
        else:
            sql = (lateral_sql if form == "lateral" else distinct_on_sql)(self.schema, spine_table)
        rows = self.con.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").fetchall()
        return "\n".join(r[0] for r in rows)


def _spine_arrow(spine: pd.DataFrame) -> pa.Table:
    import numpy as np

    table = pa.Table.from_pandas(spine[SPINE_COLUMNS], preserve_index=False)
    return table.add_column(0, "rid", pa.array(np.arange(len(spine), dtype=np.int64)))


# --------------------------------------------------------------------------------------------
# the PostgreSQL section of a run
# --------------------------------------------------------------------------------------------


def run_section(args, p: Params, workdir: Path, reference, info: dict) -> tuple[list[dict], list[str]]:
    """Load the data, then per spine size in ``args.pg_sizes`` time sqlfeat, LATERAL and DISTINCT
    ON, and check sqlfeat against LATERAL and against ``reference(spine)`` (the DuckDB ASOF
    result).  The time of a size is extrapolated (linearly) from the previous one: if a warm-up
    and ``--pg-reps`` runs do not fit ``--pg-budget`` seconds, it gets one run without warm-up; if
    that does not fit either, it is skipped.  Returns the table rows and notes."""
    from pit_check import compare
    from pit_data import load_spine
    from pit_timing import time_forms

    notes: list[str] = []
    try:
        pg = PgBench(args.pg_url, p, workdir, args.pg_timeout)
    except Exception as exc:  # noqa: BLE001
        return [], [f"PostgreSQL not benchmarked: cannot connect to {args.pg_url}: {type(exc).__name__}: {exc}"]
    rows: list[dict] = []
    try:
        info["postgres"] = pg.server_info()
        C.log(f"postgres: {info['postgres']}; loading 3 x {p.rows_per_view:,} rows into schema {pg.schema} ...")
        info["pg_load"] = pg.load()
        C.log(f"postgres: loaded, indexed and analyzed in {info['pg_load']:.1f} s (not timed)")
        pg.open_store()
        previous: tuple[int, float] | None = None
        for size in args.pg_sizes:
            r: dict[str, Any] = {"size": size, "reps": args.pg_reps, "warmup": True}
            rows.append(r)
            if previous:  # a round = every form once; fit warm-up + reps, else one cold run, else skip
                per_round = previous[1] * size / previous[0]
                if per_round * (args.pg_reps + 1) > args.pg_budget:
                    r["reps"], r["warmup"] = 1, False
                if per_round * (r["reps"] + r["warmup"]) > args.pg_budget:
                    r["skipped"] = f"estimated {per_round:.0f} s per form round > --pg-budget {args.pg_budget:.0f} s"
                    C.log(f"postgres spine {size:,}: skipped ({r['skipped']})")
                    continue
            reps, warm = r["reps"], r["warmup"]
            C.log(f"postgres spine {size:,}: best of {reps}" + (" after 1 warm-up" if warm else ", no warm-up"))
            spine = load_spine(p, workdir, size)
            out = time_forms(pg.forms(spine), reps, warmup=warm)
            for name in ("sqlfeat", "lateral", "distinct_on"):
                r[name] = out.best(name)
            r["skipped_forms"], r["failed"] = out.skipped, out.failed
            ref = reference(spine)
            checks = [("sqlfeat", "lateral", "LATERAL"), ("distinct_on", "lateral", "LATERAL"),
                      ("sqlfeat", ref, "DuckDB ASOF"), ("lateral", ref, "DuckDB ASOF")]  # fmt: skip
            for got, exp, ref_name in checks:
                exp_df = out.results.get(exp) if isinstance(exp, str) else exp
                if got not in out.results or exp_df is None:
                    continue
                ok, problems, _ = compare(out.results[got], exp_df, f"postgres {got} @ {size:,}", ref_name)
                r.setdefault("checks", {})[f"{got} vs {ref_name}"] = ok
                notes += problems
                C.log(f"  check {got} vs {ref_name}: {'OK' if ok else 'MISMATCH'}")
            done = [r[n] for n in ("sqlfeat", "lateral", "distinct_on") if r.get(n)]
            previous = (size, sum(done)) if done else previous
            if args.explain == size:
                explain(pg, spine, p.data_dir(workdir), size)
    finally:
        pg.close()
    return rows, notes


def explain(pg: PgBench, spine: pd.DataFrame, out_dir: Path, size: int) -> None:
    """``pg_SIZE.explain.txt``: sqlfeat's to_df() cut into steps, and EXPLAIN (ANALYZE, BUFFERS)
    of sqlfeat's SQL and of the LATERAL query on the spine loaded as an analyzed table."""
    from pit_duckdb import sqlfeat_steps

    parts = []
    try:
        sqlfeat_steps(pg.store, spine, "auto")
        job, steps = sqlfeat_steps(pg.store, spine, "auto")
        parts.append(
            f"sqlfeat to_df() @ {size:,} ({', '.join(f'{v} {s}' for v, s in job.strategies.items())}), "
            f"{sum(s for _, s in steps):.3f} s in steps"
        )
        parts += [f"  {name:<45} {s:7.3f} s" for name, s in steps]
        table = pg.load_spine(spine)
        for form in ("sqlfeat", "lateral"):
            parts += ["", f"== EXPLAIN (ANALYZE, BUFFERS) {form}, spine table {table}", pg.explain(form, table)]
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        parts.append(f"explain failed: {type(exc).__name__}: {exc}")
    path = out_dir / f"pg_{size}.explain.txt"
    path.write_text("\n".join(parts) + "\n")
    for line in parts[:9]:
        C.log("  " + line)
    C.log(f"  wrote {path}")
