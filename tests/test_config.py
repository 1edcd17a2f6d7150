"""feature_store.yaml has a schema: unknown keys, wrong types and Feast's unused keys, as a class."""

from __future__ import annotations

import string
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlfeat import FeatureStore
from sqlfeat.config import ConfigNotice, load_config
from sqlfeat.errors import ConfigError

BASE = {
    "project": "shop",
    "registry": "data/registry.json",
    "offline_store": {"type": "duckdb", "database": "data/w.duckdb", "threads": 2},
    "online_store": {"type": "redis", "connection_string": "prod:6379", "key_ttl_seconds": 60},
}
SECTIONS = {
    "offline_store": {
        "duckdb": {"database": "x.duckdb", "threads": 2},
        "postgres": {"host": "h", "port": 5432, "database": "d", "user": "u", "password": "p", "sslmode": "require"},
        "bigquery": {"project": "p", "dataset": "d", "location": "EU"},
        "snowflake": {"account": "a", "user": "u", "password": "p", "database": "d", "schema": "s", "warehouse": "w"},
        "spark": {"spark_conf": {"spark.master": "local[2]"}, "remote": "sc://h:15002", "materialize_on_executors": True},
    },
    "online_store": {
        "sqlite": {"path": "data/o.db"},
        "redis": {"connection_string": "h:6379", "key_ttl_seconds": 60},
        "dynamodb": {"region": "us-east-1", "table_name": "t", "write_mode": "batch", "max_workers": 4},
    },
}


