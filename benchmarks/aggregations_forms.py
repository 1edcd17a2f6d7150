"""The forms benchmarks/aggregations.py times: sqlfeat, hand-written DuckDB SQL, pandas.

Every form computes, for each spine row (user_id, t = event_timestamp) and each window w in
1, 7, 30 days, over the user's events with ``t - w < event_time <= t``:

  click_id_count_<w>d      count of non-null click_id (0 for an empty window)
  dwell_seconds_sum_<w>d   sum of non-null dwell_seconds (null when there are none)
  dwell_seconds_mean_<w>d  mean of non-null dwell_seconds (null when there are none)

and returns a DataFrame with the spine's columns plus those 9 (row order is the form's own; the
check sorts).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import _common as C
import numpy as np
import pandas as pd
from aggregations_data import SPINE_TS, WINDOW_DAYS, Params

DAY_S = 86_400
FEATURES = [
    f"{col}_{fn}_{d}d"
    for d in WINDOW_DAYS
    for col, fn in (("click_id", "count"), ("dwell_seconds", "sum"), ("dwell_seconds", "mean"))
]
COUNTS = [f for f in FEATURES if "_count_" in f]
VIEW = "user_click_stats"
FEATURE_REFS = [f"{VIEW}:{f}" for f in FEATURES]

FEATURE_STORE_YAML = """\
project: bench_aggregations
registry: data/registry.json
provider: local
offline_store:
  type: duckdb
