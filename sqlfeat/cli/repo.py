"""Repo and offline commands: init, apply, plan, list, describe, compile, get-historical-features,
quickstart. Each is one call into FeatureStore."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from sqlfeat.cli.app import console as _console
from sqlfeat.cli.app import features_or_service as _requested
from sqlfeat.cli.app import open_store as _store
from sqlfeat.cli.app import when as _when
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


@contextmanager
def _dtype_notices(console) -> Iterator[None]:
    """Prints each declared dtype that converts (a ``DtypeNotice``) as a warning line; other
    warnings are shown as Python shows them."""
    import warnings

    from rich.markup import escape

    from sqlfeat.validation import DtypeNotice

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DtypeNotice)
        yield
    for warning in caught:
        if issubclass(warning.category, DtypeNotice):
            console.print(f"[bold yellow]Warning:[/] {escape(str(warning.message))}")
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


_STRICT = click.option(
    "--strict", is_flag=True,
    help="A declared dtype that is not its column's but converts (Int32 over BIGINT...) is an error, "
         "not a warning (also: strict_dtypes: true in feature_store.yaml).",
)  # fmt: skip


@click.command()
@_STRICT
@click.pass_context
def apply(ctx: click.Context, strict: bool) -> None:
    """Validate every definition file and write the registry (adds, changes, removes).

    A deleted feature view's online values are deleted from the configured online store. If it
    cannot be reached, the registry is still written, the deletion stays pending (the next apply
    retries it) and the command exits 1.
    """
    from sqlfeat.errors import TeardownPendingError

    store = _store(ctx)
    console = _console()
    try:
        with _dtype_notices(console):
            plan = store.apply(strict=strict or None)
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
@_STRICT
@click.pass_context
def plan(ctx: click.Context, strict: bool) -> None:
    """Show what `apply` would add, change or remove, and which views need re-materializing."""
    console = _console()
    with _dtype_notices(console):
        planned = _store(ctx).plan(strict=strict or None)
    _print_plan(planned, console)


def _tags(values: tuple[str, ...]) -> dict[str, str] | None:
    """Feast's ``--tags key:value`` (repeatable)."""
    tags = {}
    for value in values:
        key, sep, text = value.partition(":")
        if not sep or not key:
            raise click.BadParameter(f"{value!r}: write KEY:VALUE, e.g. team:growth", param_hint="--tags")
        tags[key] = text
    return tags or None


@click.command("list")
@click.option("--tags", multiple=True, help="Only objects with this tag, KEY:VALUE (repeat: every one of them).")
@click.pass_context
def list_(ctx: click.Context, tags: tuple[str, ...]) -> None:
    """List registered feature views, feature services, entities and saved datasets."""
    from rich.table import Table

    store, wanted = _store(ctx), _tags(tags)
    table = Table()
    table.add_column("feature view", no_wrap=True)
    for header in ("entities", "ttl", "features", "source"):
        table.add_column(header)
    for view in store.list_feature_views(tags=wanted):
        features = ", ".join(f"{f.name}:{f.dtype.name}" for f in view.features)
        table.add_row(view.name, ", ".join(view.entities), str(view.ttl or "none"), features, view.source.name)
    console = _console()
    console.print(table)
    services = Table("feature service", "features", "description")
    for service in store.list_feature_services(tags=wanted):
        served = ", ".join(
            f"{p.name_to_use()}:{f}" + (f" (on {', '.join(p.join_key_map.values())})" if p.join_key_map else "")
            for p in service.feature_view_projections for f in p.features
        )  # fmt: skip
        services.add_row(service.name, served, service.description)
    if services.row_count:
        console.print(services)
    on_demand = Table("on-demand feature view", "mode", "features", "sources")
    for odfv in store.list_on_demand_feature_views(tags=wanted):
        sources = [p.name_to_use() for p in odfv.sources] + [r.name for r in odfv.request_sources]
        on_demand.add_row(odfv.name, odfv.mode, ", ".join(f"{f.name}:{f.dtype.name}" for f in odfv.schema), ", ".join(sources))
    if on_demand.row_count:
        console.print(on_demand)
    datasets = Table("saved dataset", "stored in", "rows", "created")
    for dataset in store.list_saved_datasets(tags=wanted):
        created = f"{dataset.created_timestamp:%Y-%m-%d %H:%M} UTC" if dataset.created_timestamp else ""
        datasets.add_row(dataset.name, dataset.storage.describe(), f"{dataset.row_count:,}", created)
    if datasets.row_count:
        console.print(datasets)
    entities = Table("entity", "join keys", "value type")
    for entity in store.list_entities():
        entities.add_row(entity.name, ", ".join(entity.join_keys), entity.value_type.name)
    console.print(entities)