def _write(root: Path, config: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    return root


def _typo(word: str, data) -> str:
    """One edit of ``word``: a letter dropped, doubled, swapped or replaced."""
    kind = data.draw(st.sampled_from(["drop", "double", "swap", "replace"]))
    i = data.draw(st.integers(0, len(word) - 2))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    letter = data.draw(st.sampled_from([c for c in string.ascii_lowercase if c != word[i]]))
    return word[:i] + letter + word[i + 1 :]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_misspelt_key_anywhere_is_an_error_that_names_it_and_suggests_the_key(tmp_path_factory, data):
    section = data.draw(st.sampled_from(["", "offline_store", "online_store"]))
    if section:
        kind = data.draw(st.sampled_from(sorted(SECTIONS[section])))
        keys = SECTIONS[section][kind]
        key = data.draw(st.sampled_from(sorted(keys)))
        config = {"project": "shop", section: {"type": kind, **keys}}
        known = {"type", *keys}
    else:
        config = dict(BASE)
        key = data.draw(st.sampled_from(["project", "registry", "offline_store", "online_store"]))
        known = set(BASE)
    typo = _typo(key, data)
    if typo in known or typo in ("schema_",):
        return  # the edit made another real key
    target = config[section] if section else config
    target[typo] = target.pop(key)
    if not section and key == "project":
        target["project"] = "shop"  # keep the required key; the typo is an extra one
    root = _write(tmp_path_factory.mktemp("repo"), config)
    with pytest.raises(ConfigError) as raised:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigNotice)
            FeatureStore(repo_path=root)
    message = str(raised.value)
    assert f"unknown key `{section + '.' if section else ''}{typo}`" in message
    if len(key) > 4:
        assert f"did you mean `{section + '.' if section else ''}{key}`" in message, message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"registry": 5}, "`registry` must be a path (string) or a mapping with `path`, got int 5"),
        ({"offline_store": {"type": "duckdb", "threads": "many"}}, "offline_store.threads must be an integer, got 'many'"),
        ({"offline_store": {"type": "duckdb", "threads": 0}}, "offline_store.threads must be a positive number, got 0"),
        ({"online_store": {"type": "redis", "key_ttl_seconds": "a week"}}, "online_store.key_ttl_seconds must be an integer, got 'a week'"),
        ({"offline_store": {"type": ["duckdb"]}}, "`offline_store.type` must be a string like 'duckdb', got list"),
        ({"online_store": {"type": "dynamodb", "region": "r", "write_mode": "fast"}}, "online_store.write_mode must be 'conditional' or 'batch', got 'fast'"),
        ({"online_store": {"type": "dynamodb", "region": "r", "consistent_reads": "sometimes"}}, "online_store.consistent_reads must be true or false"),
        ({"offline_store": "oracle"}, "offline_store type 'oracle' is not a sqlfeat warehouse"),
        ({"online_store": 7}, "`online_store` must be a mapping like {type: sqlite}, got int"),
        ({"project": "my project"}, "`project` must be set to letters, digits and underscores"),
        ({"project": "shop\n"}, "`project` must be set to letters, digits and underscores"),
        ({"registry": {"registry_type": "sql", "path": "x"}}, "registry.registry_type 'sql' is not supported"),
        ({"online_store": {"type": "redis", "redis_type": "redis_cluster"}}, "online_store.redis_type must be 'redis'"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_type_names_the_key_and_the_type(tmp_path, change, message):
    root = _write(tmp_path, {**BASE, **change})
    with pytest.raises(ConfigError) as raised:
        load_config(root)
    assert message in str(raised.value)


def test_misspelt_keys_no_longer_fall_back_to_defaults(tmp_path):
    """`conection_string: prod:6379` used to quietly mean 127.0.0.1:6379."""
    config = {**BASE, "online_store": {"type": "redis", "conection_string": "prod:6379"}}
    with pytest.raises(ConfigError, match="unknown key `online_store.conection_string`; did you mean `online_store.connection_string`"):
        load_config(_write(tmp_path, config))
    for typo, meant in (("ofline_store", "offline_store"), ("regsitry", "registry")):
        with pytest.raises(ConfigError, match=f"did you mean `{meant}`"):
            load_config(_write(tmp_path, {**BASE, typo: BASE.get(meant, {})}))
    with pytest.raises(ConfigError, match="did you mean `online_store.path`"):
        load_config(_write(tmp_path, {**BASE, "online_store": {"type": "sqlite", "pth": "x.db"}}))
    with pytest.raises(ConfigError, match="did you mean `offline_store.database`"):
        load_config(_write(tmp_path, {**BASE, "offline_store": {"type": "postgres", "host": "h", "databse": "d"}}))


def test_feast_keys_sqlfeat_does_not_use_are_accepted_with_a_notice(tmp_path):
    config = {
        **BASE, "provider": "local", "entity_key_serialization_version": 2,
        "registry": {"path": "data/registry.json", "cache_ttl_seconds": 60},
        "offline_store": {"type": "file"},
        "online_store": {"type": "redis", "connection_string": "h:6379", "redis_type": "redis", "full_scan_for_deletion": True},
    }  # fmt: skip
    with pytest.warns(ConfigNotice) as notices:
        loaded = load_config(_write(tmp_path, config))
    said = sorted(str(w.message) for w in notices)
    assert len(said) == 4 and all("is a Feast setting sqlfeat does not use; ignored" in m for m in said), said
    assert any("provider" in m for m in said) and any("registry.cache_ttl_seconds" in m for m in said)
    assert loaded.offline_type == "file" and loaded.online_store["connection_string"] == "h:6379"


def test_values_are_coerced_and_defaults_filled(tmp_path):
    config = {**BASE, "offline_store": {"type": "duckdb", "threads": "3"}, "online_store": "sqlite"}
    loaded = load_config(_write(tmp_path, config))
    assert loaded.offline_store == {"type": "duckdb", "database": ":memory:", "threads": 3}
    assert loaded.online_store == {"type": "sqlite", "path": "data/online_store.db"}


def test_the_cli_says_it_in_one_line_with_exit_status_2(tmp_path):
    from click.testing import CliRunner

    from sqlfeat.cli import cli

    root = _write(tmp_path, {**BASE, "online_store": {"type": "redis", "conection_string": "prod:6379"}})
    result = CliRunner().invoke(cli, ["--chdir", str(root), "list"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "online_store.conection_string" in result.output
