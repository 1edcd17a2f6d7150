"""PostgreSQL windowed aggregations for benchmarks/density.py: the click events of
``aggregations_data`` COPYed into a schema of their own, indexed on (user_id, event_time), sqlfeat's
aggregated view over them (auto, carry, window) against two hand-written queries: a range join with
a FILTER per window (as ``aggregations_forms.range_join_sql`` on DuckDB) and a LATERAL subquery per
spine row that aggregates the user's events inside the widest window through the index."""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import _common as C
import aggregations_forms as AF
import pyarrow.parquet as pq
from aggregations_data import SPINE_TS, WINDOW_DAYS
from aggregations_data import ensure_data as agg_data
from aggregations_data import load_spine as agg_spine
from density_forms import FORMS, Form, Point, Timeouts, _row, _sqlfeat_forms, _time, agg_params, check_aggregates
from pit_duckdb import apply_repo
from pit_postgres import PgBench, _copy_in, _pg_type

EVENTS = "events"


def _iv(days: int) -> str:
    return f"interval '{days * 86_400} seconds'"


def _aggregates(alias: str, spine: str) -> list[str]:
    """count/sum/avg per window; the widest window is the join's own range, the narrower ones a FILTER."""
    widest, out = max(WINDOW_DAYS), []
    for d in WINDOW_DAYS:
        flt = "" if d == widest else f" FILTER (WHERE {alias}.event_time > {spine}.{SPINE_TS} - {_iv(d)})"
        out += [
            f"count({alias}.click_id){flt} AS click_id_count_{d}d",
            f"sum({alias}.dwell_seconds){flt} AS dwell_seconds_sum_{d}d",
            f"avg({alias}.dwell_seconds){flt} AS dwell_seconds_mean_{d}d",
        ]
    return out


def _in_widest(alias: str, spine: str) -> str:
    return (
        f"{alias}.user_id = {spine}.user_id AND {alias}.event_time <= {spine}.{SPINE_TS} "
        f"AND {alias}.event_time > {spine}.{SPINE_TS} - {_iv(max(WINDOW_DAYS))}"
    )


def range_join_sql(schema: str, spine: str) -> str:
    return (
        f"SELECT s.user_id, s.{SPINE_TS}, s.label,\n       " + ",\n       ".join(_aggregates("e", "s"))
        + f"\nFROM {spine} s LEFT JOIN {schema}.{EVENTS} e ON {_in_widest('e', 's')}"
        + f"\nGROUP BY s.rid, s.user_id, s.{SPINE_TS}, s.label"
    )  # fmt: skip


def lateral_sql(schema: str, spine: str) -> str:
    names = [a.rsplit(" AS ", 1)[1] for a in _aggregates("e", "s")]
    return (
        f"SELECT s.user_id, s.{SPINE_TS}, s.label, {', '.join('a.' + n for n in names)}\n"
        f"FROM {spine} s LEFT JOIN LATERAL (\n  SELECT " + ",\n         ".join(_aggregates("e", "s"))
        + f"\n  FROM {schema}.{EVENTS} e WHERE {_in_widest('e', 's')}) a ON true"
    )  # fmt: skip


class PgAggBench(PgBench):
    """``PgBench`` holding the click events instead of the three lookup views."""

    def load(self) -> float:
        t0 = time.perf_counter()
        self.con.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self.con.execute(f"CREATE SCHEMA {self.schema}")
        data = pq.read_table(self.p.events_path(self.workdir))
        table = f"{self.schema}.{EVENTS}"
        self.con.execute(f"CREATE TABLE {table} ({', '.join(f'{f.name} {_pg_type(f.type)}' for f in data.schema)})")
        _copy_in(self.con, table, data)
        self.con.execute(f"CREATE INDEX ON {table} (user_id, event_time)")
        self.con.execute(f"VACUUM ANALYZE {table}")
        return time.perf_counter() - t0

    def open_store(self) -> Any:
        from sqlfeat import PostgreSQLSource

        source = PostgreSQLSource(table=f"{self.schema}.{EVENTS}", timestamp_field="event_time")
        repo = self.p.data_dir(self.workdir) / "repo_pg"
        self.store = apply_repo(repo, self.repo_yaml(), AF.aggregation_objects(source))
        return self.store

    def run_agg(self, spine, strategy: str):
        return self.store.get_historical_features(spine, AF.FEATURE_REFS, strategy=strategy).to_df()


def postgres_aggregates(pt: Point, args, timeouts: Timeouts, reps: int) -> dict[str, Any]:
    row = _row("postgres", "aggregates", pt, reps)
    p = agg_params(pt, args)
    agg_data(p, args.workdir, [pt.spine])
    schema = f"sqlfeat_density_{os.getpid()}_agg_d{pt.density}_n{pt.rows}"
    pg = PgAggBench(args.pg_url, p, args.workdir, args.timeout, schema=schema)  # type: ignore[arg-type]
    try:
        row["server"] = pg.server_info()
        row["pg_load"] = pg.load()
        pg.open_store()
        spine = agg_spine(p, args.workdir, pt.spine)
        job = pg.store.get_historical_features(spine, AF.FEATURE_REFS)
        row["auto"], row["why"] = ", ".join(sorted(set(job.strategies.values()))), job.explain()
        C.log(
            f"postgres aggregates {pt.label()}: loaded in {row['pg_load']:.1f} s (not timed); auto picks {row['auto']}"
        )
        forms = _sqlfeat_forms(pg, spine, FORMS["postgres", "aggregates"], lambda pg, sp, s: pg.run_agg(sp, s),
                               None, None)  # fmt: skip
        forms += [Form("hand_range_join", lambda: pg.run_on_spine(range_join_sql, spine)),
                  Form("hand_lateral", lambda: pg.run_on_spine(lateral_sql, spine))]  # fmt: skip
        results = _time(row, forms, args, timeouts, pt)
    finally:
        pg.close()
    check_aggregates(row, results, ["hand_range_join", "hand_lateral"])
    del results
    gc.collect()
    return row