"""


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _iv(days: int) -> str:
    return f"INTERVAL '{days * DAY_S} seconds'"


# --------------------------------------------------------------------------------------------
# sqlfeat
# --------------------------------------------------------------------------------------------


def sqlfeat_store(p: Params, workdir: Path) -> Any:
    """The repo (feature_store.yaml + the view applied to a fresh registry), opened."""
    from sqlfeat import FeatureStore, FileSource

    repo = p.repo_dir(workdir)
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    (repo / "data" / "registry.json").unlink(missing_ok=True)
    source = FileSource(path="data/events.parquet", timestamp_field="event_time")
    FeatureStore(repo_path=str(repo)).apply(aggregation_objects(source))
    return FeatureStore(repo_path=str(repo))


def aggregation_objects(source: Any) -> list[Any]:
    """The user entity and the view of the 9 windowed features over ``source``."""
    from sqlfeat import Aggregation, Entity, FeatureView, ValueType

    user = Entity(name="user_id", value_type=ValueType.INT64)
    view = FeatureView(
        name=VIEW,
        entities=[user],
        source=source,
        aggregations=[
            a
            for d in WINDOW_DAYS
            for a in (
                Aggregation("click_id", "count", timedelta(days=d)),
                Aggregation("dwell_seconds", "sum", timedelta(days=d)),
                Aggregation("dwell_seconds", "mean", timedelta(days=d)),
            )
        ],
    )
    return [user, view]


def run_sqlfeat(store, spine: pd.DataFrame) -> pd.DataFrame:
    return store.get_historical_features(spine, FEATURE_REFS).to_df()


# --------------------------------------------------------------------------------------------
# hand-written DuckDB SQL (the spine DataFrame registered as view "spine")
# --------------------------------------------------------------------------------------------


def range_join_sql(events: Path) -> str:
    """Baseline 1, what a competent analyst writes: one range LEFT JOIN over the widest window,
    a FILTER per narrower window, GROUP BY spine row."""
    widest = max(WINDOW_DAYS)
    aggs = []
    for d in WINDOW_DAYS:
        flt = "" if d == widest else f" FILTER (WHERE e.event_time > s.{SPINE_TS} - {_iv(d)})"
        aggs += [
            f"count(e.click_id){flt} AS click_id_count_{d}d",
            f"sum(e.dwell_seconds){flt} AS dwell_seconds_sum_{d}d",
            f"avg(e.dwell_seconds){flt} AS dwell_seconds_mean_{d}d",
        ]
    return (
        "WITH s AS (SELECT *, row_number() OVER () AS rid FROM spine)\n"
        "SELECT s.user_id, s.event_timestamp, s.label,\n       " + ",\n       ".join(aggs) + "\n"
        f"FROM s LEFT JOIN read_parquet({_lit(events)}) e\n"
        f"  ON e.user_id = s.user_id AND e.event_time <= s.{SPINE_TS}\n"
        f" AND e.event_time > s.{SPINE_TS} - {_iv(widest)}\n"
        "GROUP BY s.rid, s.user_id, s.event_timestamp, s.label"
    )


def _window_values(cur: str, back: str, d: int) -> list[str]:
    """count/sum/mean of (t - d, t] from prefix sums at t (``cur``) and at t - d (``back``)."""
    n_click = f"coalesce({cur}.n_click, 0) - coalesce({back}.n_click, 0)"
    n_dwell = f"(coalesce({cur}.n_dwell, 0) - coalesce({back}.n_dwell, 0))"
    s_dwell = f"({cur}.s_dwell - coalesce({back}.s_dwell, 0))"
    return [
        f"{n_click} AS click_id_count_{d}d",
        f"CASE WHEN {n_dwell} > 0 THEN {s_dwell} END AS dwell_seconds_sum_{d}d",
        f"CASE WHEN {n_dwell} > 0 THEN {s_dwell} / {n_dwell} END AS dwell_seconds_mean_{d}d",
    ]


def prefix_asof_sql(events: Path, sum_fn: str = "sum") -> str:
    """Prefix sums + one ASOF join per probe (the plan the issue proposes): per user, running
    count/sum over event time with a RANGE frame (tied event times share one value), then per
    spine row an ASOF probe at t and one at t - w for each window: value(t - w, t] =
    cum(t) - cum(t - w). Events are pruned to the spine's users and its last instant first.
    ``sum_fn``: ``sum`` or ``fsum`` (Kahan-compensated running sum)."""
    cum = (
        "cum AS MATERIALIZED (\n"
        "  SELECT user_id, event_time,\n"
        "         count(click_id) OVER w AS n_click,\n"
        "         count(dwell_seconds) OVER w AS n_dwell,\n"
        f"         {sum_fn}(dwell_seconds) OVER w AS s_dwell\n"
        f"  FROM read_parquet({_lit(events)})\n"
        f"  WHERE user_id IN (SELECT user_id FROM spine) AND event_time <= (SELECT max({SPINE_TS}) FROM spine)\n"
        "  WINDOW w AS (PARTITION BY user_id ORDER BY event_time\n"
        "               RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))"
    )
    select = ["s.user_id", f"s.{SPINE_TS}", "s.label"]
    joins = [f"ASOF LEFT JOIN cum c0 ON s.user_id = c0.user_id AND s.{SPINE_TS} >= c0.event_time"]
    for d in WINDOW_DAYS:
        select += _window_values("c0", f"c{d}", d)
        joins.append(
            f"ASOF LEFT JOIN cum c{d} ON s.user_id = c{d}.user_id AND s.{SPINE_TS} - {_iv(d)} >= c{d}.event_time"
        )
    return f"WITH {cum}\nSELECT " + ",\n       ".join(select) + "\nFROM spine s\n" + "\n".join(joins)


def prefix_asof1_sql(events: Path) -> str:
    """Prefix sums probed by ONE ASOF join: each distinct spine (user_id, t) becomes 4 probe rows
    (t, t - 1d, t - 7d, t - 30d, on integer microseconds), ASOF-joined to the running sums once,
    pivoted back per (user_id, t) and joined to the spine."""
    backs = [0, *WINDOW_DAYS]
    offsets = ", ".join(str(d * DAY_S * 1_000_000) for d in backs)
    pivot = [
        f"any_value({c}) FILTER (WHERE back = {d * DAY_S * 1_000_000}) AS {c}_{d}"
        for d in backs
        for c in ("n_click", "n_dwell", "s_dwell")
    ]
    values = []
    for d in WINDOW_DAYS:
        n_dwell = f"(coalesce(n_dwell_0, 0) - coalesce(n_dwell_{d}, 0))"
        s_dwell = f"(s_dwell_0 - coalesce(s_dwell_{d}, 0))"
        values += [
            f"coalesce(n_click_0, 0) - coalesce(n_click_{d}, 0) AS click_id_count_{d}d",
            f"CASE WHEN {n_dwell} > 0 THEN {s_dwell} END AS dwell_seconds_sum_{d}d",
            f"CASE WHEN {n_dwell} > 0 THEN {s_dwell} / {n_dwell} END AS dwell_seconds_mean_{d}d",
        ]
    return f"""WITH k AS (SELECT DISTINCT user_id, {SPINE_TS} AS t FROM spine),
