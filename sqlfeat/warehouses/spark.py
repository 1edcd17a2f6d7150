"""Spark (pyspark, local mode or a Spark Connect server): no ASOF JOIN and no LATERAL, so the
carry and window strategies; TIMESTAMP is the instant type (Spark keeps it as an instant shown in
the session time zone, which sqlfeat always sets to UTC), TIMESTAMP_NTZ the naive one, read as UTC;
spines are temporary views, results come back as Arrow."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PositiveInt
from sqlglot import exp

from sqlfeat.errors import ConfigError
from sqlfeat.options import StoreOptions
from sqlfeat.redact import redact, register_secret
from sqlfeat.warehouses.base import Dialect, OfflineStore

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.definitions import DataSource


class SparkDialect(Dialect):
    NAME = "spark"
    TITLE = "Spark"
    SQLGLOT_DIALECT = "spark"
    SOURCE_KINDS = frozenset({"spark", "file"})  # FileSource parquet paths too
    # Spark's TIMESTAMP (sqlglot's TIMESTAMPTZ) is an instant, in microseconds.
    INSTANT_TYPE = "TIMESTAMP"
    INSTANT_UNIT = "us"
    # The session catalog's tables (parquet) have no REPLACE TABLE AS SELECT: DROP, then CREATE.
    CREATE_OR_REPLACE = False

    def epoch_integer(self, instant: exp.Expression) -> exp.Expression:
        return exp.func("UNIX_MICROS", instant)

    def approx_distinct(self, value: exp.Expression) -> exp.Expression:
        return exp.func("APPROX_COUNT_DISTINCT", value)

    def _source_relation(self, source: DataSource, repo_path: Path) -> exp.Expression:
        path = getattr(source, "path", None)
        if path:
            if not Path(path).is_absolute() and "://" not in path:
                path = str(repo_path / path)
            # parquet.`/data/clicks`: Spark SQL reads the files directly, no table needed.
            return exp.Table(this=exp.to_identifier(path, quoted=True), db=exp.to_identifier(source.file_format))
        return super()._source_relation(source, repo_path)


DIALECT = SparkDialect()
# The last line of a Python traceback: "package.module.SomeError: message".
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b[^:]*:")


def _column_type(data_type) -> exp.DataType:
    """A Spark schema type (``timestamp``, ``array<bigint>``, ``decimal(10,2)``...) as sqlglot's."""
    from sqlglot.errors import ParseError

    try:
        return exp.DataType.build(data_type.simpleString(), dialect="spark")
    except ParseError:
        return exp.DataType.build("UNKNOWN")


def _utc_timestamps(table: pa.Table) -> pa.Table:
    """Naive timestamp columns marked as UTC, so Spark never reads them in a local time zone."""
    import pyarrow as pa

    for index, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            column = table.column(index)
            utc = column.cast(pa.timestamp(f.type.unit, tz="UTC")) if f.type.tz is None else column
            # Spark holds microseconds: finer digits are dropped, as on every microsecond warehouse.
            table = table.set_column(index, f.name, utc.cast(pa.timestamp("us", tz="UTC"), safe=False))
    return table


class SparkOfflineStore(OfflineStore):
    """One SparkSession (shared by every store of the process: Spark keeps one per JVM), its
    session time zone UTC. ``close`` drops this store's temporary views, never the session."""

    dialect = DIALECT

    def __init__(self, session, executors: bool = False, partitions: int | None = None) -> None:
        from pyspark.errors import PySparkException

        errors: list[type[BaseException]] = [PySparkException]
        try:
            from py4j.protocol import Py4JError

            errors.append(Py4JError)
        except ImportError:  # Spark Connect needs no py4j
            pass
        self.driver_errors = tuple(errors)
        self.session = session
        self.executors = executors
        self.partitions = partitions
        self._views: set[str] = set()

    def error_text(self, err: BaseException) -> str:
        # Spark's first line names the table or column ("[TABLE_OR_VIEW_NOT_FOUND] The table or
        # view `db`.`t` cannot be found..."); then come hints, the JVM stack trace and the plan.
        text = str(err).strip()
        lines = [line.strip() for line in text.split("JVM stacktrace:")[0].splitlines() if line.strip()]
        if not lines:
            return type(err).__name__
        if "Python worker" in lines[0]:
            # An executor's Python task failed (an online write): its exception's own last line.
            raised = [line for line in lines if _RAISED.match(line)]
            return f"{lines[0].rstrip(':.')}: {raised[-1] if raised else lines[-1]}"
        return lines[0]

    def _probe(self, sql: str) -> dict[str, exp.DataType]:
        # Analysis only: Spark resolves the columns without running anything.
        return {f.name: _column_type(f.dataType) for f in self.session.sql(sql).schema.fields}

    def _execute(self, sql: str) -> None:
        self.session.sql(sql)  # commands (DDL, CREATE TABLE AS) run when submitted

    def upload(self, table: pa.Table, name: str) -> None:
        self.write_arrow(table, name, temporary=True)

    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        target = self.dialect.table(name)
        with self.failing(f"uploading table {name!r}"):
            frame = self.session.createDataFrame(_utc_timestamps(table))
            if temporary:
                frame.createOrReplaceTempView(target.name)
                self._views.add(target.name)
                return
            frame.write.mode("overwrite").saveAsTable(target.sql(dialect="spark"))

    def drop_upload(self, name: str) -> None:
        try:
            self.session.catalog.dropTempView(name)
        except self.driver_errors:
            pass
        self._views.discard(name)

    def fetch_arrow(self, sql: str) -> pa.Table:
        with self.failing("running the query", sql):
            return self.session.sql(sql).toArrow()

    def map_partitions(self, sql: str, task: Callable[[Iterator[pa.RecordBatch]], Iterator[bytes]]) -> Iterator[bytes]:
        """Run ``task`` on Spark's executors over the Arrow batches of each partition of ``sql``'s
        result (``mapInArrow``); yield what it returned, as bytes, back on the driver."""
        import pyarrow as pa

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for result in task(batches):
                yield pa.RecordBatch.from_arrays([pa.array([result], pa.binary())], names=["result"])

        with self.failing("running the query", sql):
            frame = self.session.sql(sql)
            if self.partitions:
                frame = frame.repartition(self.partitions)
            rows = frame.mapInArrow(run, "result binary").toArrow()
        yield from rows.column("result").to_pylist()

    def close(self) -> None:
        for name in list(self._views):
            self.drop_upload(name)


