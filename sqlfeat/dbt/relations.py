"""Compiled SQL made dbt's: each source table becomes ``{{ source('<name>', '<name>') }}`` and
the spine ``{{ ref('<model>') }}``, swapped on the sqlglot AST (never by searching the SQL text),
so the rest of the query is exactly what ``sqlfeat compile`` prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from sqlfeat.definitions.sources import DataSource
from sqlfeat.errors import UsageError
from sqlfeat.warehouses.base import Dialect

# The spine's table name while compiling: replaced by {{ ref(...) }} before rendering.
SPINE_PLACEHOLDER = "__sqlfeat_dbt_spine__"


@dataclass(frozen=True)
class DbtSource:
    """One source table as dbt's ``sources.yml`` declares it (names as the warehouse stores them)."""

    name: str  # the sqlfeat source's name: the table's name in the dbt source
    identifier: str
    schema: str | None
    database: str | None
    table: exp.Table  # the relation the compiled SQL reads
    # A file read by a table function (DuckDB's read_parquet): dbt-duckdb's external_location.
    external: str | None = None


def dbt_source(source: DataSource, dialect: Dialect, repo_path: Path) -> DbtSource:
    """``source`` as a dbt source table: a table, or on DuckDB a file (an external location)."""
    if source.kind == "file" and dialect.NAME == "duckdb":
        function = dialect.source_relation(source, repo_path)
        external = dialect.render(function, pretty=False)
        if "'" in str(getattr(source, "path", "")):
            raise UsageError(f"source {source.name!r}: a path with a quote cannot be a dbt external location; rename the file")
        return DbtSource(name=source.name, identifier=source.name, schema=None, database=None,
                         table=exp.Table(this=function), external=external)  # fmt: skip
    if not getattr(source, "table", None):
        kind = "a file" if source.kind == "file" else "a query"
        raise UsageError(
            f"source {source.name!r} reads {kind}, which dbt cannot declare as a source on {dialect.TITLE}; give it a "
            f"table ({type(source).__name__}(table=...)) to export it to dbt"
        )
    relation = dialect.source_relation(source, repo_path)
    assert isinstance(relation, exp.Table)
    return DbtSource(
        name=source.name, identifier=relation.name, schema=relation.db or None,
        database=relation.catalog or None, table=relation,
    )  # fmt: skip


def _jinja(call: str, *arguments: str) -> exp.Var:
    # Each argument is a name already checked by sqlfeat (check_name): no quote can reach here.
    for argument in arguments:
        if "'" in argument or "\\" in argument or "}" in argument:
            raise UsageError(f"{argument!r} cannot be named in a dbt {call}(); rename it")
    quoted = ", ".join(f"'{a}'" for a in arguments)
    return exp.Var(this=f"{{{{ {call}({quoted}) }}}}")


def _bare(table: exp.Table) -> exp.Table:
    bare = table.copy()
    bare.set("alias", None)
    return bare


def swap_relations(tree: exp.Expression, sources: Iterable[DbtSource], spine_model: str | None = None) -> exp.Expression:
    """``tree`` (a copy) with every source table in ``sources`` read through ``source()`` (each
    sqlfeat source is a dbt source of its own name, holding one table of that name) and the spine
    placeholder through ``ref(spine_model)``."""
    tree = tree.copy()
    by_relation: Mapping[exp.Table, DbtSource] = {_bare(s.table): s for s in sources}
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Var):
            continue  # already swapped
        bare = _bare(table)
        if isinstance(table.this, exp.Identifier) and bare.name == SPINE_PLACEHOLDER and not bare.db and spine_model:
            call = _jinja("ref", spine_model)
        elif bare in by_relation:
            call = _jinja("source", by_relation[bare].name, by_relation[bare].name)
        else:
            continue  # a CTE the query defines
        replacement = exp.Table(this=call)
        if table.args.get("alias") is not None:
            replacement.set("alias", table.args["alias"].copy())
        table.replace(replacement)
    return tree
