"""Start the server: uvicorn with ``workers`` processes, each building its app (``app.py``).

One worker runs in this process; several are uvicorn's supervised processes (a dead worker is
replaced), each with its own ``FeatureStore`` and connection pool, sharing the listening socket.
SIGINT/SIGTERM: stop accepting, finish requests in flight (up to ``GRACE`` seconds), close the
online store, exit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sqlfeat.server.app import REPO_ENV
from sqlfeat.server.metrics import MULTIPROCESS

GRACE = 10  # seconds for requests in flight at shutdown


def serve(repo_path: Path, host: str, port: int, workers: int, log_level: str = "info", access_log: bool = False) -> None:
    import uvicorn

    os.environ[REPO_ENV] = str(repo_path)
    metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROCESS):
        metrics_dir = tempfile.mkdtemp(prefix="sqlfeat-metrics-")
        os.environ[MULTIPROCESS] = metrics_dir  # set before any worker imports prometheus_client
    try:
        uvicorn.run(
            "sqlfeat.server.app:app_from_env", factory=True, host=host, port=port, workers=workers,
            log_level=log_level, access_log=access_log, timeout_graceful_shutdown=GRACE, lifespan="on",
            server_header=False,
        )  # fmt: skip
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(MULTIPROCESS, None)
