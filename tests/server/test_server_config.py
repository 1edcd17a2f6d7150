"""``feature_server:`` in feature_store.yaml, checked like every section, and ``sqlfeat serve``'s
command line (no server started here)."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from sqlfeat.cli import cli
from sqlfeat.config import ConfigNotice, load_config
from sqlfeat.errors import ConfigError


def repo(tmp_path, server) -> str:
    (tmp_path / "feature_store.yaml").write_text(yaml.safe_dump({"project": "p", "feature_server": server}))
    return str(tmp_path)


def test_defaults_are_safe(tmp_path):
    options = load_config(repo(tmp_path, {})).feature_server
    assert (options.host, options.port, options.workers) == ("127.0.0.1", 6566, 1)
    assert options.auth.api_keys == [] and options.limits.max_entities == 10_000


def test_settings_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVE_KEY", "s3cret-key-0123456789")
    options = load_config(repo(tmp_path, {"port": 8080, "workers": 2, "auth": {"api_keys": ["${SERVE_KEY}"]},
                                          "limits": {"max_entities": 50}})).feature_server  # fmt: skip
    assert (options.port, options.workers, options.limits.max_entities) == (8080, 2, 50)
    assert options.auth.api_keys == ["s3cret-key-0123456789"]
    from sqlfeat.redact import redact

    assert "s3cret-key-0123456789" not in redact("key s3cret-key-0123456789 leaked")  # registered as a secret


@pytest.mark.parametrize(
    "server, words",
    [
        ({"prot": 1}, "unknown key `feature_server.prot`; did you mean `feature_server.port`?"),
        ({"limits": {"max_entites": 1}}, "did you mean `feature_server.limits.max_entities`?"),
        ({"auth": {"api_key": ["x" * 20]}}, "did you mean `feature_server.auth.api_keys`?"),
        ({"workers": "many"}, "feature_server.workers must be an integer, got 'many'"),
        ({"workers": 0}, "feature_server.workers must be a positive number"),
        ({"port": 70000}, "feature_server.port"),
        ({"limits": {"max_body_bytes": -1}}, "feature_server.limits.max_body_bytes must be a positive number"),
        ([1], "`feature_server` must be a mapping"),
    ],
)  # fmt: skip
def test_mistakes_are_named(tmp_path, server, words):
    with pytest.raises(ConfigError) as err:
        load_config(repo(tmp_path, server))
    assert words in str(err.value)


def test_a_short_key_is_refused_without_being_printed(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(repo(tmp_path, {"auth": {"api_keys": ["shortkey99"]}}))
    assert "at least 16" in str(err.value) and "shortkey99" not in str(err.value)


def test_feast_keys_are_accepted_with_a_notice(tmp_path):
    with pytest.warns(ConfigNotice) as notices:
        load_config(repo(tmp_path, {"enabled": True, "type": "local"}))
    messages = sorted(str(n.message) for n in notices)
    assert [m.split(": ", 1)[1] for m in messages] == [
        "feature_server.enabled is a Feast setting sqlfeat does not use; ignored",
        "feature_server.type is a Feast setting sqlfeat does not use; ignored",
    ]


def test_help_teaches():
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for words in ("POST /get-online-features", "--workers", "127.0.0.1", "X-API-Key", "curl", "feature_server"):
        assert words in result.output


def test_serve_without_a_registry_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["--chdir", repo(tmp_path, {}), "serve"])
    assert result.exit_code == 1 and "run `sqlfeat apply`" in result.output
