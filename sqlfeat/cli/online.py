"""Online commands: materialize, materialize-incremental, get-online-features, consistency.

Each command is one call into FeatureStore; the progress bar and the summary are drawn here. A
materialization whose store rejected entities prints its summary (naming them), then exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import click

from sqlfeat.cli.app import console, features_or_service, open_store as _store
from sqlfeat.errors import RejectedEntitiesError

_WHEN_HELP = "ISO 8601 (2024-02-01, 2024-02-01T12:00:00+08:00) or 'now'; without a zone: UTC."


def _when(value: str) -> datetime:
    if value.strip().lower() == "now":
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time; {_WHEN_HELP}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _key_value(text: str) -> Any:
    """`42` is an integer; `"42"` (quoted) or `abc` is a string."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        return text


def _entity_rows(entities: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for entity in entities:
        row = {}
        for pair in entity.split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise click.BadParameter(f"--entity {entity!r}: write KEY=VALUE[,KEY=VALUE], e.g. user_id=42")
            row[key.strip()] = _key_value(value.strip())
        rows.append(row)
    return rows


@contextmanager
def _progress_bar() -> Iterator[Callable]:
    """A rich progress bar (views done, rows written) fed by materialization's progress hook."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("views"),
        TextColumn("{task.fields[rows]:>12,} rows"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console(), transient=False) as progress:
        task = progress.add_task("materializing", total=None, rows=0)

        def on_progress(report, run) -> None:
            done = sum(1 for r in report.runs if r.done)
            description = run.view if run is not None else ("done" if report.finished else "materializing")
            progress.update(task, total=len(report.runs), completed=done, rows=report.rows, description=description)

        yield on_progress


def _materialize_and_print(run: Callable[[Callable], Any]) -> None:
    """``run(on_progress)`` under a progress bar, then its summary. A run that wrote all it could
    but had entities rejected prints the same summary, then fails through the error handler."""
    try:
        with _progress_bar() as on_progress:
            report = run(on_progress)
    except RejectedEntitiesError as err:
        if err.report is not None:
            console().print(err.report.summary(), markup=False)
        raise
    console().print(report.summary(), markup=False)


@click.command("materialize")
@click.argument("start")
@click.argument("end")
@click.option("--views", "-v", multiple=True, help="Feature views to materialize. Default: every online view.")
@click.pass_context
def materialize(ctx: click.Context, start: str, end: str, views: tuple[str, ...]) -> None:
    """Write each entity's newest row with event time in [START, END] to the online store.

    Exits with status 1 when the store rejected entities (a key or values over its size limits):
    every other entity is written, the rejected ones are named.

    \b
    Example:
      sqlfeat materialize 2024-01-01 2024-02-01 -v user_clicks_30d
    """
    store, since, until, names = _store(ctx), _when(start), _when(end), list(views) or None
    _materialize_and_print(lambda on_progress: store.materialize(since, until, names, on_progress=on_progress))


@click.command("materialize-incremental")
@click.argument("end")
@click.option("--views", "-v", multiple=True, help="Feature views to materialize. Default: every online view.")
@click.pass_context
def materialize_incremental(ctx: click.Context, end: str, views: tuple[str, ...]) -> None:
    """Continue every view from its last materialization up to END (a new view: its full history).

    Exits with status 1 when the store rejected entities, as `materialize` does.
    """
    store, until, names = _store(ctx), _when(end), list(views) or None
    _materialize_and_print(lambda on_progress: store.materialize_incremental(until, names, on_progress=on_progress))


@click.command("get-online-features")
@click.option("--features", "-f", multiple=True, help="view:feature[,view:feature...]")
@click.option("--feature-service", "service", default=None, help="A registered FeatureService: its features (instead of -f).")
@click.option(
    "--entity", "-e", "entities", multiple=True,
    help="One entity row: KEY=VALUE[,KEY=VALUE] (join keys, and request fields of on-demand views); repeat for more rows. 42 is an integer, '\"42\"' a string. "
         "Default: one row without keys (views without entities need none).",
)  # fmt: skip
@click.option("--full-feature-names", is_flag=True, help="Name columns view__feature.")
@click.option("--as-of", "as_of", default=None,
              help=f"Read as of this instant instead of now: TTLs measured from it, newer records null. {_WHEN_HELP}")
@click.option("--include-event-timestamps", is_flag=True, help="Add COLUMN__ts: the values' event times (epoch seconds).")
@click.pass_context
def get_online_features(ctx: click.Context, features, service, entities, full_feature_names: bool, as_of: str | None,
                        include_event_timestamps: bool) -> None:  # fmt: skip
    """Print the online values of FEATURES (or a --feature-service) as JSON: Feast's to_dict shape,
    and after each feature FEATURE__status (PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE).

    Why each null is null goes to stderr: no record, a null in the source, or a record older than
    its view's TTL (its event time and the TTL; --as-of reads it as of an earlier instant).

    \b
    Example:
      sqlfeat get-online-features -f user_clicks_30d:click_count --entity user_id=42 --entity user_id=7
      sqlfeat get-online-features -f user_clicks_30d:click_count -e user_id=42 --as-of 2024-02-01
    """
    store = _store(ctx)
    rows = _entity_rows(entities) if entities else [{}]
    when = _when(as_of) if as_of is not None else None
    response = store.get_online_features(features_or_service(store, features, service), rows, full_feature_names, as_of=when)
    click.echo(response.to_json(include_event_timestamps=include_event_timestamps, include_statuses=True))
    reasons = response.explain_nulls()
    if reasons:
        click.echo("Null values:\n" + "\n".join(f"  {line}" for line in reasons), err=True)


@click.command("consistency")
@click.option("--views", "-v", multiple=True, help="Feature views to check. Default: every online view.")
@click.option("--sample", type=int, default=None, help="Check this many random entities per view. Default: all.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.pass_context
def consistency(ctx: click.Context, views: tuple[str, ...], sample: int | None, seed: int) -> None:
    """Compare online values with get_historical_features at each view's materialization time.

    Exits with status 1 when any entity mismatches or is missing online.
    """
    report = _store(ctx).check_consistency(list(views) or None, sample, seed)
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


COMMANDS = [materialize, materialize_incremental, get_online_features, consistency]
