"""CI and catalog commands: ``sqlfeat check``, ``sqlfeat docs generate``, ``sqlfeat docs serve``.

``check`` exits 0 when clean (warnings allowed), 1 when a check fails, 2 on a usage or
configuration error (the group's handler turns a ConfigError into exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sqlfeat.cli.app import console as _console
from sqlfeat.cli.app import open_store as _store
from sqlfeat.warehouses import WAREHOUSES

ALL_DIALECTS = tuple(WAREHOUSES)

_PATH = click.Path(file_okay=False, path_type=Path)


@click.command("check")
@click.option(
    "--dialect", "-d", "dialects", multiple=True, type=click.Choice([*ALL_DIALECTS, "all"]),
    help="Also compile for this dialect (repeatable; `all` for the four). The offline store's own always runs.",
)
@click.option("--state", type=_PATH, default=None,
              help="A previous target/ (e.g. the main branch's) to diff the compiled SQL against.")
@click.option("--target-path", type=_PATH, default=None,
              help="Where compiled SQL and run_results.json go: a new, empty or sqlfeat-written folder. Default: <repo>/target.")
@click.option("--no-data", is_flag=True, help="Do not query the warehouse: skip schema, data and leakage checks.")
@click.option("--allow-breaking", is_flag=True, help="Accept changes that invalidate online data (warn instead of fail).")
@click.option("--warn-error", is_flag=True, help="Treat warnings as failures.")
@click.option("--strict", is_flag=True,
              help="A declared dtype that is not its column's but converts (Int32 over BIGINT...) fails the "
                   "dtypes check instead of warning (also: strict_dtypes: true in feature_store.yaml).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write JUnit XML here (a new file, or one sqlfeat wrote).")
@click.option("--format", "output_format", type=click.Choice(["text", "github"]), default="text", show_default=True,
              help="`github`: also print ::error / ::warning workflow commands that annotate the pull request.")
@click.option("--show-passed", is_flag=True, help="List passing checks one by one.")
@click.pass_context
def check(ctx, dialects, state, target_path, no_data, allow_breaking, warn_error, strict, junit, output_format,
          show_passed) -> None:  # fmt: skip
    """Check the feature repo like a dbt CI job: definitions, compiled SQL per dialect, data,
    point-in-time leakage and the registry plan. Writes target/compiled/ and target/run_results.json.

    \b
    Exit status: 0 clean (warnings allowed), 1 a check failed, 2 usage or configuration error.
    """
    from sqlfeat.checks import CheckOptions, run_checks
    from sqlfeat.checks.report import claim_junit, github_annotations, print_report, write_junit

    options = CheckOptions(
        dialects=tuple(dialects), state=state, target=target_path, data=not no_data,
        allow_breaking=allow_breaking, warn_error=warn_error, strict=strict or None,
    )
    if junit is not None:
        claim_junit(junit)
    with _store(ctx) as store:
        run = run_checks(store, options)
    if output_format == "github":
        for line in github_annotations(run):
            click.echo(line)
    print_report(run, _console(), show_passed)
    if junit is not None:
        write_junit(run, junit)
    sys.exit(run.exit_code)


@click.group("docs")
def docs() -> None:
    """The feature catalog: a static HTML site of every entity, view and feature."""


@docs.command("generate")
@click.option("--output", "-o", type=_PATH, default=None,
              help="Site folder: a new, empty or sqlfeat-written folder. Default: <repo>/target/catalog.")
@click.option("--dialect", "-d", "dialects", multiple=True, type=click.Choice([*ALL_DIALECTS, "all"]),
              help="Also show SQL for this dialect (repeatable). The offline store's own is always shown.")
@click.option("--manifest", type=click.Path(dir_okay=False), default=None,
              help="dbt's target/manifest.json: lineage then starts at the dbt model each source reads.")
@click.pass_context
def docs_generate(ctx, output, dialects, manifest) -> None:
    """Write the catalog: views, features, lineage, compiled SQL, freshness from the last check."""
    from sqlfeat.catalog import generate_catalog

    index = generate_catalog(_store(ctx), output, tuple(dialects), Path(manifest) if manifest else None)
    click.echo(f"Catalog written to {index}\n\n  sqlfeat docs serve    # then open the address it prints")


@docs.command("serve")
@click.option("--port", "-p", default=8080, show_default=True, help="Port (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--output", "-o", type=_PATH, default=None, help="Site folder. Default: <repo>/target/catalog.")
@click.pass_context
def docs_serve(ctx, port, host, output) -> None:
    """Serve the catalog over HTTP (generating it first if it is missing) until Ctrl-C."""
    from sqlfeat.catalog import generate_catalog, serve_catalog
    from sqlfeat.files import is_output_folder

    if output is None:
        output = _store(ctx).repo_path / "target" / "catalog"
    # Only a catalog sqlfeat wrote is served as is; anything else goes through generate, which
    # refuses a folder holding someone else's files.
    if not (is_output_folder(output) and (output / "index.html").is_file()):
        generate_catalog(_store(ctx), output)
    try:
        serve_catalog(output, host, port, ready=lambda url: click.echo(f"Serving {output} at {url} (Ctrl-C to stop)"))
    except OSError as err:
        raise click.UsageError(f"cannot listen on {host}:{port}: {err.strerror}; pick another --port") from None


COMMANDS = [check, docs]