cum AS (
  SELECT user_id, eu,
         count(click_id) OVER w AS n_click,
         count(dwell_seconds) OVER w AS n_dwell,
         sum(dwell_seconds) OVER w AS s_dwell
  FROM (SELECT user_id, epoch_us(event_time) AS eu, click_id, dwell_seconds
        FROM read_parquet({_lit(events)})
        WHERE user_id IN (SELECT user_id FROM k) AND event_time <= (SELECT max(t) FROM k))
  WINDOW w AS (PARTITION BY user_id ORDER BY eu RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
p AS (
  SELECT k.user_id, k.t, o.back, epoch_us(k.t) - o.back AS pu
  FROM k CROSS JOIN (SELECT unnest([{offsets}]) AS back) o),
j AS (
  SELECT p.user_id, p.t, p.back, c.n_click, c.n_dwell, c.s_dwell
  FROM p ASOF LEFT JOIN cum c ON p.user_id = c.user_id AND p.pu >= c.eu),
agg AS (
  SELECT user_id, t, {", ".join(pivot)}
  FROM j GROUP BY user_id, t)
SELECT s.user_id, s.{SPINE_TS}, s.label,
       {("," + chr(10) + "       ").join(values)}
FROM spine s LEFT JOIN agg ON agg.user_id = s.user_id AND agg.t = s.{SPINE_TS}"""


def prefix_union_sql(events: Path) -> str:
    """Prefix sums in one sorted pass: the probe instants t, t - 1d, t - 7d, t - 30d of every
    distinct spine (user_id, t) are put into the event stream (after the events of the same
    instant), running count/sum over each user's stream (ROWS frame) read at the probes, pivoted
    per (user_id, t) and joined back to the spine."""
    offsets = ", ".join(["0"] + [str(d) for d in WINDOW_DAYS])
    pivot = []
    for d in [0, *WINDOW_DAYS]:
        for c in ("n_click", "n_dwell", "s_dwell"):
            pivot.append(f"any_value({c}) FILTER (WHERE back = {d}) AS {c}_{d}")
    values = []
    for d in WINDOW_DAYS:
        n_dwell = f"(n_dwell_0 - n_dwell_{d})"
        s_dwell = f"(s_dwell_0 - s_dwell_{d})"
        values += [
            f"n_click_0 - n_click_{d} AS click_id_count_{d}d",
            f"CASE WHEN {n_dwell} > 0 THEN {s_dwell} END AS dwell_seconds_sum_{d}d",
            f"CASE WHEN {n_dwell} > 0 THEN {s_dwell} / {n_dwell} END AS dwell_seconds_mean_{d}d",
        ]
    return f"""WITH k AS (SELECT DISTINCT user_id, {SPINE_TS} AS t FROM spine),
probes AS (
  SELECT k.user_id, k.t, b.back, k.t - to_seconds(b.back * {DAY_S}) AS pt
  FROM k CROSS JOIN (SELECT unnest([{offsets}]) AS back) b),
stream AS (
  SELECT user_id, event_time AS pt, 0 AS kind, click_id, dwell_seconds,
         NULL::TIMESTAMPTZ AS t, NULL::INTEGER AS back
  FROM read_parquet({_lit(events)})
  WHERE user_id IN (SELECT user_id FROM k)
  UNION ALL
  SELECT user_id, pt, 1, NULL, NULL, t, back FROM probes),
run AS (
  SELECT user_id, t, back,
         count(click_id) OVER w AS n_click,
         count(dwell_seconds) OVER w AS n_dwell,
         coalesce(sum(dwell_seconds) OVER w, 0) AS s_dwell, kind
  FROM stream
  WINDOW w AS (PARTITION BY user_id ORDER BY pt, kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  QUALIFY kind = 1),
agg AS (
  SELECT user_id, t, {", ".join(pivot)}
  FROM run GROUP BY user_id, t)
SELECT s.user_id, s.{SPINE_TS}, s.label,
       {("," + chr(10) + "       ").join(values)}
FROM spine s LEFT JOIN agg ON agg.user_id = s.user_id AND agg.t = s.{SPINE_TS}"""


def range_frame_sql(events: Path) -> str:
    """One sorted pass, no join: the spine rows (no values) go into the event stream, and each
    aggregate is a window function over a RANGE frame on integer microseconds,
    ``RANGE BETWEEN w_us - 1 PRECEDING AND CURRENT ROW`` = [t - w + 1 us, t] = (t - w, t] (CURRENT
    ROW in RANGE mode takes the peers: every event at exactly t); kept at the spine rows only.
    Events are pruned to the spine's users and its last instant."""
    windows, aggs = [], []
    for d in WINDOW_DAYS:
        windows.append(
            f"w{d} AS (PARTITION BY user_id ORDER BY us RANGE BETWEEN {d * DAY_S * 1_000_000 - 1} PRECEDING AND CURRENT ROW)"
        )
        aggs += [
            f"count(click_id) OVER w{d} AS click_id_count_{d}d",
            f"sum(dwell_seconds) OVER w{d} AS dwell_seconds_sum_{d}d",
            f"avg(dwell_seconds) OVER w{d} AS dwell_seconds_mean_{d}d",
        ]
    return f"""WITH stream AS (
  SELECT user_id, epoch_us(event_time) AS us, 0 AS kind, click_id, dwell_seconds,
         NULL::TIMESTAMPTZ AS {SPINE_TS}, NULL::BIGINT AS label
  FROM read_parquet({_lit(events)})
  WHERE user_id IN (SELECT user_id FROM spine) AND event_time <= (SELECT max({SPINE_TS}) FROM spine)
  UNION ALL
  SELECT user_id, epoch_us({SPINE_TS}), 1, NULL, NULL, {SPINE_TS}, label FROM spine)
SELECT user_id, {SPINE_TS}, label,
       {("," + chr(10) + "       ").join(aggs)}
FROM stream
WINDOW {("," + chr(10) + "       ").join(windows)}
QUALIFY kind = 1"""


def daily_sql(events: Path) -> str:
    """Pre-aggregate per user per UTC day, combine the whole days inside each window with day
    prefix sums, finish the two partial edge days exactly from the raw events.

    For t on day D (D = floor(t / day)) and window w days, (t - w, t] = the events of day D up to
    t, + whole days D-w+1 .. D-1, + the events of day D-w after t - w.  Whole days: per user, a
    running sum over its day rows (ROWS frame), read with ASOF at D-1 and D-w (difference).  Edges:
    a range join of the spine keys with the raw events of day D and of days D-w (w in 1,7,30) only.
    """
    ev = f"read_parquet({_lit(events)})"
    day = f"CAST(epoch_us(event_time) // {DAY_S * 1_000_000} AS BIGINT)"
    parts = []
    for d in WINDOW_DAYS:
        parts.append(f"SELECT user_id, t, {d} AS w, day - {d} AS eday FROM k")
    edge_keys = "SELECT user_id, t, 0 AS w, day AS eday FROM k UNION ALL " + " UNION ALL ".join(parts)
    edge_select, full_select, joins = [], [], []
    for d in WINDOW_DAYS:
        joins.append(f"ASOF LEFT JOIN dcum a{d} ON a{d}.user_id = k.user_id AND k.day - 1 >= a{d}.day")
        joins.append(f"ASOF LEFT JOIN dcum b{d} ON b{d}.user_id = k.user_id AND k.day - {d} >= b{d}.day")
    for c in ("n_click", "n_dwell", "s_dwell"):
        edge_select.append(f"sum({c}) FILTER (WHERE w = 0) AS {c}_0")
        for d in WINDOW_DAYS:
            edge_select.append(f"sum({c}) FILTER (WHERE w = {d}) AS {c}_e{d}")
    for d in WINDOW_DAYS:
        for c in ("n_click", "n_dwell", "s_dwell"):
            full_select.append(f"coalesce(a{d}.{c}, 0) - coalesce(b{d}.{c}, 0) AS {c}_f{d}")
    values = []
    for d in WINDOW_DAYS:
        tot = {
            c: f"(coalesce(f.{c}_f{d}, 0) + coalesce(e.{c}_0, 0) + coalesce(e.{c}_e{d}, 0))"
            for c in ("n_click", "n_dwell", "s_dwell")
        }
        values += [
            f"{tot['n_click']} AS click_id_count_{d}d",
            f"CASE WHEN {tot['n_dwell']} > 0 THEN {tot['s_dwell']} END AS dwell_seconds_sum_{d}d",
            f"CASE WHEN {tot['n_dwell']} > 0 THEN {tot['s_dwell']} / {tot['n_dwell']} END AS dwell_seconds_mean_{d}d",
        ]
    return f"""WITH k AS MATERIALIZED (
  SELECT DISTINCT user_id, {SPINE_TS} AS t, CAST(epoch_us({SPINE_TS}) // {DAY_S * 1_000_000} AS BIGINT) AS day
  FROM spine),
ev AS MATERIALIZED (
  SELECT user_id, event_time, {day} AS day, click_id, dwell_seconds FROM {ev}),
daily AS (
  SELECT user_id, day, count(click_id) AS n_click, count(dwell_seconds) AS n_dwell,
         coalesce(sum(dwell_seconds), 0) AS s_dwell
  FROM ev GROUP BY user_id, day),
dcum AS MATERIALIZED (
  SELECT user_id, day,
         sum(n_click) OVER w AS n_click, sum(n_dwell) OVER w AS n_dwell, sum(s_dwell) OVER w AS s_dwell
  FROM daily WINDOW w AS (PARTITION BY user_id ORDER BY day ROWS UNBOUNDED PRECEDING)),
full_days AS (
  SELECT k.user_id, k.t, {", ".join(full_select)}
  FROM k {" ".join(joins)}),
edge_keys AS ({edge_keys}),
edge_rows AS (
  SELECT q.user_id, q.t, q.w,
         count(e.click_id) AS n_click, count(e.dwell_seconds) AS n_dwell, sum(e.dwell_seconds) AS s_dwell
  FROM edge_keys q JOIN ev e ON e.user_id = q.user_id AND e.day = q.eday
   AND ((q.w = 0 AND e.event_time <= q.t)
     OR (q.w > 0 AND e.event_time > q.t - to_seconds(q.w * {DAY_S})))
  GROUP BY q.user_id, q.t, q.w),
edges AS (
  SELECT user_id, t, {", ".join(edge_select)} FROM edge_rows GROUP BY user_id, t)
SELECT s.user_id, s.{SPINE_TS}, s.label,
       {("," + chr(10) + "       ").join(values)}
FROM spine s
LEFT JOIN full_days f ON f.user_id = s.user_id AND f.t = s.{SPINE_TS}
LEFT JOIN edges e ON e.user_id = s.user_id AND e.t = s.{SPINE_TS}"""


def keyed_join_sql(events: Path, micros: bool = True, buckets_per_window: int = 0, mean_from_sum: bool = False) -> str:
    """sqlfeat's plan (DISTINCT spine (user_id, t), one range join over the widest window, a CASE
    per narrower window, GROUP BY (user_id, t), LEFT JOIN back to the spine), with two knobs:

    ``micros``: compare integer microseconds (``epoch_us``) instead of ``TIMESTAMPTZ - INTERVAL``,
    which DuckDB evaluates through ICU calendar arithmetic for every candidate pair.
    ``buckets_per_window`` = n > 0: add a bucket equality, so the hash join pairs each (user, t)
    only with the user's events of nearby buckets instead of all of them. Buckets are
    B = widest / n wide, numbered floor(epoch_us / B); ``t - W < event_ts <= t`` puts the event in
    one of the buckets floor(t/B) - n .. floor(t/B), so each distinct (user_id, t) is probed once per
    such bucket (n + 1 probe rows) and every event meets exactly one of them: nothing is counted
    twice. The range condition stays in the join.
    ``mean_from_sum``: count(dwell) per window instead of avg, mean = sum / count at the end."""
    widest = max(WINDOW_DAYS)
    w_us = {d: d * DAY_S * 1_000_000 for d in WINDOW_DAYS}
    if micros:
        t, ev, lo = "p.tu", "e.eu", lambda d: f"p.tu - {w_us[d]}"
    else:
        t, ev, lo = "p.t", "e.event_time", lambda d: f"p.t - {_iv(d)}"
    aggs = []
    for d in WINDOW_DAYS:
        cond = f"{ev} > {lo(d)}"
        click = "e.click_id" if d == widest else f"CASE WHEN {cond} THEN e.click_id END"
        dwell = "e.dwell_seconds" if d == widest else f"CASE WHEN {cond} THEN e.dwell_seconds END"
        aggs += [
            f"count({click}) AS click_id_count_{d}d",
            f"sum({dwell}) AS dwell_seconds_sum_{d}d",
            f"count({dwell}) AS n_dwell_{d}d" if mean_from_sum else f"avg({dwell}) AS dwell_seconds_mean_{d}d",
        ]
    if buckets_per_window:
        width = w_us[widest] // buckets_per_window
        offsets = ", ".join(str(i) for i in range(buckets_per_window + 1))
        probes = (
            f"p AS (\n  SELECT k.user_id, k.t, k.tu, k.tu // {width} - o.i AS b\n"
            f"  FROM k CROSS JOIN (SELECT unnest([{offsets}]) AS i) o),"
        )
        bucket_col, bucket_eq = f", epoch_us(event_time) // {width} AS b", " AND e.b = p.b"
    else:
        probes, bucket_col, bucket_eq = "p AS (SELECT * FROM k),", "", ""
    outs = []
    for d in WINDOW_DAYS:
        mean = (
            f"agg.dwell_seconds_sum_{d}d / nullif(agg.n_dwell_{d}d, 0)"
            if mean_from_sum
            else f"agg.dwell_seconds_mean_{d}d"
        )
        outs += [
            f"coalesce(agg.click_id_count_{d}d, 0) AS click_id_count_{d}d",
            f"agg.dwell_seconds_sum_{d}d",
            f"{mean} AS dwell_seconds_mean_{d}d",
        ]
    return f"""WITH k AS (SELECT DISTINCT user_id, {SPINE_TS} AS t, epoch_us({SPINE_TS}) AS tu FROM spine),
{probes}
e AS (
  SELECT user_id, event_time, epoch_us(event_time) AS eu{bucket_col}, click_id, dwell_seconds
  FROM read_parquet({_lit(events)})
  WHERE event_time <= (SELECT max(t) FROM k) AND event_time > (SELECT min(t) FROM k) - {_iv(widest)}),
agg AS (
  SELECT p.user_id, p.t,
         {("," + chr(10) + "         ").join(aggs)}
  FROM p JOIN e ON e.user_id = p.user_id{bucket_eq}
   AND {ev} <= {t} AND {ev} > {lo(widest)}
  GROUP BY p.user_id, p.t)
SELECT s.user_id, s.{SPINE_TS}, s.label,
       {("," + chr(10) + "       ").join(outs)}
FROM spine s LEFT JOIN agg ON agg.user_id = s.user_id AND agg.t = s.{SPINE_TS}"""


class DuckForms:
    """One DuckDB connection (UTC, default threads) running hand-written queries on the pandas
    spine (registered as view ``spine``, unregistered afterwards)."""

    def __init__(self, events: Path, threads: int | None = None) -> None:
        self.con = C.duckdb_connect(threads)
        self.events = events

    @property
    def threads(self) -> str:
        return str(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])

    def run_sql(self, sql: str, spine: pd.DataFrame) -> pd.DataFrame:
        self.con.register("spine", spine)
        try:
            return self.con.sql(sql).df()
        finally:
            self.con.unregister("spine")


# --------------------------------------------------------------------------------------------
# pandas
# --------------------------------------------------------------------------------------------


def _events_frame(events: pd.DataFrame | Path, users: pd.Series) -> pd.DataFrame:
    """The events (read from parquet when given a path: inside the timing, like the SQL forms) of
    the spine's users."""
    if not isinstance(events, pd.DataFrame):
        events = pd.read_parquet(events, columns=["user_id", "event_time", "click_id", "dwell_seconds"])
    return events[events["user_id"].isin(users.unique())]


def _by_row(result: pd.Series, n: int) -> np.ndarray:
    """A groupby-rolling result as an array in the frame's row order. Its index is (user_id,
    event_time), not the row: the frame is sorted by user and grouped with sort=False, so the
    groups come out in the frame's order and so do the rows."""
    if len(result) != n:
        raise AssertionError("groupby-rolling changed the number of rows")
    return result.to_numpy()


def pandas_rolling(events: pd.DataFrame | Path, spine: pd.DataFrame) -> pd.DataFrame:
    """Baseline 2, what a team hand-writes in pandas: put the spine rows (no values) into each
    user's event stream, after the events of the same instant, and take time-based rolling
    windows ``groupby("user_id").rolling("<w>D", on="event_time", closed="right")`` - the window
    (t - w, t] - read at the spine rows."""
    ev = _events_frame(events, spine["user_id"])
    sp = pd.DataFrame(
        {
            "user_id": spine["user_id"].to_numpy(),
            "event_time": spine[SPINE_TS].dt.tz_convert("UTC").dt.as_unit("us").array,
        }
    )
    df = pd.concat(
        [
            ev.assign(
                event_time=ev["event_time"].dt.tz_convert("UTC").dt.as_unit("us"),
                click_id=ev["click_id"].astype("float64"),
                kind=0,
            ),
            sp.assign(kind=1),
        ],
        ignore_index=True,
    )
    df["rid"] = np.concatenate([np.full(len(ev), -1), np.arange(len(spine))])
    df = df.sort_values(["user_id", "event_time", "kind"], kind="stable", ignore_index=True)
    at_spine = df["kind"].to_numpy() == 1
    rid = df["rid"].to_numpy()[at_spine]
    grouped = df[["user_id", "event_time", "click_id", "dwell_seconds"]].groupby("user_id", sort=False)
    out = spine.copy()
    for d in WINDOW_DAYS:
        counts = _by_row(
            grouped.rolling(f"{d}D", on="event_time", closed="right", min_periods=0)["click_id"].count(), len(df)
        )
        dwell = grouped.rolling(f"{d}D", on="event_time", closed="right", min_periods=1)["dwell_seconds"]
        for name, arr in (
            (f"click_id_count_{d}d", counts.astype(np.int64)),
            (f"dwell_seconds_sum_{d}d", _by_row(dwell.sum(), len(df))),
            (f"dwell_seconds_mean_{d}d", _by_row(dwell.mean(), len(df))),
        ):
            col = np.empty(len(spine), dtype=arr.dtype)
            col[rid] = arr[at_spine]
            out[name] = col
    return out[list(spine.columns) + FEATURES]


def pandas_cumsum_asof(events: pd.DataFrame | Path, spine: pd.DataFrame) -> pd.DataFrame:
    """The other hand-written pandas form: per-user running sums over the events in time order,
    ``merge_asof`` of the spine at t and at t - w (backward: the last row with event_time <= x,
    i.e. the last of tied events, whose running sum counts them all); window = difference."""
    ev = _events_frame(events, spine["user_id"]).sort_values("event_time", kind="stable")
    by_user = ev["user_id"]
    cum = pd.DataFrame(
        {
            "user_id": by_user.to_numpy(),
            "event_time": ev["event_time"].dt.tz_convert("UTC").dt.as_unit("us").array,
            "n_click": ev["click_id"].notna().astype(np.int64).groupby(by_user).cumsum().to_numpy(),
            "n_dwell": ev["dwell_seconds"].notna().astype(np.int64).groupby(by_user).cumsum().to_numpy(),
            "s_dwell": ev["dwell_seconds"].fillna(0.0).groupby(by_user).cumsum().to_numpy(),
        }
    )
    left = pd.DataFrame({"user_id": spine["user_id"].to_numpy(), "rid": np.arange(len(spine))})
    t = spine[SPINE_TS].dt.tz_convert("UTC")
    got = {}
    for d in (0, *WINDOW_DAYS):
        q = left.assign(at=(t - pd.Timedelta(days=d)).dt.as_unit("us").array).sort_values("at", kind="stable")
        m = pd.merge_asof(q, cum, left_on="at", right_on="event_time", by="user_id", direction="backward")
        rows = m["rid"].to_numpy()
        got[d] = {}
        for c in ("n_click", "n_dwell", "s_dwell"):
            arr = np.empty(len(spine))
            arr[rows] = m[c].fillna(0).to_numpy()
            got[d][c] = arr
    out = spine.copy()
    for d in WINDOW_DAYS:
        n_dwell = got[0]["n_dwell"] - got[d]["n_dwell"]
        s_dwell = got[0]["s_dwell"] - got[d]["s_dwell"]
        out[f"click_id_count_{d}d"] = (got[0]["n_click"] - got[d]["n_click"]).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"dwell_seconds_sum_{d}d"] = np.where(n_dwell > 0, s_dwell, np.nan)
            out[f"dwell_seconds_mean_{d}d"] = np.where(n_dwell > 0, s_dwell / n_dwell, np.nan)
    return out[list(spine.columns) + FEATURES]


# name -> (SQL builder over the events file, one line for the report). The spine is view "spine".
SQL_FORMS = {
    "range_join": (range_join_sql, "baseline: range LEFT JOIN over 30 d + FILTER per window, GROUP BY spine row"),
    "prefix_asof": (prefix_asof_sql, "prefix sums (RANGE frame) + 4 ASOF LEFT JOINs (t, t-1d, t-7d, t-30d)"),
    "prefix_asof_kahan": (lambda ev: prefix_asof_sql(ev, sum_fn="fsum"), "prefix_asof with fsum (Kahan) running sums"),
    "prefix_asof1": (prefix_asof1_sql, "prefix sums + ONE ASOF join of 4 probes per distinct (user, t), pivot"),
    "prefix_union": (prefix_union_sql, "prefix sums with the probes merged into the event stream, one window"),
    "range_frame": (range_frame_sql, "spine rows in the event stream, RANGE-frame window aggregates"),
    "daily": (daily_sql, "per user-day pre-aggregates + exact partial edge days"),
    "keyed_ts": (lambda ev: keyed_join_sql(ev, micros=False), "sqlfeat's plan, hand-written"),
    "keyed_us": (keyed_join_sql, "sqlfeat's plan on integer microseconds"),
    "keyed_us_b2": (
        lambda ev: keyed_join_sql(ev, buckets_per_window=2),
        "sqlfeat's plan on integer microseconds + bucket equality (15-day buckets, 3 probes)",
    ),
    "keyed_us_b4": (
        lambda ev: keyed_join_sql(ev, buckets_per_window=4),
        "sqlfeat's plan on integer microseconds + bucket equality (7.5-day buckets, 5 probes)",
    ),
    "keyed_us_b2_sc": (
        lambda ev: keyed_join_sql(ev, buckets_per_window=2, mean_from_sum=True),
        "keyed_us_b2 with mean = sum / count (6 aggregate states per window pair instead of avg)",
    ),
}
