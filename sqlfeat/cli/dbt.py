"""``sqlfeat dbt``: the feature repo as a dbt package (``export``), dbt models as feature views (``import``)."""

from __future__ import annotations

import click

from sqlfeat.cli.app import feature_list
from sqlfeat.cli.app import open_store as _store
from sqlfeat.warehouses import WAREHOUSES


@click.group("dbt")
def dbt() -> None:
    """dbt interop: export the compiled feature SQL as a dbt package, import dbt models (docs/dbt.md)."""


@dbt.command("export")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder of the dbt package (created; sqlfeat's own output folder).")
@click.option("--package-name", default="sqlfeat_features", show_default=True, help="The dbt project's name.")
@click.option("--training-set", default=None, help="Also write a training-set model of this name.")
@click.option("--features", "-f", multiple=True, help="Its features: view:feature[,view:feature...]")
@click.option("--feature-service", "service", default=None, help="Or its features: a FeatureService.")
@click.option("--spine-model", default="training_rows", show_default=True,
              help="The dbt model holding the entity rows (join keys and the timestamp column).")
@click.option("--timestamp-column", default="event_timestamp", show_default=True, help="The spine's row-time column.")
@click.option("--full-feature-names", is_flag=True, help="Name columns view__feature.")
@click.option("--dialect", "-d", type=click.Choice(list(WAREHOUSES)), default=None,
              help="SQL dialect of the models. Default: the repo's offline_store type.")
@click.option("--from-definitions", is_flag=True,
              help="Export the definition files as they are, not the registry (the default without a registry).")
@click.pass_context
def export(ctx, out, package_name, training_set, features, service, spine_model, timestamp_column,
           full_feature_names, dialect, from_definitions) -> None:  # fmt: skip
    """Write a dbt package: sources (with the contract's tests), a latest-values model per
    feature view, and optionally a point-in-time training-set model over a spine model.

    \b
    Examples:
      sqlfeat dbt export --out ../dbt_features
      sqlfeat dbt export --out ../dbt_features --training-set clicks_training \\
          --spine-model training_rows -f user_clicks_30d:click_count
    """
    from sqlfeat.dbt import TrainingSet, export_package

    listed = feature_list(features)
    sets = []
    if training_set:
        if bool(listed) == bool(service):
            raise click.UsageError("--training-set needs -f view:feature or --feature-service NAME (one of them)")
        sets.append(TrainingSet(training_set, tuple(listed), service, spine_model, timestamp_column, full_feature_names))
    elif listed or service:
        raise click.UsageError("-f / --feature-service name a training set's features: add --training-set NAME")
    store = _store(ctx, require_env=False)
    written = export_package(store, out, package_name, sets, dialect, from_definitions or None)
    click.echo(f"wrote a dbt package of {len(written)} files to {out}: {', '.join(written)}")


@dbt.command("import")
@click.option("--manifest", required=True, type=click.Path(dir_okay=False),
              help="dbt's target/manifest.json (catalog.json beside it gives column types when present).")
@click.option("--select", "-s", multiple=True,
              help="tag:NAME or a model name (repeatable). Default: the models with meta: {sqlfeat: ...}.")
@click.option("--out", default="dbt_models.py", show_default=True,
              help="The generated definition file, relative to the repo (only a file it generated is replaced).")
@click.option("--join-key", "join_keys", multiple=True, help="Join key of models whose meta.sqlfeat gives none.")
@click.option("--timestamp-field", default=None, help="Event-time column of models whose meta.sqlfeat gives none.")
@click.option("--created-timestamp-column", default=None, help="Created-time column, likewise.")
@click.option("--ttl-seconds", type=int, default=None, help="TTL of the views, likewise.")
@click.pass_context
def import_(ctx, manifest, select, out, join_keys, timestamp_field, created_timestamp_column, ttl_seconds) -> None:
    """Write a definition file with a feature view per selected dbt model: its relation as the
    source, its columns as features (dtypes from their warehouse types). Then `sqlfeat plan`.

    \b
    Examples:
      sqlfeat dbt import --manifest ../analytics/target/manifest.json --select tag:features
      sqlfeat dbt import --manifest target/manifest.json -s user_events --join-key user_id --timestamp-field event_time
    """
    from sqlfeat.dbt.import_ import Defaults, import_models

    store = _store(ctx, require_env=False)
    defaults = Defaults(tuple(join_keys), timestamp_field, created_timestamp_column, ttl_seconds)
    path, views = import_models(store.repo_path, store.config.offline_type, manifest, select, out, defaults)
    click.echo(f"wrote {path}: feature views {', '.join(views)}; run `sqlfeat plan` to see what changed")


COMMANDS = [dbt]