@click.command()
@click.argument("view")
@click.pass_context
def describe(ctx: click.Context, view: str) -> None:
    """Show one feature view (or on-demand feature view) as registered: its spec and fingerprint."""
    import json

    store = _store(ctx)
    if view in store.registry.on_demand_feature_views() and store.registry.record("feature_views", view) is None:
        record = store.registry.record("on_demand_feature_views", view)
    else:
        store.get_feature_view(view)
        record = store.registry.record("feature_views", view)
    click.echo(json.dumps(record, indent=2, sort_keys=True, default=str))


_SERVICE_HELP = "A registered FeatureService: its features (instead of -f)."


@click.command("compile")
@click.option("--features", "-f", multiple=True, help="view:feature[,view:feature...]")
@click.option("--feature-service", "service", default=None, help=_SERVICE_HELP)
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
@click.option("--start-date", default=None, help="No spine table: every entity row of the views' sources from here (ISO 8601).")
@click.option("--end-date", default=None, help="... up to here (default: now).")
@click.option("--filter-by-created-timestamp", "created_filter", is_flag=True,
              help="A row is visible only once created (created time <= the entity row's time).")
@click.option("--from-definitions", is_flag=True,
              help="Compile the definition files as they are, not the registry (the default without a registry).")
@click.pass_context
def compile_(ctx, features, service, dialect, spine_table, spine_query, timestamp_column, full_feature_names, strategy,
             explain, dry_run, start_date, end_date, created_filter, from_definitions) -> None:  # fmt: skip
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
      sqlfeat compile --feature-service ranking --start-date 2024-01-01 --end-date 2024-02-01

    \b
    Without a registry (no `sqlfeat apply` yet, no credentials) it compiles the definition files.
    """
    if spine_table and spine_query:
        raise click.UsageError("give --spine-table or --spine-query, not both")
    if (start_date or end_date) and (spine_table or spine_query):
        raise click.UsageError("give --spine-table/--spine-query, or --start-date/--end-date, not both")
    store = _store(ctx, require_env=False)
    chosen = from_definitions or None
    sql = store.compile_historical_features(
        _requested(store, features, service, chosen), spine_query or spine_table or "entity_df", timestamp_column,
        dialect, full_feature_names, strategy, explain=explain, start_date=_when(start_date, "--start-date"),
        end_date=_when(end_date, "--end-date"), filter_by_created_timestamp=created_filter, from_definitions=chosen,
    )
    click.echo(sql + ";")
    if dry_run:
        if dialect and dialect != store.config.offline_type:
            raise UsageError(f"--dry-run asks the configured warehouse ({store.config.offline_type}); drop --dialect {dialect}")
        query = "\n".join(line for line in sql.splitlines() if not line.startswith("-- "))
        click.echo(f"-- dry run: {store.offline_store.dry_run(query)}", err=True)


@click.command("get-historical-features")
@click.option("--entity-df", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Spine: parquet or CSV (CSV times in ISO 8601; without an offset they are UTC).")
@click.option("--start-date", default=None,
              help="No spine: every entity row of the views' sources from here (ISO 8601; default: end minus the longest TTL).")
@click.option("--end-date", default=None, help="... up to here (default: now).")
@click.option("--features", "-f", multiple=True, help="view:feature[,view:feature...]")
@click.option("--feature-service", "service", default=None, help=_SERVICE_HELP)
@click.option("--filter-by-created-timestamp", "created_filter", is_flag=True,
              help="A row is visible only once created (created time <= the entity row's time).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="Output parquet file: a new file, or one sqlfeat wrote (its folder must exist).")
@click.option("--sql-out", type=click.Path(dir_okay=False), default=None, help="Also write the SQL that ran.")
@click.option("--full-feature-names", is_flag=True, help="Name columns view__feature.")
@click.pass_context
def get_historical_features(ctx, entity_df, start_date, end_date, features, service, created_filter, out, sql_out,
                            full_feature_names) -> None:  # fmt: skip
    """Build a point-in-time correct training set from a spine file, or from every entity row of
    the views' sources between --start-date and --end-date."""
    from sqlfeat.files import claim_file, write_text_atomic
    from sqlfeat.dataset_files import SQL_HEADER, is_training_set, is_training_sql, read_spine_file, write_training_set

    if bool(entity_df) == bool(start_date or end_date):
        raise click.UsageError("give --entity-df FILE, or --start-date/--end-date (one of them)")
    # Checked before any work: a run is not wasted on an output that cannot be written.
    claim_file(out, is_training_set, "--out")
    if sql_out:
        claim_file(sql_out, is_training_sql, "--sql-out")
    store = _store(ctx)
    requested = _requested(store, features, service)
    spine = read_spine_file(Path(entity_df)) if entity_df else None
    job = store.get_historical_features(
        spine, requested, full_feature_names, start_date=_when(start_date, "--start-date"),
        end_date=_when(end_date, "--end-date"), filter_by_created_timestamp=created_filter,
    )
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
