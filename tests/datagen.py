"""Generators of small random point-in-time scenarios.

A :class:`Scenario` holds a spine, the entities and feature views (with their source
DataFrames) and the features requested.  It can be turned into reference views
(:meth:`Scenario.ref_views`) and into sqlfeat definitions (done by the tests, so that
this module never imports sqlfeat).

:func:`random_scenario` draws one from a seeded ``numpy`` generator; it mixes in:

* many ties on event_ts, broken by a created timestamp (ties on event_ts are only
  generated when the view has a created column; created timestamps are unique, so
  every tie has one winner);
* source rows planted exactly at a spine row's ``t``, ``t + 1us``, ``t - ttl`` and
  ``t - ttl - 1us``;
* null feature values, null event timestamps (never a candidate), null string keys;
* spine entities absent from every source, duplicated spine rows, shuffled spines,
  non-default spine indexes;
* naive, UTC and non-UTC aware (Asia/Shanghai, America/New_York, across a DST switch)
  timestamps on both sides, ``us`` and ``ns`` units;
* composite keys (``user_id`` + ``merchant_id``); several views with different TTLs
  (``None``, ``0`` = no TTL, hours, days) sharing an entity;
* field_mapping renames of feature columns, extra unused source columns;
* int64 (never null), float64 / float32 (NaN), string (None) and bool features.

:func:`scenario_strategy` is a hypothesis strategy for a deliberately tiny variant
(one or two views, few keys, a small time grid) that shrinks well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from reference import RefView

BASE = pd.Timestamp("2024-03-09 00:00:00", tz="UTC")  # 2024-03-10 07:00Z is a DST switch in New York
HOUR = pd.Timedelta(hours=1)
US = pd.Timedelta(microseconds=1)

TIMEZONES = [None, "UTC", "Asia/Shanghai", "America/New_York"]  # None = naive (meaning UTC)
UNITS = ["us", "ns"]
DTYPES = ["Int64", "Float64", "Float32", "String", "Bool"]  # sqlfeat.types names
TTL_CHOICES = [
    None,
    dt.timedelta(0),
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
    dt.timedelta(hours=2, minutes=30),
    dt.timedelta(days=1),
    dt.timedelta(days=3),
]
WORDS = ["a", "b", "click", "", "北京", "naïve", "O'Brien", "x y"]


@dataclass
class EntitySpec:
    name: str
    join_key: str
    value_type: str  # "INT64" | "STRING"  (sqlfeat.ValueType member names)


@dataclass
class ViewSpec:
    name: str
    entity_names: list[str]
    join_keys: list[str]  # spine column names, in entity order
    source: pd.DataFrame
    timestamp_field: str
    created_timestamp_column: str | None
    ttl: dt.timedelta | None
    schema: list[tuple[str, str]]  # (feature name after field_mapping, dtype name)
    field_mapping: dict[str, str] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)  # feature names, request order

    def source_column(self, feature: str) -> str:
        for src_col, mapped in self.field_mapping.items():
            if mapped == feature:
                return src_col
        return feature

    def ref_view(self) -> RefView:
        return RefView(
            name=self.name,
            join_keys=list(self.join_keys),
            source=self.source,
            timestamp_field=self.timestamp_field,
            features=[self.source_column(f) for f in self.requested],
            ttl=self.ttl,
            created_timestamp_column=self.created_timestamp_column,
            field_mapping=dict(self.field_mapping),
        )


@dataclass
class Scenario:
    seed: object
    spine: pd.DataFrame
    timestamp_column: str
    entities: list[EntitySpec]
    views: list[ViewSpec]
    full_feature_names: bool = False

    def ref_views(self) -> list[RefView]:
        return [v.ref_view() for v in self.views if v.requested]

    def feature_refs(self) -> list[str]:
        return [f"{v.name}:{f}" for v in self.views for f in v.requested]

    def describe(self) -> str:
        lines = [
            f"scenario seed={self.seed!r}: spine {len(self.spine)} rows, time column "
            f"{self.timestamp_column!r} ({self.spine[self.timestamp_column].dtype}), "
            f"full_feature_names={self.full_feature_names}"
        ]
        for v in self.views:
            lines.append(
                f"  view {v.name}: keys={v.join_keys} ttl={v.ttl} created={v.created_timestamp_column} "
                f"ts dtype={v.source[v.timestamp_field].dtype} rows={len(v.source)} "
                f"mapping={v.field_mapping} requested={v.requested}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def localize(instants_utc: pd.DatetimeIndex | pd.Series, tz: str | None, unit: str = "us") -> pd.Series:
    """UTC instants rendered in ``tz`` (None: naive wall-clock UTC) with ``unit``."""
    idx = pd.DatetimeIndex(instants_utc)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    idx = idx.tz_convert("UTC")
    if tz is None:
        idx = idx.tz_localize(None)
    else:
        idx = idx.tz_convert(tz)
    return pd.Series(idx.as_unit(unit))


def _feature_values(rng: np.random.Generator, dtype: str, n: int, null_rate: float) -> pd.Series:
    nulls = rng.random(n) < null_rate
    if dtype == "Int64":
        return pd.Series(rng.integers(-1000, 1000, size=n), dtype="int64")  # never null
    if dtype == "Float64":
        values = np.round(rng.normal(0, 100, size=n), 3)
        values[nulls] = np.nan
        return pd.Series(values, dtype="float64")
    if dtype == "Float32":
        values = rng.normal(0, 100, size=n).astype("float32")
        values[nulls] = np.nan
        return pd.Series(values, dtype="float32")
    if dtype == "String":
        values = [None if nulls[i] else WORDS[rng.integers(len(WORDS))] for i in range(n)]
        # pandas 3 infers the "str" dtype; sometimes keep plain object columns too.
        return pd.Series(values, dtype=object if rng.random() < 0.5 else None)
    if dtype == "Bool":
        return pd.Series(rng.random(n) < 0.5, dtype="bool")  # never null
    raise ValueError(dtype)


def _key_value(key_type: str, i: int):
    return f"u{i}" if key_type == "STRING" else i


def _key_series(key_type: str, values: list) -> pd.Series:
    if key_type == "STRING":
        return pd.Series(values)  # pandas 3 infers its "str" dtype
    return pd.Series(values, dtype="int64")


# --------------------------------------------------------------------------------------
# random scenarios
# --------------------------------------------------------------------------------------


def random_scenario(seed: int, max_spine_rows: int = 200) -> Scenario:
    rng = np.random.default_rng(seed)

    # ---- entities ----------------------------------------------------------------------
    composite = rng.random() < 0.35
    user_key_type = "STRING" if rng.random() < 0.25 else "INT64"
    user_entity_name = "user_id" if rng.random() < 0.6 else "user"
    entities = [EntitySpec(user_entity_name, "user_id", user_key_type)]
    if composite:
        entities.append(EntitySpec("merchant", "merchant_id", "INT64"))

    n_users = int(rng.integers(1, 8))
    n_merchants = int(rng.integers(1, 4))

    # ---- spine -------------------------------------------------------------------------
    n_spine = int(rng.integers(1, max_spine_rows + 1)) if rng.random() < 0.7 else int(rng.integers(1, 12))
    n_spine = min(n_spine, max_spine_rows)
    # spine users include ids absent from every source (n_users, n_users + 1)
    spine_users = np.where(
        rng.random(n_spine) < 0.85,
        rng.integers(0, n_users, size=n_spine),
        rng.integers(n_users, n_users + 2, size=n_spine),
    )
    hours = rng.integers(0, 72, size=n_spine)
    offsets = np.where(rng.random(n_spine) < 0.3, rng.integers(1, 3600, size=n_spine), 0)
    micro = np.where(rng.random(n_spine) < 0.1, rng.integers(1, 1_000_000, size=n_spine), 0)
    spine_instants = (
        BASE
        + pd.to_timedelta(hours, unit="h")
        + pd.to_timedelta(offsets, unit="s")
        + pd.to_timedelta(micro, unit="us")
    )
    spine_instants = pd.DatetimeIndex(spine_instants)

    spine_tz = TIMEZONES[rng.integers(len(TIMEZONES))]
    spine_unit = UNITS[rng.integers(len(UNITS))]
    ts_name = "event_timestamp" if rng.random() < 0.8 else ["ts", "request_time"][rng.integers(2)]

    spine = pd.DataFrame(
        {"user_id": _key_series(user_key_type, [_key_value(user_key_type, int(u)) for u in spine_users])}
    )
    if composite:
        spine["merchant_id"] = pd.Series(rng.integers(0, n_merchants + 1, size=n_spine), dtype="int64")
    spine[ts_name] = localize(spine_instants, spine_tz, spine_unit)
    if rng.random() < 0.1:  # a few spine rows without a time: kept, with null features
        spine.loc[rng.random(n_spine) < 0.05, ts_name] = pd.NaT
    spine["label"] = np.round(rng.random(n_spine), 3)
    if rng.random() < 0.3:
        spine["note"] = [WORDS[i] for i in rng.integers(len(WORDS), size=n_spine)]
    if ts_name == "event_timestamp" and rng.random() < 0.25:
        # a second datetime column is fine when `event_timestamp` is present
        spine["label_time"] = localize(spine_instants + pd.Timedelta(days=1), spine_tz, "us")

    spine.insert(0, "row_id", np.arange(len(spine), dtype="int64"))
    # duplicate some rows exactly (row_id included), then shuffle
    if n_spine > 1 and rng.random() < 0.6:
        dup = rng.integers(0, n_spine, size=max(1, n_spine // 10))
        spine = pd.concat([spine, spine.iloc[dup]], ignore_index=True)
    spine = spine.iloc[rng.permutation(len(spine))].reset_index(drop=True)
    spine = spine.iloc[:max_spine_rows]
    index_kind = rng.integers(3)
    if index_kind == 1:
        spine.index = pd.Index(rng.permutation(len(spine)) * 3 + 100)
    elif index_kind == 2:
        spine.index = pd.Index([f"r{i}" for i in range(len(spine))])

    # ---- views -------------------------------------------------------------------------
    full_feature_names = bool(rng.random() < 0.3)
    n_views = int(rng.integers(1, 4))
    views: list[ViewSpec] = []
    for vi in range(n_views):
        on_composite = composite and (vi == 0 or rng.random() < 0.4)
        view_entities = entities if on_composite else entities[:1]
        name = f"view{vi}" + ("_um" if on_composite else "_u")
        ttl = TTL_CHOICES[rng.integers(len(TTL_CHOICES))]
        has_created = bool(rng.random() < 0.5)

        n_rows = int(rng.integers(1, 120))
        src_users = rng.integers(0, n_users, size=n_rows)
        # with a created column: a coarse 4-hour grid, so many ties on event_ts
        if has_created:
            ev_hours = rng.integers(-6, 18, size=n_rows) * 4
        else:
            ev_hours = rng.integers(-24, 72, size=n_rows)
        ev_secs = np.where(rng.random(n_rows) < 0.2, rng.integers(1, 3600, size=n_rows), 0)
        ev = list(
            pd.DatetimeIndex(BASE + pd.to_timedelta(ev_hours, unit="h") + pd.to_timedelta(ev_secs, unit="s"))
        )
        users = [int(u) for u in src_users]
        merchants = [int(m) for m in rng.integers(0, n_merchants, size=n_rows)]

        # plant boundary rows around some spine rows
        n_plant = int(rng.integers(0, 6))
        for _ in range(n_plant):
            pos = int(rng.integers(len(spine)))
            u_val = spine["user_id"].iloc[pos]
            if user_key_type == "STRING":
                u = int(str(u_val)[1:])
            else:
                u = int(u_val)
            if u >= n_users:
                continue
            m = int(spine["merchant_id"].iloc[pos]) if on_composite else int(rng.integers(0, n_merchants))
            if on_composite and m >= n_merchants:
                continue
            t = pd.Timestamp(spine[ts_name].iloc[pos])
            if pd.isna(t):
                continue
            t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
            points = [t, t + US]
            if ttl:
                points += [t - ttl, t - ttl - US]
            for p in points:
                if rng.random() < 0.8:
                    ev.append(p)
                    users.append(u)
                    merchants.append(m)
        n_rows = len(ev)

        # a few null event timestamps: never candidates
        null_ev = rng.random(n_rows) < 0.05
        ev_idx = pd.DatetimeIndex(ev).tz_convert("UTC").as_unit("us")
        ev_idx = pd.DatetimeIndex([pd.NaT if null_ev[i] else ev_idx[i] for i in range(n_rows)], tz="UTC")

        src = pd.DataFrame({"user_id": [_key_value(user_key_type, u) for u in users]})
        if user_key_type == "STRING":
            src["user_id"] = pd.Series(
                [None if rng.random() < 0.04 else v for v in src["user_id"]], dtype=object
            )
        else:
            src["user_id"] = src["user_id"].astype("int64")
        if on_composite:
            src["merchant_id"] = pd.Series(merchants, dtype="int64")

        ts_field = "event_time" if rng.random() < 0.5 else "ts"
        src_tz = TIMEZONES[rng.integers(len(TIMEZONES))]
        src[ts_field] = localize(ev_idx, src_tz, UNITS[rng.integers(len(UNITS))])

        created_col = None
        if has_created:
            created_col = "created" if rng.random() < 0.5 else "ingested_at"
            # unique created timestamps, in an order unrelated to event_ts
            created_secs = rng.permutation(n_rows) * 7
            created = BASE - pd.Timedelta(days=2) + pd.to_timedelta(created_secs, unit="s")
            src[created_col] = localize(pd.DatetimeIndex(created), TIMEZONES[rng.integers(len(TIMEZONES))], "us")

        # features
        n_feat = int(rng.integers(1, 4))
        schema: list[tuple[str, str]] = []
        mapping: dict[str, str] = {}
        for fj in range(n_feat):
            dtype = DTYPES[rng.integers(len(DTYPES))]
            if full_feature_names and rng.random() < 0.5:
                fname = f"value{fj}"  # same name in several views: fine with full names
            else:
                fname = f"f{vi}_{fj}_{dtype.lower()}"
            if fname in {s[0] for s in schema}:
                fname = f"{fname}_{fj}"
            if rng.random() < 0.3:
                src_col = f"raw_{fname}"
                mapping[src_col] = fname
            else:
                src_col = fname
            src[src_col] = _feature_values(rng, dtype, n_rows, null_rate=0.15)  # src has a RangeIndex here
            schema.append((fname, dtype))
        if rng.random() < 0.3:
            src["unused_extra"] = rng.integers(0, 5, size=n_rows)

        # no created column: ties on (keys, event_ts) would have no defined winner
        key_cols = ["user_id"] + (["merchant_id"] if on_composite else [])
        if not has_created:
            nonnull = src[ts_field].notna()
            instants = src[ts_field].map(lambda x: pd.Timestamp(x).value if pd.notna(x) else None)
            dupes = pd.DataFrame({**{k: src[k].astype(str) for k in key_cols}, "_i": instants}).duplicated()
            src = src[~(dupes & nonnull)]
        src = src.iloc[rng.permutation(len(src))].reset_index(drop=True)

        # the features requested: a non-empty subset, in schema order
        k = int(rng.integers(1, len(schema) + 1))
        chosen = sorted(rng.choice(len(schema), size=k, replace=False).tolist())
        requested = [schema[i][0] for i in chosen]

        views.append(
            ViewSpec(
                name=name,
                entity_names=[e.name for e in view_entities],
                join_keys=[e.join_key for e in view_entities],
                source=src,
                timestamp_field=ts_field,
                created_timestamp_column=created_col,
                ttl=ttl,
                schema=schema,
                field_mapping=mapping,
                requested=requested,
            )
        )

    return Scenario(
        seed=seed,
        spine=spine,
        timestamp_column=ts_name,
        entities=entities,
        views=views,
        full_feature_names=full_feature_names,
    )


# --------------------------------------------------------------------------------------
# a tiny hypothesis strategy (shrinks to readable counterexamples)
# --------------------------------------------------------------------------------------


def scenario_strategy():
    """A hypothesis strategy of tiny scenarios: 1-2 views on ``user_id``, keys 0..3,
    times on an hour grid (0..8h) with occasional +-1us nudges."""
    from hypothesis import strategies as st

    ttl_st = st.sampled_from([None, dt.timedelta(0), dt.timedelta(hours=1), dt.timedelta(hours=3)])
    tz_st = st.sampled_from(TIMEZONES)
    nudge_st = st.sampled_from([0, 0, 0, 1, -1])

    def instant(hour: int, nudge: int) -> pd.Timestamp:
        return BASE + hour * HOUR + nudge * US

    @st.composite
    def build(draw):
        spine_rows = draw(
            st.lists(
                st.tuples(st.integers(0, 3), st.integers(0, 8), nudge_st), min_size=1, max_size=8
            )
        )
        spine_tz = draw(tz_st)
        spine = pd.DataFrame(
            {
                "user_id": pd.Series([r[0] for r in spine_rows], dtype="int64"),
                "event_timestamp": localize(
                    pd.DatetimeIndex([instant(r[1], r[2]) for r in spine_rows]), spine_tz
                ),
            }
        )
        spine["row_id"] = np.arange(len(spine), dtype="int64")

        views = []
        for vi in range(draw(st.integers(1, 2))):
            has_created = draw(st.booleans())
            rows = draw(
                st.lists(
                    st.tuples(
                        st.integers(0, 2),  # user (3 is never in a source)
                        st.one_of(st.none(), st.integers(0, 8)),  # None: null event ts
                        nudge_st,
                        st.one_of(st.none(), st.floats(-100, 100, allow_nan=False, width=32)),
                    ),
                    min_size=0,
                    max_size=10,
                )
            )
            if not has_created:
                seen, kept = set(), []
                for r in rows:
                    key = (r[0], r[1], r[2]) if r[1] is not None else None
                    if key is not None and key in seen:
                        continue
                    if key is not None:
                        seen.add(key)
                    kept.append(r)
                rows = kept
            src_tz = draw(tz_st)
            ev = pd.DatetimeIndex(
                [pd.NaT if r[1] is None else instant(r[1], r[2]) for r in rows], tz="UTC"
            ).as_unit("us")
            src = pd.DataFrame(
                {
                    "user_id": pd.Series([r[0] for r in rows], dtype="int64"),
                    "event_time": localize(ev, src_tz),
                    f"amount{vi}": pd.Series(
                        [np.nan if r[3] is None else r[3] for r in rows], dtype="float64"
                    ),
                    f"n{vi}": pd.Series(np.arange(len(rows)), dtype="int64"),
                }
            )
            created_col = None
            if has_created:
                created_col = "created"
                perm = draw(st.permutations(list(range(len(rows)))))
                src["created"] = localize(
                    pd.DatetimeIndex([BASE + pd.Timedelta(seconds=p) for p in perm]), draw(tz_st)
                )
            views.append(
                ViewSpec(
                    name=f"hv{vi}",
                    entity_names=["user_id"],
                    join_keys=["user_id"],
                    source=src,
                    timestamp_field="event_time",
                    created_timestamp_column=created_col,
                    ttl=draw(ttl_st),
                    schema=[(f"amount{vi}", "Float64"), (f"n{vi}", "Int64")],
                    requested=[f"amount{vi}", f"n{vi}"],
                )
            )
        return Scenario(
            seed="hypothesis",
            spine=spine,
            timestamp_column="event_timestamp",
            entities=[EntitySpec("user_id", "user_id", "INT64")],
            views=views,
            full_feature_names=False,
        )

    return build()


# --------------------------------------------------------------------------------------
# running a scenario through sqlfeat (imported lazily: this module must import without it)
# --------------------------------------------------------------------------------------

def build_repo(scenario: Scenario, repo_dir) -> tuple[list, list]:
    """Write ``feature_store.yaml`` and the sources (parquet files, or tables in the current
    warehouse: ``HARNESS``) under ``repo_dir``; return (sqlfeat entities, sqlfeat feature views)."""
    from pathlib import Path

    from conftest import write_repo
    from sqlfeat import Entity, FeatureView, Field, ValueType
    from sqlfeat import types as sf_types

    repo_dir = Path(repo_dir)
    harness = HARNESS["value"]
    write_repo(repo_dir, offline_store=harness.offline_store)

    entities = {
        e.name: Entity(name=e.name, join_keys=[e.join_key], value_type=getattr(ValueType, e.value_type))
        for e in scenario.entities
    }
    views = []
    for v in scenario.views:
        kwargs = {"timestamp_field": v.timestamp_field}
        if v.created_timestamp_column:
            kwargs["created_timestamp_column"] = v.created_timestamp_column
        if v.field_mapping:
            kwargs["field_mapping"] = dict(v.field_mapping)
        views.append(
            FeatureView(
                name=v.name,
                entities=[entities[n] for n in v.entity_names],
                ttl=v.ttl,
                schema=[Field(name=f, dtype=getattr(sf_types, d)) for f, d in v.schema],
                source=harness.source(repo_dir, f"{v.name}_{repo_dir.parent.name[-10:]}", v.source, **kwargs),
            )
        )
    return list(entities.values()), views


def _duckdb_harness():
    from warehouses import Harness

    return Harness("duckdb", {"type": "duckdb"})


# The warehouse (and PIT strategy) run_sqlfeat uses; tests parametrize it over every target.
HARNESS = {"value": _duckdb_harness()}


def run_sqlfeat(scenario: Scenario, repo_dir, *, spine=None, features=None, full_feature_names=None, strategy=None):
    """Apply the scenario's definitions in a fresh repo and return (store, job)."""
    from sqlfeat import FeatureStore

    entities, views = build_repo(scenario, repo_dir)
    store = FeatureStore(repo_path=str(repo_dir))
    store.apply([*entities, *views])
    job = store.get_historical_features(
        entity_df=scenario.spine if spine is None else spine,
        features=scenario.feature_refs() if features is None else features,
        full_feature_names=scenario.full_feature_names if full_feature_names is None else full_feature_names,
        strategy=strategy or HARNESS["value"].strategy,
    )
    return store, job
