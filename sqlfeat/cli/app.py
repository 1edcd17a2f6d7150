"""The ``sqlfeat`` command group, its one error handler, and helpers shared by the commands.

Exit status, for every command: 0 success; 1 a run or check failed (a ``SqlfeatError``, a
failing check, an inconsistent online store); 2 usage or configuration (a ``UsageError`` such as
``ConfigError``, or a bad command line). A user mistake prints one red line, never a traceback:
``--debug`` (or ``SQLFEAT_DEBUG=1``) adds the traceback and the SQL a warehouse refused.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

EPILOG = """\b
A first run:
  sqlfeat quickstart                 build a demo repo and a training set in seconds
  sqlfeat init my_store && cd my_store/feature_repo
  sqlfeat apply                      register every definition in *.py
  sqlfeat compile --features user_clicks_30d:click_count --dialect duckdb

Exit status: 0 success, 1 a run or check failed, 2 usage or configuration error.
Add --debug (or SQLFEAT_DEBUG=1) to see tracebacks and the SQL a warehouse refused.
"""


def _debugging(ctx: click.Context | None) -> bool:
    if os.environ.get("SQLFEAT_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return bool(ctx is not None and ctx.obj and ctx.obj.get("debug"))


class SqlfeatGroup(click.Group):
    """Turns every error into one red line naming the problem, with the exit status it deserves."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlfeat.errors import SqlfeatError

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SqlfeatError as err:
            debug = _debugging(ctx)
            if debug:
                traceback.print_exc()
            click.secho(f"Error: {err}", fg="red", err=True)
            sql = getattr(err, "sql", None) or getattr(err.__cause__, "sql", None)
            if sql:
                if debug:
                    click.echo(f"-- the SQL that failed:\n{sql}", err=True)
                else:
                    click.echo("(rerun with --debug to see the SQL that failed)", err=True)
            sys.exit(err.exit_code)
        except Exception as err:  # a bug, not a user mistake: still one line unless debugging
            if _debugging(ctx):
                raise
            click.secho(f"Error (unexpected {type(err).__name__}): {err}", fg="red", err=True)
            click.echo("Rerun with --debug for the traceback, and please report it.", err=True)
            sys.exit(1)


@click.group(cls=SqlfeatGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--chdir", "-C", type=click.Path(file_okay=False), default=None,
    help="Feature repo to use (the folder with feature_store.yaml). Default: the current folder.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and failing SQL (also: SQLFEAT_DEBUG=1).")
@click.version_option(package_name="sqlfeat")
@click.pass_context
def cli(ctx: click.Context, chdir: str | None, debug: bool) -> None:
    """sqlfeat: define features once, get point-in-time SQL for every warehouse.

    Definitions use Feast's names (Entity, FeatureView, FileSource...); sqlfeat compiles them
    into SQL that runs inside your warehouse, and prints that SQL for you to read.
    """
    ctx.ensure_object(dict)
    ctx.obj["chdir"] = chdir
    ctx.obj["debug"] = debug


def open_store(ctx: click.Context, require_env: bool = True):
    """The FeatureStore of ``--chdir`` (or the current folder). ``require_env=False`` (compile,
    which connects to nothing): ``${VAR}`` settings may be unset."""
    from sqlfeat.config import load_config
    from sqlfeat.store import FeatureStore

    return FeatureStore(config=load_config(ctx.obj["chdir"], require_env=require_env))


def feature_list(value: tuple[str, ...]) -> list[str]:
    """``-f a:x,b:y -f c:z`` as ``["a:x", "b:y", "c:z"]``."""
    return [f.strip() for item in value for f in item.split(",") if f.strip()]


def features_or_service(store, features: tuple[str, ...], service: str | None, from_definitions: bool | None = False):
    """``-f`` references, or the ``--feature-service`` of that name (exactly one of them)."""
    if bool(feature_list(features)) == bool(service):
        raise click.UsageError("give the features with -f view:feature, or --feature-service NAME (one of them)")
    if not service:
        return feature_list(features)
    from sqlfeat.historical import feature_service

    return feature_service(store.definitions(from_definitions), service)


def when(value: str | None, option: str):
    """An ISO 8601 date-time (``now`` allowed); without a zone: UTC."""
    from datetime import datetime, timezone

    if value is None:
        return None
    if value.strip().lower() == "now":
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date-time; ISO 8601 (2024-02-01, 2024-02-01T12:00:00+08:00) or 'now'", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
