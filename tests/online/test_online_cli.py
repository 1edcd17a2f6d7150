"""The online commands on the quickstart demo repo, on every store: consistency must be 100%."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from sqlfeat.cli import cli


def run(repo, *args: str, status: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--chdir", str(repo), *args])
    assert result.exit_code == status, result.output
    return result.output


# DynamoDB's conditional mode makes one request per entity: moto needs ~18 s for this repo's 4,000
# writes, so here it runs in batch mode (the suite covers conditional writes on smaller data).
@pytest.mark.parametrize("online_config", ["sqlite", "redis", "dynamodb-batch"], indirect=True)
def test_quickstart_repo_is_fully_consistent_online(tmp_path, project, online_config):
    run(tmp_path, "init", str(tmp_path / "demo"), "--sample-end", "2024-02-01")
    repo = tmp_path / "demo" / "feature_repo"
    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    config.update(project=project, online_store=online_config)
    (repo / "feature_store.yaml").write_text(yaml.safe_dump(config))
    run(repo, "apply")

    first = run(repo, "materialize", "2023-01-01", "2024-01-01")
    assert "user_clicks_30d: 1,000 entities from 2023-01-01T00:00:00+00:00" in first
    incremental = run(repo, "materialize-incremental", "2024-02-01T00:00:00Z")
    assert "from 2024-01-01T00:00:00+00:00 to 2024-02-01T00:00:00+00:00" in incremental
    assert "Materialized" in incremental and "rows/s" in incremental

    report = run(repo, "consistency")
    assert "user_clicks_30d at 2024-02-01T00:00:00+00:00: 1,000 entities, 1,000 matched (100.00%)" in report
    assert "user_profile at 2024-02-01T00:00:00+00:00: 1,000 entities, 1,000 matched (100.00%)" in report
    assert "2,000/2,000 entities match (100.00%): consistent" in report
    assert "matched (100.00%)" in run(repo, "consistency", "--sample", "50", "-v", "user_profile")

    result = CliRunner().invoke(cli, ["--chdir", str(repo), "get-online-features", "-f", "user_profile:country,user_profile:is_premium",
                                      "-f", "user_clicks_30d:click_count", "--entity", "user_id=1", "-e", "user_id=123456"])  # fmt: skip
    values = json.loads(result.stdout)
    assert list(values) == ["user_id", "country", "country__status", "is_premium", "is_premium__status", "click_count",
                            "click_count__status"]  # fmt: skip
    assert values["user_id"] == [1, 123456] and values["country"][1] is None
    assert isinstance(values["country"][0], str) and values["click_count"] == [None, None], "30-day TTL: expired now"
    assert values["click_count__status"] == ["OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert values["country__status"] == ["PRESENT", "NOT_FOUND"]
    assert "user_clicks_30d for user_id=1 is OUTSIDE_MAX_AGE: its event time 2024-01-" in result.stderr
    assert "ttl (30 days)" in result.stderr and "user_profile for user_id=123456 is NOT_FOUND" in result.stderr
    # Read as of the materialization time, the same record is PRESENT.
    as_of = CliRunner().invoke(cli, ["--chdir", str(repo), "get-online-features", "-f", "user_clicks_30d:click_count",
                                     "-e", "user_id=1", "--as-of", "2024-02-01"])  # fmt: skip
    assert json.loads(as_of.stdout)["click_count__status"] == ["PRESENT"], as_of.output


def test_consistency_exits_non_zero_on_a_mismatch(tmp_path, project):
    import sqlite3

    run(tmp_path, "init", str(tmp_path / "demo"), "--sample-end", "2024-02-01")
    repo = tmp_path / "demo" / "feature_repo"
    run(repo, "apply")
    run(repo, "materialize-incremental", "2024-02-01")
    connection = sqlite3.connect(repo / "data" / "online_store.db")
    table = next(name for (name,) in connection.execute("SELECT name FROM sqlite_master") if name.endswith(":user_profile"))
    with connection:
        connection.execute(f'UPDATE "{table}" SET "country" = ? WHERE ":key" = ?', ("XX", "7"))
    report = run(repo, "consistency", status=1)
    assert "1 mismatched" in report and "{'user_id': 7}: country offline=" in report and "online='XX'" in report
    assert "NOT consistent" in report

    error = run(repo, "get-online-features", "-f", "user_profile:country", "--entity", 'user_id="7"', status=1)
    assert "join key 'user_id' of feature view 'user_profile' must be Int64, got str '7'" in error
    assert "Traceback" not in error


def test_docs_serving_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "online-stores.md"
    example = re.findall(r"```python\n(.*?)```", docs.read_text(), re.DOTALL)[0]
    run(tmp_path, "init", str(tmp_path / "demo"), "--sample-end", "2024-02-01")
    repo = tmp_path / "demo" / "feature_repo"
    run(repo, "apply")
    run(repo, "materialize-incremental", "2024-02-01")
    monkeypatch.chdir(tmp_path / "demo")
    namespace: dict = {}
    exec(compile(example, str(docs), "exec"), namespace)  # noqa: S102 - the docs example itself
    assert namespace["response"].to_dict()["user_id"] == [1, 2]
    assert list(namespace["response"].to_df().columns) == ["user_id", "click_count", "country"]


def test_readme_thirty_seconds_serves_values_today(tmp_path, monkeypatch):
    """README's "Thirty seconds", run as written: `sqlfeat init`'s sample data ends today, so
    `materialize-incremental now` then `get-online-features` returns values, each PRESENT."""
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Thirty seconds", 1)[1]
    commands = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)[0]
    cwd, outputs = tmp_path, {}
    for line in commands.splitlines():
        for command in line.split("#", 1)[0].split("&&"):
            words = shlex.split(command)
            if not words or words[0] == "pip":
                continue
            if words[0] == "cd":
                cwd = cwd / words[1]
                continue
            assert words[0] == "sqlfeat", line
            monkeypatch.chdir(cwd)
            result = CliRunner().invoke(cli, words[1:])
            assert result.exit_code == 0, (line, result.output)
            outputs[words[1]] = result
    served = outputs["get-online-features"]
    values = json.loads(served.stdout)
    assert values["user_id"] == [42] and isinstance(values["click_count"][0], int), served.output
    assert values["click_count__status"] == ["PRESENT"] and "Null values" not in served.stderr

    # The README's training example, from the folder that holds feature_repo.
    example = re.findall(r"```python\n(.*?)```", section, re.DOTALL)[1]
    monkeypatch.chdir(cwd.parent)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README example itself
    training = namespace["training"]
    assert list(training["user_id"]) == [1, 2] and training["click_count"].notna().all(), training
