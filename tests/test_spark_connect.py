"""``offline_store: {type: spark, remote: sc://host:port}``: a real Spark Connect server (the one
pyspark ships, in local mode) and a client process that applies, uploads a DataFrame spine and
reads the training set through it, naive source times read as UTC."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLIENT = """
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sqlfeat import Entity, FeatureStore, FeatureView, Field, SparkSource, ValueType
from sqlfeat.types import Int64

root = Path(sys.argv[2])
(root / "data" / "clicks").mkdir(parents=True)
pq.write_table(pa.table({
    "user_id": pa.array([1, 2], pa.int64()), "clicks": pa.array([5, 7], pa.int64()),
    "ts": pa.array([pd.Timestamp("2024-01-01 12:00"), pd.Timestamp("2024-01-02 12:00")], pa.timestamp("us")),
}), root / "data" / "clicks" / "part-0.parquet")
(root / "feature_store.yaml").write_text(yaml.safe_dump({
    "project": "connect", "registry": "data/registry.json", "online_store": {"type": "sqlite", "path": "data/o.db"},
    "offline_store": {"type": "spark", "remote": f"sc://127.0.0.1:{sys.argv[1]}"},
}))
user = Entity(name="user_id", value_type=ValueType.INT64)
store = FeatureStore(repo_path=root)
store.apply([user, FeatureView(name="clicks", entities=[user], ttl=timedelta(days=1), schema=[Field("clicks", Int64)],
                               source=SparkSource(path="data/clicks", timestamp_field="ts"))])
spine = pd.DataFrame({"user_id": [1, 1, 2], "event_timestamp": pd.to_datetime(
    ["2024-01-01 11:59:59.999999", "2024-01-01 12:00:00.000000", "2024-01-03 00:00:00.000000"], utc=True)})
result = store.get_historical_features(spine, ["clicks:clicks"]).to_df()
print(type(store.offline_store.session).__module__)
print([None if pd.isna(v) else int(v) for v in result["clicks"]])
print(store.offline_store.session.conf.get("spark.sql.session.timeZone"))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def connect_port(spark_harness, tmp_path_factory):
    """pyspark's own Spark Connect server on a free port (after the run's session: Java is there)."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port, log = _free_port(), tmp_path_factory.mktemp("connect") / "server.log"
    command = [
        str(home / "bin" / "spark-class"), "org.apache.spark.deploy.SparkSubmit",
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.master=local[1]",
        "--conf", "spark.ui.enabled=false", "spark-internal",
    ]  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, "SPARK_HOME": str(home)})  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Spark Connect server started" not in log.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server's own process group, started above
        server.wait(timeout=30)


def test_a_spark_connect_remote_runs_the_same_join(connect_port, tmp_path):
    run = subprocess.run([sys.executable, "-c", CLIENT, str(connect_port), str(tmp_path / "repo")],
                         capture_output=True, text=True, timeout=180)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    module, values, zone = run.stdout.strip().splitlines()[-3:]
    assert module == "pyspark.sql.connect.session", "a Spark Connect session, not a local one"
    assert values == "[None, 5, 7]", "12:00 naive is 12:00 UTC: 1us earlier it is not there yet"
    assert zone == "UTC"
