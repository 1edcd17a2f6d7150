"""The compile check: each view's SQL for each chosen dialect, every statement parsed back with
sqlglot at error level RAISE, written to ``target/compiled/<dialect>/<view>.sql`` for reviewers.

Which dialects: the offline store's own, plus any given with ``--dialect`` (``all`` for every one).
A warehouse reads only its own source kinds (DuckDB reads parquet files and DuckDB tables, BigQuery
BigQuery tables...), so a view compiles for another dialect only if that dialect can read its
source: an unreadable pair is a warn ("skipped"), never a fail, while a view its own warehouse
cannot read fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlfeat.checks.results import FAIL, PASS, WARN, CheckResult
from sqlfeat.errors import ConfigError, SqlfeatError

if TYPE_CHECKING:
    from sqlfeat.checks.definitions import CheckedViews
    from sqlfeat.definitions import Entity, FeatureView
    from sqlfeat.files import OutputFolder
    from sqlfeat.warehouses.base import Dialect

# Materialization SQL takes its time range as literals; snapshots render it for this stand-in end
# so that the files only change when the definitions or the compiler do.
STAND_IN_END = datetime(2000, 1, 1, tzinfo=timezone.utc)
SPINE_TABLE, SPINE_TIME = "entity_df", "event_timestamp"
# Compiled into snapshots: paths of file sources stay relative, so the files match on any checkout.
PORTABLE_REPO = Path(".")


@dataclass(frozen=True)
class Statement:
    label: str
    sql: str


@dataclass(frozen=True)
class CompiledView:
    view: str
    dialect: str
    statements: tuple[Statement, ...]

    @property
    def text(self) -> str:
        head = (
            f"-- feature view {self.view}, compiled for {self.dialect} by `sqlfeat check`\n"
            f"-- Paths are relative to the feature repo; the spine is table {SPINE_TABLE} (join keys, {SPINE_TIME}).\n"
        )
        return head + "".join(f"\n-- {s.label}\n{s.sql};\n" for s in self.statements)


def resolve_dialects(offline_type: str, extra: tuple[str, ...] | list[str] = ()) -> list[Dialect]:
    """The offline store's dialect first, then each ``--dialect`` (``all``: the four) once."""
    from sqlfeat.warehouses import WAREHOUSES, get_dialect

    names = [get_dialect(offline_type).NAME]
    for name in extra:
        if name == "all":
            names.extend(WAREHOUSES)
        elif name in WAREHOUSES:
            names.append(name)
        else:
            raise ConfigError(f"--dialect {name!r} is not a sqlfeat dialect; use one of {', '.join(WAREHOUSES)} or all")
    return [get_dialect(name) for name in dict.fromkeys(names)]


def view_features(view: FeatureView, entities: dict[str, Entity]) -> list[str]:
    keys = {k for name in view.entities if name in entities for k in entities[name].join_keys}
    return [f"{view.name}:{f.name}" for f in view.features if f.name not in keys]


def compile_view(
    view: FeatureView, entities: dict[str, Entity], dialect: Dialect, repo_path: Path = PORTABLE_REPO
) -> CompiledView:
    """Every statement sqlfeat runs for ``view`` on ``dialect``: the PIT join of all its features
    (each strategy the dialect has) and the query materialization runs."""
    from sqlfeat.compiler import Spine, compile_point_in_time, plan_retrieval
    from sqlfeat.compiler.latest import compile_latest_values

    plan = plan_retrieval(view_features(view, entities), {view.name: view}, entities)
    spine = Spine(SPINE_TABLE, SPINE_TIME)
    statements = []
    for strategy in strategies_of(dialect):
        query = compile_point_in_time(plan, spine, dialect, repo_path, strategy)
        statements.append(Statement(f"point-in-time join, strategy {strategy}", dialect.render(query)))
    query = compile_latest_values(plan.views[0], dialect, repo_path, STAND_IN_END)
    what = "aggregates per entity at end" if view.aggregations else "latest value per entity"
    label = f"{what} (what materialize runs), shown for end = {STAND_IN_END:%Y-%m-%d %H:%M} UTC"
    statements.append(Statement(label, dialect.render(query)))
    return CompiledView(view.name, dialect.NAME, tuple(statements))


def strategies_of(dialect: Dialect) -> tuple[str, ...]:
    """Every strategy the dialect can run: each is compiled and parsed back."""
    from sqlfeat.compiler.strategy import STRATEGIES

    able = {"asof": dialect.SUPPORTS_ASOF_JOIN, "lateral": dialect.SUPPORTS_LATERAL}
    return tuple(s for s in STRATEGIES if able.get(s, True))


def parse_back(compiled: CompiledView, dialect: Dialect) -> None:
    """Each statement parses as exactly one statement of its dialect (sqlglot, ErrorLevel.RAISE)."""
    import sqlglot
    from sqlglot.errors import ErrorLevel, ParseError

    for statement in compiled.statements:
        try:
            parsed = sqlglot.parse(statement.sql, read=dialect.SQLGLOT_DIALECT, error_level=ErrorLevel.RAISE)
        except ParseError as err:
            raise ParseError(f"{statement.label}: {str(err).splitlines()[0]}") from None
        if len([p for p in parsed if p is not None]) != 1:
            raise ParseError(f"{statement.label}: parsed as {len(parsed)} statements, expected one")


def check(
    checked: CheckedViews, dialects: list[Dialect], configured: str
) -> tuple[list[CompiledView], list[CheckResult]]:
    """Compile and parse back every (dialect, view) pair the dialect can read."""
    from sqlglot.errors import ParseError

    compiled: list[CompiledView] = []
    results = []
    for dialect in dialects:
        for view in checked.views.values():
            started = time.perf_counter()
            kind = view.source.kind
            if kind not in dialect.SOURCE_KINDS and dialect.NAME != configured:
                results.append(CheckResult(
                    "compile", WARN, f"skipped: source kind {kind!r} ({type(view.source).__name__}) is not "
                    f"readable by {dialect.NAME}", view=view.name, dialect=dialect.NAME, skipped=True,
                ))
                continue
            try:
                result = compile_view(view, checked.entities, dialect)
                parse_back(result, dialect)
            except (SqlfeatError, ParseError, ValueError) as err:
                message = f"feature view {view.name!r} does not compile for {dialect.NAME}: {err}"
                results.append(CheckResult("compile", FAIL, message, view=view.name, dialect=dialect.NAME))
                continue
            compiled.append(result)
            message = f"{len(result.statements)} statements compile and parse back as {dialect.NAME}"
            results.append(CheckResult(
                "compile", PASS, message, view=view.name, dialect=dialect.NAME,
                execution_time=time.perf_counter() - started,
            ))
    return compiled, results


def write(compiled: list[CompiledView], folder: OutputFolder, under: str = "compiled") -> None:
    """``<under>/<dialect>/<view>.sql`` in the target folder, deleting the snapshots a previous run
    wrote there that this one did not (a removed view); nothing else in the folder is touched."""
    files = {f"{under}/{item.dialect}/{item.view}.sql": item.text for item in compiled}
    folder.claim(files)
    for rel, text in files.items():
        folder.write_text(rel, text)
    folder.prune(under)
