"""Repo and offline commands: init, apply, plan, list, describe, compile, get-historical-features,
quickstart. Each is one call into FeatureStore."""

from __future__ import annotations

from pathlib import Path

import click

from sqlfeat.cli.app import console as _console
from sqlfeat.cli.app import feature_list as _features
from sqlfeat.cli.app import open_store as _store
from sqlfeat.compiler.strategy import REQUESTS as STRATEGY_REQUESTS
from sqlfeat.errors import UsageError
from sqlfeat.warehouses import WAREHOUSES


_SAMPLE_END_HELP = "The day the sample data ends (YYYY-MM-DD, UTC); default: today, so it is fresh for serving."


def _day(value: str | None):
    from datetime import datetime, timezone

    if value is None:
        return None
    try:
        day = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None
    return day if day.tzinfo else day.replace(tzinfo=timezone.utc)


@click.command()
@click.argument("name")
@click.option("--sample-end", default=None, metavar="DATE", help=_SAMPLE_END_HELP)
def init(name: str, sample_end: str | None) -> None:
    """Create NAME/feature_repo: feature_store.yaml, example definitions and sample data.

    The sample data covers the 180 days before today (or --sample-end). Nothing is written if any
    of those files (or NAME/README.md) already exists.
    """
    from sqlfeat.scaffold import init_repo

    repo = init_repo(Path(name), now=_day(sample_end))
    click.echo(f"Created feature repo {repo}\n\n  cd {repo}\n  sqlfeat apply\n")


def _print_plan(plan, console) -> None:
    from rich.markup import escape

    for notice in plan.notices:
        console.print(f"[bold yellow]Online store changed:[/] {escape(notice)}")
    for teardown in plan.teardowns:
        if teardown.deleted_at:  # left by an earlier apply that could not reach the store
            console.print(f"[bold yellow]Pending:[/] the online values of {escape(teardown.describe())}, deleted "
                          f"{teardown.deleted_at}, are still there: apply deletes them")  # fmt: skip
    if plan.is_empty:
        console.print("No changes: the registry matches the definitions.")
        return
    colors = {"add": "green", "change": "yellow", "remove": "red"}
    for change in plan.changes:
        console.print(f"[{colors[change.action]}]{change.describe()}[/]")
    if plan.views_to_rematerialize:
        views = ", ".join(plan.views_to_rematerialize)
        console.print(f"[bold red]Re-materialize after apply:[/] {views} (their online values no longer match)")


@click.command()
@click.pass_context
def apply(ctx: click.Context) -> None:
    """Validate every definition file and write the registry (adds, changes, removes).

    A deleted feature view's online values are deleted from the configured online store. If it
    cannot be reached, the registry is still written, the deletion stays pending (the next apply
    retries it) and the command exits 1.
    """
    from sqlfeat.errors import TeardownPendingError

    store = _store(ctx)
    console = _console()
    try:
        plan = store.apply()
    except TeardownPendingError as err:
        if err.plan is not None:
            _print_plan(err.plan, console)
            console.print(f"Registry written to {store.config.registry_path}")
        raise
    _print_plan(plan, console)
    console.print(f"Registry written to {store.config.registry_path}")
    for teardown in plan.teardowns:
        console.print(f"Deleted the online values of {teardown.describe()}", markup=False)


@click.command()
@click.pass_context
def plan(ctx: click.Context) -> None:
    """Show what `apply` would add, change or remove, and which views need re-materializing."""
    _print_plan(_store(ctx).plan(), _console())


