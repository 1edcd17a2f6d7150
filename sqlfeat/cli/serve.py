"""``sqlfeat serve``: the HTTP feature server (``sqlfeat/server/``), Feast's JSON API."""

from __future__ import annotations

import click

from sqlfeat.cli.app import open_store


@click.command("serve")
@click.option("--host", default=None, help="Address to bind. Default: feature_server.host, else 127.0.0.1 "
              "(this machine only); 0.0.0.0 listens on every interface.")  # fmt: skip
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=None,
              help="TCP port. Default: feature_server.port, else 6566 (Feast's).")
@click.option("--workers", "-w", type=click.IntRange(1), default=None,
              help="Worker processes, each with its own store connections. Default: feature_server.workers, else 1.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="uvicorn's log level.")
@click.option("--access-log", is_flag=True, help="Log every request (costs latency).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, log_level: str,
          access_log: bool) -> None:  # fmt: skip
    """Serve online features over HTTP, in the JSON of Feast's feature server.

    \b
    Endpoints:
      POST /get-online-features   {"features": [...] or "feature_service": NAME,
                                   "entities": {"user_id": [42, 7]}, "full_feature_names": false}
      GET  /health                200 once the registry is read
      GET  /metrics               Prometheus text: requests, latency, online store errors
      GET  /docs, /openapi.json   the API's description

    \b
    Settings come from the feature_server: section of feature_store.yaml (host, port, workers,
    auth.api_keys, limits); these flags override them. With auth.api_keys set, requests need the
    key in the X-API-Key header (or Authorization: Bearer KEY). Stop with Ctrl-C (or SIGTERM):
    requests in flight finish, the store's connections close. More: docs/serving.md.

    \b
    Example:
      sqlfeat materialize-incremental now && sqlfeat serve --port 6566
      curl -s localhost:6566/get-online-features -d '{"features": ["user_clicks_30d:click_count"],
           "entities": {"user_id": [42]}}'
    """
    from sqlfeat.server.run import serve as run

    store = open_store(ctx)
    options = store.config.feature_server
    store.list_feature_views()  # no registry: say so now (exit 1), not in each worker
    host, port, workers = host or options.host, options.port if port is None else port, workers or options.workers
    store.close()
    auth = f"API keys required ({options.auth.header})" if options.auth.api_keys else "no authentication"
    click.echo(f"serving project {store.project!r} from {store.repo_path} on http://{host}:{port} "
               f"({workers} worker{'s' if workers != 1 else ''}, {auth}, {store.online_target.store})", err=True)  # fmt: skip
    run(store.repo_path, host, port, workers, log_level, access_log)


COMMANDS = [serve]
