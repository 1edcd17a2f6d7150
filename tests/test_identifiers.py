"""Identifiers: a table-name argument is a table name on every dialect, never SQL; names match whole
and never take sqlfeat's reserved prefix; a user mistake is one clear line."""

from __future__ import annotations

import string
from datetime import timedelta

import pandas as pd
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from conftest import write_repo
from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import DefinitionError, EntityDataFrameError, UsageError
from sqlfeat.types import Int64
from sqlfeat.warehouses import WAREHOUSES, get_dialect

user = Entity(name="user_id", value_type=ValueType.INT64)
source = FileSource(path="data/clicks.parquet", timestamp_field="event_time")
clicks = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=1), source=source,
                     schema=[Field(name="click_count", dtype=Int64)])  # fmt: skip


@pytest.mark.parametrize("dialect", list(WAREHOUSES))
@pytest.mark.parametrize(
    "name",
    ["read_csv('/some/file')", "read_text('/etc/passwd')", "t; DROP TABLE x", "a b", 'my "odd" table', "(SELECT 1)",
     "x.y.z.w", "t\nx", "", "FROM t", "t -- comment", "generate_series(1, 3)", "a..b"],
)  # fmt: skip
def test_anything_but_a_table_name_is_refused(dialect, name):
    with pytest.raises(UsageError, match="is not a table name"):
        get_dialect(dialect).table(name)


part = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.text(alphabet=string.printable + "é€", min_size=1, max_size=12).filter(lambda t: "\x00" not in t),
)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(part, min_size=1, max_size=3), dialect=st.sampled_from(list(WAREHOUSES)))
def test_a_quoted_table_name_of_any_text_is_one_quoted_table(parts, dialect):
    """Each part, quoted with its quotes doubled, comes out as exactly that identifier: nothing a
    name holds can end the identifier, add a statement or call a function."""
    target = get_dialect(dialect)
    quoted = ".".join('"' + p.replace('"', '""') + '"' for p in parts)
    if dialect == "bigquery":
        quoted = ".".join("`" + p.replace("`", "``") + "`" for p in parts)
        if any("." in p for p in parts):
            return  # BigQuery reads dots inside backquotes as separators: another table, by design
    table = target.table(quoted)
    assert [i.name for i in table.parts] == parts and all(i.quoted for i in table.parts)
    rendered = target.render(exp.select("*").from_(table), pretty=False)
    parsed = sqlglot.parse(rendered, read=target.SQLGLOT_DIALECT)
    assert len(parsed) == 1 and not list(parsed[0].find_all(exp.Anonymous)) and len(list(parsed[0].find_all(exp.Table))) == 1


@pytest.fixture
def store(make_repo):
    frame = pd.DataFrame({"user_id": [1], "event_time": pd.to_datetime(["2024-01-01"], utc=True), "click_count": [3]})
    s = FeatureStore(repo_path=make_repo({"clicks": frame}))
    s.apply([user, clicks])
    return s


@pytest.mark.parametrize("spine", ["read_csv('/etc/hostname')", "read_text('/etc/passwd')", 'x"y'])
def test_a_spine_given_as_text_is_a_table_or_a_select(store, spine):
    with pytest.raises(UsageError, match="is not a table name"):
        store.get_historical_features(spine, ["clicks:click_count"])
    with pytest.raises(UsageError, match="is not a table name"):
        store.compile_historical_features(["clicks:click_count"], spine)


def test_an_unparsable_spine_query_is_one_line(store):
    with pytest.raises(UsageError, match="this query is not valid DuckDB SQL"):
        store.get_historical_features("SELECT FROM WHERE (", ["clicks:click_count"])
    with pytest.raises(UsageError, match="expected one SELECT query"):
        store.get_historical_features("SELECT 1; SELECT 2", ["clicks:click_count"])


@pytest.mark.parametrize("name", ["clicks\n", "__sqlfeat_event_ts", "__SQLFEAT_x", "a-b", "1a", "a b", ""])
def test_names_match_whole_and_the_reserved_prefix_is_refused(name):
    with pytest.raises(DefinitionError):
        Field(name=name, dtype=Int64)
    with pytest.raises(DefinitionError):
        Entity(name=name)
    with pytest.raises(DefinitionError):
        FeatureView(name=name, entities=[user], source=source, schema=[])


def test_a_feature_cannot_impersonate_sqlfeats_internal_event_time():
    with pytest.raises(DefinitionError, match="reserves"):
        FeatureView(name="v", entities=[user], source=source, schema=[Field(name="__sqlfeat_event_ts", dtype=Int64)])


def test_spine_columns_must_be_unique_and_not_reserved(store):
    times = pd.to_datetime(["2024-01-02"], utc=True)
    twice = pd.DataFrame([[1, times[0], 5, 6]], columns=["user_id", "event_timestamp", "label", "label"])
    with pytest.raises(EntityDataFrameError, match=r"more than one column named \['label'\]"):
        store.get_historical_features(twice, ["clicks:click_count"])
    reserved = pd.DataFrame({"user_id": [1], "event_timestamp": times, "__sqlfeat_row": [0]})
    with pytest.raises(EntityDataFrameError, match="reserved by sqlfeat"):
        store.get_historical_features(reserved, ["clicks:click_count"])


def test_asof_on_a_warehouse_without_it_is_a_usage_error(store, tmp_path):
    with pytest.raises(UsageError, match="postgres has no ASOF JOIN"):
        store.compile_historical_features(["clicks:click_count"], "t", dialect="postgres", strategy="asof")
    from click.testing import CliRunner

    from sqlfeat.cli import cli

    result = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "compile", "-f", "clicks:click_count",
                                      "--dialect", "postgres", "--strategy", "asof"])  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output and "no ASOF JOIN" in result.output


def test_to_table_takes_a_table_name_only(store):
    job = store.get_historical_features(
        pd.DataFrame({"user_id": [1], "event_timestamp": pd.to_datetime(["2024-01-02"], utc=True)}), ["clicks:click_count"]
    )
    with pytest.raises(UsageError, match="is not a table name"):
        job.to_table("t; DROP TABLE clicks")
    assert job.to_table('"training set"') == '"training set"'
    assert store.offline_store.fetch_arrow('SELECT * FROM "training set"').num_rows == 1


def test_a_source_table_that_is_a_function_call_is_refused(tmp_path):
    from sqlfeat import DuckDBSource

    repo = write_repo(tmp_path)
    fishy = FeatureView(name="v", entities=[user], source=DuckDBSource(table="read_csv('/etc/hostname')", timestamp_field="t"),
                        schema=[Field(name="x", dtype=Int64)])  # fmt: skip
    with pytest.raises(UsageError, match="is not a table name"):
        FeatureStore(repo_path=repo).apply([user, fishy])
