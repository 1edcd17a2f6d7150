"""SQLite, the embedded default: ``online_store: {type: sqlite, path: data/online_store.db}``.

One table per project and view, named ``<project>:<view>``; one row per entity (``:key``) with
``:ts`` / ``:cts`` and a column per feature. A batch is one ``executemany`` UPSERT inside one
transaction; the UPSERT's ``WHERE`` keeps a row only when it is at least as new as the stored one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sqlfeat.online.base import (
    CREATED_FIELD,
    KEY_FIELD,
    TS_FIELD,
    OnlineRows,
    OnlineStore,
    OnlineView,
    WriteResult,
    batch_keys,
    batch_times,
)
from sqlfeat.online.codec import decode_values, feature_array, native_column, native_decoder
from sqlfeat.options import StoreOptions

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_PATH = "data/online_store.db"
# Keys per SELECT ... IN (...): far below SQLite's 32766 bound variables.
READ_CHUNK = 5_000
# A missing created time sorts before every real one.
_OLDEST = exp.Literal.number(-(2**63))


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(_ident(name), _ident(table) if table else None)


def _version(table: str) -> exp.Tuple:
    created = exp.func("COALESCE", _col(CREATED_FIELD, table), _OLDEST.copy())
    return exp.Tuple(expressions=[_col(TS_FIELD, table), created])


class SqliteOnlineStore(OnlineStore):
    TYPE = "sqlite"
    SHARED = False  # a file on this machine

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._columns: dict[str, set[str]] = {}
        self._sql: dict[tuple, str] = {}
        # One connection shared by the threads of a serving process: statements take turns.
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"sqlite online store {self.path}"

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            except (OSError, sqlite3.Error) as err:
                raise self.unreachable(err, "opening") from None
            self._connection = connection
        return self._connection

    @staticmethod
    def table_name(view: OnlineView) -> str:
        return f"{view.project}:{view.name}"

    def _render(self, key: tuple, build: Callable[..., exp.Expression], *args: Any) -> str:
        """``build(*args)`` rendered once per ``key``: SQLite statements are reused, never re-built."""
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = build(*args).sql(dialect="sqlite")
        return sql

    # -- writing ----------------------------------------------------------------------------------
    def _existing_columns(self, table: str) -> set[str]:
        rows = self.connection.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
        return {row[0] for row in rows}

    def _ensure_table(self, view: OnlineView) -> str:
        table = self.table_name(view)
        if set(view.features) <= self._columns.get(table, set()):
            return table
        existing = self._existing_columns(table)
        target = exp.Table(this=_ident(table))
        if not existing:
            columns = [
                exp.ColumnDef(this=_ident(KEY_FIELD), kind=exp.DataType.build("TEXT"),
                              constraints=[exp.ColumnConstraint(kind=exp.PrimaryKeyColumnConstraint())]),
                exp.ColumnDef(this=_ident(TS_FIELD), kind=exp.DataType.build("INTEGER"),
                              constraints=[exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]),
                exp.ColumnDef(this=_ident(CREATED_FIELD), kind=exp.DataType.build("INTEGER")),
            ]  # fmt: skip
            # BLOB affinity: SQLite stores each value as given (no conversion).
            columns += [exp.ColumnDef(this=_ident(f), kind=exp.DataType.build("BLOB")) for f in view.features]
            create = exp.Create(this=exp.Schema(this=target, expressions=columns), kind="TABLE", exists=True)
            self.connection.execute(create.sql(dialect="sqlite"))
        else:
            for feature in view.features:
                if feature not in existing:
                    column = exp.ColumnDef(this=_ident(feature), kind=exp.DataType.build("BLOB"))
                    alter = exp.Alter(this=target.copy(), kind="TABLE", actions=[column])
                    self.connection.execute(alter.sql(dialect="sqlite"))
        self._columns[table] = self._existing_columns(table)
        return table

    def _upsert(self, table: str, features: tuple[str, ...]) -> exp.Insert:
        names = [KEY_FIELD, TS_FIELD, CREATED_FIELD, *features]
        updates = [exp.EQ(this=_col(n), expression=_col(n, "excluded")) for n in names[1:]]
        newer = exp.GTE(this=_version("excluded"), expression=_version(table))
        conflict = exp.OnConflict(
            conflict_keys=[_col(KEY_FIELD)], action=exp.var("DO UPDATE"), expressions=updates,
            where=exp.Where(this=newer),
        )  # fmt: skip
        return exp.Insert(
            this=exp.Schema(this=exp.Table(this=_ident(table)), expressions=[_ident(n) for n in names]),
            expression=exp.Values(expressions=[exp.Tuple(expressions=[exp.Placeholder() for _ in names])]),
            conflict=conflict,
        )

    def write_batch(self, view: OnlineView, batch: pa.RecordBatch) -> WriteResult:
        if batch.num_rows == 0:
            return WriteResult(0)
        keys = batch_keys(view, batch)
        event, created = batch_times(batch)
        values = [native_column(feature_array(view, batch, f), view.dtype(f)) for f in view.features]
        try:
            with self._lock:
                table = self._ensure_table(view)
                sql = self._render(("upsert", table, view.features), self._upsert, table, view.features)
                with self.connection:
                    self.connection.executemany(sql, zip(keys, event, created, *values))
        except sqlite3.Error as err:
            raise self.unreachable(err, f"writing feature view {view.name!r}") from None
        return WriteResult(batch.num_rows)  # nothing rejected: SQLite holds values up to 1 GB

    # -- reading ----------------------------------------------------------------------------------
    def _select(self, table: str, features: tuple[str, ...], count: int) -> exp.Select:
        key = _col(KEY_FIELD)
        where = exp.EQ(this=key, expression=exp.Placeholder()) if count == 1 else exp.In(
            this=key, expressions=[exp.Placeholder() for _ in range(count)]
        )
        columns = [_col(n) for n in (KEY_FIELD, TS_FIELD, *features)]
        return exp.select(*columns).from_(exp.Table(this=_ident(table))).where(where)

    def _fetch(self, table: str, features: tuple[str, ...], keys: list[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for offset in range(0, len(keys), READ_CHUNK):
            chunk = keys[offset : offset + READ_CHUNK]
            sql = self._render(("select", table, features, len(chunk)), self._select, table, features, len(chunk))
            for row in self.connection.execute(sql, chunk):
                found[row[0]] = row
        return found

    def read(self, view: OnlineView, features: Sequence[str], entity_keys: Sequence[str]) -> OnlineRows:
        table = self.table_name(view)
        wanted = tuple(features)
        unique = list(dict.fromkeys(entity_keys))
        try:
            with self._lock:
                found = self._fetch_or_fallback(table, wanted, unique)
        except sqlite3.Error as err:
            raise self.unreachable(err, f"reading feature view {view.name!r}") from None
        rows = [found.get(k) for k in entity_keys]
        columns: dict[str, list[Any]] = {}
        for position, feature in enumerate(wanted, start=2):
            raw = [None if row is None else row[position] for row in rows]
            columns[feature] = decode_values(raw, native_decoder(view.dtype(feature)))
        return OnlineRows([None if row is None else row[1] for row in rows], columns)

    def _fetch_or_fallback(self, table: str, wanted: tuple[str, ...], keys: list[str]) -> dict[str, tuple]:
        try:
            return self._fetch_known(table, wanted, keys)
        except sqlite3.OperationalError:
            if self._existing_columns(table):
                raise
            # Dropped since its columns were cached (a deleted view's teardown, maybe by another
            # process): nothing to read.
            self._columns.pop(table, None)
            return {}

    def _fetch_known(self, table: str, wanted: tuple[str, ...], keys: list[str]) -> dict[str, tuple]:
        # Check the columns first: SQLite reads an unknown "quoted" column as a string literal.
        known = self._columns.get(table, set())
        if not known or not set(wanted) <= known:
            known = self._existing_columns(table)
            if not known:
                return {}  # never materialized
            self._columns[table] = known
        if set(wanted) <= known:
            return self._fetch(table, wanted, keys)
        # A feature added to the view and not materialized yet reads as null.
        stored = tuple(f for f in wanted if f in known)
        return {
            key: (*row[:2], *[row[2 + stored.index(f)] if f in stored else None for f in wanted])
            for key, row in self._fetch(table, stored, keys).items()
        }

    def teardown(self, view: OnlineView) -> None:
        if self._connection is None and not self.path.exists():
            return  # nothing was ever written: do not create the file to find that out
        table = self.table_name(view)
        drop = exp.Drop(tables=[exp.Table(this=_ident(table))], kind="TABLE", exists=True)
        try:
            with self.connection:
                self.connection.execute(drop.sql(dialect="sqlite"))
        except sqlite3.Error as err:
            raise self.unreachable(err, f"dropping feature view {view.name!r}") from None
        self._columns.pop(table, None)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class SqliteOptions(StoreOptions):
    """``online_store: {type: sqlite, path: data/online_store.db}``."""

    path: str = DEFAULT_PATH


OPTIONS = SqliteOptions


def build(options: dict[str, Any], project: str, repo_path: Path) -> SqliteOnlineStore:
    """The store, not opened yet."""
    path = Path(str(options.get("path", DEFAULT_PATH)))
    if not path.is_absolute():
        path = Path(repo_path) / path
    return SqliteOnlineStore(path.resolve())


connect = build
