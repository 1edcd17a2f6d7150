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


def dbt_source(source: DataSource, dialect: Dialect, repo_path: Path) -> DbtSource:
    """``source`` as a dbt source table; only a table can be one."""
    if not getattr(source, "table", None):
        kind = "a file" if source.kind == "file" else "a query"
        raise UsageError(
            f"source {source.name!r} reads {kind}, which dbt cannot declare as a source; give it a table "
            f"(DuckDBSource(table=...), PostgreSQLSource(table=...)...) to export it to dbt"
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
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function, or a relation already swapped
        bare = _bare(table)
        if bare.name == SPINE_PLACEHOLDER and not bare.db and spine_model is not None:
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