@click.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List registered entities, feature views and their features."""
    from rich.table import Table

    store = _store(ctx)
    table = Table()
    table.add_column("feature view", no_wrap=True)
    for header in ("entities", "ttl", "features", "source"):
        table.add_column(header)
    for view in store.list_feature_views():
        features = ", ".join(f"{f.name}:{f.dtype.name}" for f in view.features)
        table.add_row(view.name, ", ".join(view.entities), str(view.ttl or "none"), features, view.source.name)
    console = _console()
    console.print(table)
    entities = Table("entity", "join keys", "value type")
    for entity in store.list_entities():
        entities.add_row(entity.name, ", ".join(entity.join_keys), entity.value_type.name)
    console.print(entities)


@click.command()
@click.argument("view")
@click.pass_context
def describe(ctx: click.Context, view: str) -> None:
    """Show one feature view as registered: its spec and fingerprint."""
    import json

    store = _store(ctx)
    store.get_feature_view(view)
    record = store.registry.record("feature_views", view)
    click.echo(json.dumps(record, indent=2, sort_keys=True, default=str))


@click.command("compile")
@click.option("--features", "-f", multiple=True, required=True, help="view:feature[,view:feature...]")
@click.option(
    "--dialect", "-d", type=click.Choice(list(WAREHOUSES)), default=None,
    help="SQL dialect to print. Default: the repo's offline_store type.",
)
@click.option("--spine-table", default=None, help="Table holding the entity rows. Default: entity_df.")
@click.option("--spine-query", default=None, help="A SELECT producing the entity rows (instead of a table).")
@click.option("--timestamp-column", default="event_timestamp", show_default=True, help="The spine's row-time column.")
@click.option("--full-feature-names", is_flag=True, help="Name columns view__feature.")
@click.option(
    "--strategy", type=click.Choice(list(STRATEGY_REQUESTS)), default="auto", show_default=True,
    help="auto: per view, the cheapest by estimate (without a connection: never quadratic); or force one.",
)
@click.option("--explain", is_flag=True, help="Start with one comment line per view: its strategy and why.")
@click.option("--dry-run", is_flag=True, help="Also ask the warehouse what the query would scan (BigQuery: bytes).")
@click.pass_context
def compile_(ctx, features, dialect, spine_table, spine_query, timestamp_column, full_feature_names, strategy, explain,
             dry_run) -> None:  # fmt: skip
    """Print the point-in-time SQL for FEATURES over a spine table, ready to paste.

    \b
    Strategies (docs/warehouses.md): asof (DuckDB's ASOF JOIN), carry (one sort of spine and
    source rows, O(n log n) anywhere), window (a range join: cheapest at low density), lateral
    (an index probe per spine row, PostgreSQL).

    \b
    Examples:
      sqlfeat compile -f user_clicks_30d:click_count --spine-table analytics.training_rows
      sqlfeat compile -f user_clicks_30d:click_count --dialect postgres --explain
      sqlfeat compile -f user_clicks_30d:click_count --spine-table ds.rows --dry-run   # BigQuery
    """
    if spine_table and spine_query:
        raise click.UsageError("give --spine-table or --spine-query, not both")
    store = _store(ctx)
    sql = store.compile_historical_features(
        _features(features), spine_query or spine_table or "entity_df", timestamp_column, dialect,
        full_feature_names, strategy, explain=explain,
    )
    click.echo(sql + ";")
    if dry_run:
        if dialect and dialect != store.config.offline_type:
            raise UsageError(f"--dry-run asks the configured warehouse ({store.config.offline_type}); drop --dialect {dialect}")
        query = "\n".join(line for line in sql.splitlines() if not line.startswith("-- "))
        click.echo(f"-- dry run: {store.offline_store.dry_run(query)}", err=True)


@click.command("get-historical-features")
@click.option("--entity-df", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Spine: parquet or CSV (CSV times in ISO 8601; without an offset they are UTC).")
@click.option("--features", "-f", multiple=True, required=True, help="view:feature[,view:feature...]")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="Output parquet file: a new file, or one sqlfeat wrote (its folder must exist).")
@click.option("--sql-out", type=click.Path(dir_okay=False), default=None, help="Also write the SQL that ran.")
@click.option("--full-feature-names", is_flag=True, help="Name columns view__feature.")
@click.pass_context
def get_historical_features(ctx, entity_df, features, out, sql_out, full_feature_names) -> None:
    """Build a point-in-time correct training set from a spine file."""
    from sqlfeat.files import claim_file, write_text_atomic
    from sqlfeat.dataset_files import SQL_HEADER, is_training_set, is_training_sql, read_spine_file, write_training_set

    # Checked before any work: a run is not wasted on an output that cannot be written.
    claim_file(out, is_training_set, "--out")
    if sql_out:
        claim_file(sql_out, is_training_sql, "--sql-out")
    spine = read_spine_file(Path(entity_df))
    job = _store(ctx).get_historical_features(spine, _features(features), full_feature_names)
    frame = job.to_df()
    write_training_set(Path(out), frame, "sqlfeat get-historical-features")
    if sql_out:
        write_text_atomic(sql_out, SQL_HEADER + job.sql + ";\n")
    click.echo(f"Wrote {len(frame)} rows x {len(frame.columns)} columns to {out}")


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--rows", default=5_000, show_default=True, help="Spine rows to build.")
@click.option("--sample-end", default=None, metavar="DATE", help=_SAMPLE_END_HELP)
def quickstart(directory: str | None, rows: int, sample_end: str | None) -> None:
    """Demo: init a repo with sample click data, apply, build a training set, summarize.

    DIRECTORY defaults to a new temporary folder.
    """
    import tempfile

    from sqlfeat.scaffold import run_quickstart

    target = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sqlfeat-quickstart-")) / "my_store"
    console = _console()
    with console.status("Creating the repo, applying definitions, building the training set, materializing..."):
        result = run_quickstart(target, rows, now=_day(sample_end))
    frame = result.frame
    console.print(f"[bold green]Training set:[/] {result.rows} rows in {result.seconds:.2f} s (repo {result.repo})")
    nulls = ", ".join(f"{name} {int(frame[name].isna().sum())}" for name in result.features)
    console.print(f"Nulls per feature: {nulls}")
    console.print(frame.head(5).to_string(index=False))
    head = "\n".join(result.sql.splitlines()[:12])
    console.print(f"\n[bold]Point-in-time SQL[/] (first lines):\n{head}\n  ...")
    console.print(f"\nFull SQL: {result.sql_path}\nTraining set: {result.training_path}")
    console.print(f"\n[bold green]Online:[/] materialized {result.materialized_rows} entity rows into SQLite; "
                  f"get_online_features for users 1 and 2: {result.online_example}")
    for view in result.consistency.views:
        share = 100.0 * view.matched / view.entities if view.entities else 100.0
        console.print(f"Consistency {view.view}: {view.matched}/{view.entities} entities match offline at "
                      f"{view.as_of:%Y-%m-%d %H:%M} UTC ({share:.0f}%), {view.mismatched} mismatched, {view.missing} missing")


COMMANDS = [init, apply, plan, list_, describe, compile_, get_historical_features, quickstart]
