"""No secret from feature_store.yaml reaches a message, a log, a report, the registry or a page.

Passwords are drawn at random with every special character (quotes, backslashes, '@', ',', '=',
spaces, '%', unicode) and put where users put them: a Redis connection string, a redis:// URL,
PostgreSQL's `password` key and `url`. Every path that prints or writes is then searched for them.
"""

from __future__ import annotations

import json
import string
import urllib.parse
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlfeat import FeatureStore
from sqlfeat.errors import ConfigError, SqlfeatError
from sqlfeat.redact import MASK, redact, register_secret

SPECIALS = "'\"\\@,=;:/ %&?#!$^*()[]{}<>|`~+-é€"
passwords = st.text(alphabet=string.ascii_letters + string.digits + SPECIALS, min_size=8, max_size=24).filter(
    lambda p: p.strip() == p and any(c.isalnum() for c in p)
)


@pytest.fixture(autouse=True)
def _own_secrets(monkeypatch):
    """Secrets registered here (hundreds of random ones) must not mask other tests' messages."""
    import sqlfeat.redact

    monkeypatch.setattr(sqlfeat.redact, "_secrets", set(sqlfeat.redact._secrets))
    monkeypatch.setattr(sqlfeat.redact, "_pattern", sqlfeat.redact._pattern)


def _repo(root: Path, online: dict | None = None, offline: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = {"project": "shop", "registry": "data/registry.json", "offline_store": offline or {"type": "duckdb"},
              "online_store": online or {"type": "sqlite", "path": "data/online.db"}}  # fmt: skip
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    return root


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _read_error(store: FeatureStore) -> str:
    from sqlfeat.online.base import OnlineView
    from sqlfeat.types import Int64

    view = OnlineView("shop", "v", ("id",), (Int64,), ("x",), (Int64,))
    with pytest.raises(SqlfeatError) as raised:
        store.online_store.read(view, ["x"], ["1"])
    return str(raised.value)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=passwords.filter(lambda p: "," not in p), user=st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8))
def test_a_redis_password_never_shows(tmp_path_factory, password, user):
    port = _free_port()  # nothing listens: every read fails with an error message
    url = f"redis://{user}:{urllib.parse.quote(password, safe='')}@127.0.0.1:{port}/4"
    for connection_string, db in ((f"127.0.0.1:{port},db=3,password={password}", 3), (url, 4)):
        root = _repo(tmp_path_factory.mktemp("repo"), {"type": "redis", "connection_string": connection_string})
        store = FeatureStore(repo_path=root)
        assert store.online_target.store == f"redis online store at 127.0.0.1:{port} db {db}"
        message = _read_error(store)
        assert "127.0.0.1" in message
        for secret in (password, urllib.parse.quote(password, safe="")):
            assert secret not in message
    bad = _repo(tmp_path_factory.mktemp("repo"), {"type": "redis", "connection_string": f"127.0.0.1:{port},password={password},bogus=1"})
    with pytest.raises(ConfigError) as raised:
        FeatureStore(repo_path=bad).online_target  # noqa: B018
    assert password not in str(raised.value) and "bogus" in str(raised.value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=passwords)
def test_postgres_password_never_shows_and_cannot_inject_parameters(tmp_path_factory, password):
    """Keyword arguments reach libpq quoted by psycopg: a password with \\' cannot add a host."""
    port = _free_port()
    offline = {"type": "postgres", "host": "127.0.0.1", "port": port, "database": "test", "user": "nobody", "password": password}
    store = FeatureStore(repo_path=_repo(tmp_path_factory.mktemp("repo"), offline=offline))
    with pytest.raises(ConfigError) as raised:
        store.offline_store  # noqa: B018
    message = str(raised.value)
    assert password not in message
    assert f"port {port}" in message or str(port) in message, "the error is about the port we gave, not an injected host"


@pytest.mark.parametrize("password", ["p@ss'w\\'ord host=evil", "100%off", "a,b=c d", "tr!cky\"one"])
def test_a_malformed_postgres_url_is_not_quoted_with_its_password(tmp_path, password):
    url = f"postgresql://bob:{password}@127.0.0.1:{_free_port()}/test?sslmode=nonsense"
    store = FeatureStore(repo_path=_repo(tmp_path, offline={"type": "postgres", "url": url}))
    with pytest.raises(ConfigError) as raised:
        store.offline_store  # noqa: B018
    assert password not in str(raised.value) and "bob" not in str(raised.value).replace("bob:***", "")


def test_registry_catalog_and_check_reports_hold_no_secret(tmp_path, redis_url):
    """The registry's store field, run_results.json and the catalog pages, with a real Redis."""
    from click.testing import CliRunner

    from sqlfeat.cli import cli

    password = "Zq9!'\\@secret pass"
    host_port = redis_url.split("//")[1].split("/")[0]
    init = CliRunner().invoke(cli, ["init", str(tmp_path / "shop"), "--sample-end", "2024-02-01"])
    assert init.exit_code == 0, init.output
    root = tmp_path / "shop" / "feature_repo"
    config = yaml.safe_load((root / "feature_store.yaml").read_text())
    config["online_store"] = {"type": "redis", "connection_string": f"{host_port},db=5,password={password}"}
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    outputs = []
    for args in (["apply"], ["materialize-incremental", "2024-02-01"], ["check", "--no-data"], ["docs", "generate"]):
        result = CliRunner().invoke(cli, ["--chdir", str(root), *args])
        outputs.append(result.output)
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".sql", ".xml", ".txt")]
    assert files, "the commands wrote their files"
    for text in [*outputs, *(p.read_text(errors="replace") for p in files)]:
        assert password not in text and "secret pass" not in text
    registry = json.loads((root / "data" / "registry.json").read_text())
    assert all("db 5" in r.get("store_at", "db 5") for r in registry["materializations"].values())


@given(secret=passwords)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_redaction_masks_registered_secrets_and_password_shapes(secret):
    register_secret(secret)
    for text in (f"connect failed: {secret}", f"password={secret!r}", f"redis://u:{secret}@h:1/0 down"):
        assert secret not in redact(text)
    assert redact(redact(f"x {secret} y")) == redact(f"x {secret} y"), "redacting twice changes nothing more"
    assert MASK in redact(f"password=abc"), "an unregistered password=... pair is masked too"