class SparkOptions(StoreOptions):
    """``offline_store: {type: spark, spark_conf: {...}, remote: sc://host:15002}``: a local session
    (``local[*]``) unless ``spark_conf`` names ``spark.master`` or ``remote`` a Spark Connect server;
    ``materialize_on_executors: true`` writes online values from the executors."""

    spark_conf: dict[str, Any] | None = None
    remote: str | None = None
    materialize_on_executors: bool = False
    materialize_partitions: PositiveInt | None = None
    FEAST_KEYS = frozenset({"staging_location", "region"})


OPTIONS = SparkOptions
# A small local session: no UI, Arrow transfers; the session time zone is UTC whatever is given.
LOCAL_CONF = {"spark.master": "local[*]", "spark.app.name": "sqlfeat", "spark.ui.enabled": "false",
              "spark.sql.execution.arrow.pyspark.enabled": "true"}  # fmt: skip
UTC = {"spark.sql.session.timeZone": "UTC"}


def session_conf(options: dict[str, Any]) -> dict[str, str]:
    """Every setting the session gets: sqlfeat's local defaults (without a remote), then
    ``spark_conf``, then the UTC session time zone."""
    given = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (options.get("spark_conf") or {}).items()}
    zone = given.get("spark.sql.session.timeZone", "UTC")
    if zone.upper() not in ("UTC", "Z", "+00:00", "ETC/UTC"):
        raise ConfigError(
            f"offline_store.spark_conf spark.sql.session.timeZone is {zone!r}: sqlfeat compares instants in UTC "
            "and sets it to UTC itself; remove the key"
        )
    remote = options.get("remote") or given.get("spark.remote")
    return {**({} if remote else LOCAL_CONF), **given, **UTC}


def _register_secrets(options: dict[str, Any]) -> None:
    """A Spark Connect token (``sc://host:port/;token=...``) and spark_conf values under secret-looking
    keys (``spark.hadoop.fs.s3a.secret.key``...) are never printed."""
    for part in str(options.get("remote") or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "token":
            register_secret(value)
    for key, value in (options.get("spark_conf") or {}).items():
        if any(word in str(key).lower() for word in ("secret", "password", "token", "credential")):
            register_secret(value)


def connect(options: dict[str, Any], repo_path: Path) -> SparkOfflineStore:
    from pyspark.sql import SparkSession

    _register_secrets(options)
    if options.get("materialize_partitions") and not options.get("materialize_on_executors"):
        raise ConfigError("offline_store.materialize_partitions needs materialize_on_executors: true")
    conf = session_conf(options)
    builder = SparkSession.builder
    remote = options.get("remote")
    if remote:
        if not str(remote).startswith("sc://"):
            raise ConfigError("offline_store.remote must be a Spark Connect URL: sc://host:port")
        builder = builder.remote(remote)
    for key, value in conf.items():
        if key != "spark.remote" or not remote:
            builder = builder.config(key, value)
    if conf.get("spark.master", "").startswith("local"):
        # Local executors run Python UDFs (the online writes) in this interpreter, with its packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.logger import PySparkLogger

        # pyspark logs every failed query's error itself; sqlfeat raises it as a WarehouseError.
        PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    except ImportError:
        pass
    try:
        session = builder.getOrCreate()
        # getOrCreate hands back a running session as it is: its time zone is set again.
        session.conf.set("spark.sql.session.timeZone", "UTC")
    except Exception as err:  # a missing Java, an unreachable server: many classes
        where = "offline_store.remote" if remote else "offline_store.spark_conf spark.remote" if conf.get("spark.remote") else "a local session"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot start Spark with {where}: {redact(first)}") from None
    return SparkOfflineStore(session, bool(options.get("materialize_on_executors")), options.get("materialize_partitions"))
