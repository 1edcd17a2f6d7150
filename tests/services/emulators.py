"""Start and stop local stand-ins for the cloud services sqlfeat talks to.

Plain Python (no pytest import): every helper either returns something usable or raises
:class:`ServiceStartError` with a message saying what failed and how to fix it, including
the tail of the server's own log.  Nothing here returns ``None`` to let a caller skip
quietly; ``tests/services/fixtures.py`` decides whether a failure skips (local run) or
fails (CI).

Servers started here run as subprocesses in their own process group on free loopback
ports and are stopped (whole group: SIGINT/SIGTERM, then SIGKILL) when the context
manager exits:

* :func:`fakesnow_server`       -- fakesnow's Snowflake HTTP server (``.venv-fakesnow``)
* :func:`local_bigquery_server` -- local-bigquery REST + gRPC server (``.venv-bigquery``)
* :func:`moto_server`           -- moto (DynamoDB etc.) from the current interpreter

PostgreSQL and Redis are machine services: :func:`find_postgres` / :func:`find_redis`
check them and try to start them if they are down.

Build the two server venvs with ``make -f mk/services.mk services``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ServiceStartError",
    "REPO_ROOT",
    "DEFAULT_START_TIMEOUT",
    "free_port",
    "unique_name",
    "fakesnow_server",
    "local_bigquery_server",
    "bigquery_client",
    "moto_server",
    "aws_client_kwargs",
    "find_postgres",
    "postgres_url",
    "find_redis",
    "redis_url",
    "last_start_seconds",
]

#: Repository root (tests/services/emulators.py -> repo).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Seconds to wait for a server to answer (override: SQLFEAT_SERVICE_START_TIMEOUT).
DEFAULT_START_TIMEOUT = float(os.environ.get("SQLFEAT_SERVICE_START_TIMEOUT", "60"))

LOOPBACK = "127.0.0.1"

#: name -> seconds the last successful start took (for reporting / benchmarks of the suite).
last_start_seconds: dict[str, float] = {}


class ServiceStartError(RuntimeError):
    """A service could not be located, started or reached."""


# --------------------------------------------------------------------------- helpers


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


_NAME_RE = re.compile(r"[^a-z0-9_]+")


def unique_name(prefix: str = "t", max_len: int = 60) -> str:
    """A short identifier unique to this call: ``<prefix>_<pid>_<8 hex>``.

    Lower case letters, digits and ``_`` only, starts with a letter, at most ``max_len``
    characters (PostgreSQL truncates identifiers at 63; a ``pg_`` prefix, reserved for
    PostgreSQL system schemas, gets ``t_`` in front): safe unquoted as a schema /
    dataset / table name in PostgreSQL, Snowflake, BigQuery and DuckDB, and as a Redis or
    DynamoDB key prefix.
    """
    clean = _NAME_RE.sub("_", prefix.lower()).strip("_") or "t"
    if not clean[0].isalpha() or (clean + "_").startswith("pg_"):  # PostgreSQL reserves pg_*
        clean = "t_" + clean
    suffix = f"_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    return clean[: max(1, max_len - len(suffix))] + suffix


_ERROR_LINE = re.compile(r"^\S*(Error|Exception)\b.*|^\S+(Error|Exception): .*|^ERROR:.*")


def _log_tail(path: Path | None, lines: int = 40) -> str:
    """Last ``lines`` lines of a server log, preceded by its first distinct error lines
    (a server that keeps failing per request buries the root cause above the tail)."""
    if path is None or not path.exists():
        return "(no log)"
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:  # pragma: no cover - diagnostic only
        return f"(could not read log {path}: {exc})"
    all_lines = text.splitlines()
    tail = all_lines[-lines:]
    if not tail:
        return "(log is empty)"
    firsts: list[str] = []
    for line in all_lines[: len(all_lines) - len(tail)]:
        if _ERROR_LINE.match(line) and line not in firsts and not line.startswith("ERROR:    Exception in ASGI"):
            firsts.append(line)
            if len(firsts) == 5:
                break
    head = ("first errors:\n" + "\n".join(firsts) + "\n...\n") if firsts else ""
    return head + "\n".join(tail)


def _http_answers(url: str, timeout: float = 2.0) -> bool:
    """True if something answers HTTP at ``url`` (any status code counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            resp.read(0)
        return True
    except urllib.error.HTTPError:
        return True  # e.g. 404/405: the server is up and speaking HTTP
    except (urllib.error.URLError, OSError):
        return False


class _Broken(Exception):
    """Raised by a readiness check when the server answers but is unusable."""


def _http_ok_check(url: str, max_errors: int = 10) -> Callable[[], bool]:
    """Readiness check: ``url`` answers 2xx.  After ``max_errors`` HTTP error answers in a
    row the server is up but broken (e.g. a missing DuckDB extension): stop waiting."""
    errors: list[str] = []

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5.0) as resp:  # noqa: S310 - loopback
                return 200 <= resp.status < 300
        except urllib.error.HTTPError as exc:
            errors.append(f"HTTP {exc.code} from GET {url}")
            if len(errors) >= max_errors:
                raise _Broken(f"{len(errors)} error answers in a row, last: {errors[-1]}") from None
            return False
        except (urllib.error.URLError, OSError):
            errors.clear()
            return False

    return check


def _tcp_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _stop_process_group(proc: subprocess.Popen, first_signal: int, grace: float = 10.0) -> None:
    """Stop ``proc`` and everything in its process group: first_signal, SIGTERM, SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((first_signal, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # reap stragglers left in the group (children of the server), best effort
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


_ADDR_IN_USE = ("address already in use", "errno 98", "address in use")


@contextlib.contextmanager
def _managed_server(
    name: str,
    make_cmd: Callable[[], tuple[Sequence[str], Callable[[], bool], Any]],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    stop_signal: int = signal.SIGTERM,
    attempts: int = 3,
) -> Iterator[Any]:
    """Run a server subprocess until the ``with`` block ends.

    ``make_cmd()`` picks fresh ports and returns ``(argv, ready, value)``: the server is
    considered up once ``ready()`` is true, and ``value`` is what the context yields.
    A start that loses a port race ("address already in use") is retried with new ports.
    """
    timeout = DEFAULT_START_TIMEOUT if timeout is None else timeout
    log_dir = Path(tempfile.mkdtemp(prefix=f"sqlfeat-{name}-log-"))
    last_error = ""
    for attempt in range(1, attempts + 1):
        argv, ready, value = make_cmd()
        log_path = log_dir / f"{name}-{attempt}.log"
        started = time.monotonic()
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=str(cwd) if cwd else None,
                    start_new_session=True,  # own process group: we can stop all of it
                )
            except OSError as exc:
                raise ServiceStartError(f"{name}: could not run {argv[0]!r}: {exc}") from exc
        try:
            delay = 0.05
            while True:
                code = proc.poll()
                if code is not None:
                    tail = _log_tail(log_path)
                    last_error = (
                        f"{name}: server exited with code {code} before answering.\n"
                        f"command: {' '.join(map(str, argv))}\nlog tail ({log_path}):\n{tail}"
                    )
                    break
                try:
                    is_ready = ready()
                except _Broken as exc:
                    raise ServiceStartError(
                        f"{name}: server answers but is broken: {exc}\n"
                        f"command: {' '.join(map(str, argv))}\n"
                        f"log tail ({log_path}):\n{_log_tail(log_path)}"
                    ) from None
                if is_ready:
                    last_start_seconds[name] = time.monotonic() - started
                    break
                if time.monotonic() - started > timeout:
                    _stop_process_group(proc, stop_signal)
                    raise ServiceStartError(
                        f"{name}: server did not answer within {timeout:.0f} s "
                        f"(SQLFEAT_SERVICE_START_TIMEOUT).\n"
                        f"command: {' '.join(map(str, argv))}\n"
                        f"log tail ({log_path}):\n{_log_tail(log_path)}"
                    )
                time.sleep(delay)
                delay = min(delay * 1.5, 0.5)
        except BaseException:
            _stop_process_group(proc, stop_signal)
            raise
        if proc.returncode is not None:  # died: retry only on a lost port race
            if any(s in last_error.lower() for s in _ADDR_IN_USE) and attempt < attempts:
                continue
            raise ServiceStartError(last_error)
        try:
            yield value
        finally:
            _stop_process_group(proc, stop_signal)
            shutil.rmtree(log_dir, ignore_errors=True)
        return
    raise ServiceStartError(last_error)  # pragma: no cover - loop always returns/raises


def _venv_bin(env_var: str, venv: str, exe: str) -> Path:
    override = os.environ.get(env_var)
    path = Path(override) if override else REPO_ROOT / venv / "bin" / exe
    if not path.exists():
        hint = (
            f"set {env_var} to the executable"
            if override
            else f"build it with `make -f mk/services.mk {venv}/.done` (or `make services`) "
            f"from {REPO_ROOT}, or set {env_var}"
        )
        raise ServiceStartError(f"{exe} not found at {path}: {hint}")
    return path


# --------------------------------------------------------------------------- Snowflake


@contextlib.contextmanager
def fakesnow_server(
    *,
    database: str = "SQLFEAT",
    schema: str = "PUBLIC",
    timeout: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Run ``fakesnow -s -p PORT``; yield kwargs for ``snowflake.connector.connect(**kw)``.

    The executable is ``<repo>/.venv-fakesnow/bin/fakesnow`` unless SQLFEAT_FAKESNOW_BIN is
    set.  All connections share one in-memory DuckDB (use a unique schema per test); pass
    ``session_parameters={"FAKESNOW_DB_PATH": ":isolated:"}`` for a private database per
    connection.  fakesnow creates the database and schema named at login if missing.
    """
    exe = _venv_bin("SQLFEAT_FAKESNOW_BIN", ".venv-fakesnow", "fakesnow")

    def make_cmd() -> tuple[list[str], Callable[[], bool], dict[str, Any]]:
        port = free_port()
        kwargs = dict(
            user="fake",
            password="snow",
            account="fakesnow",
            host=LOOPBACK,
            port=port,
            protocol="http",
            database=database,
            schema=schema,
            # no telemetry posts to a server that does not implement them
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            # fail fast instead of the connector's long retry loop if the server dies
            login_timeout=30,
            network_timeout=120,
        )
        # GET on the login route answers 405 once uvicorn is serving
        ready = lambda: _http_answers(f"http://{LOOPBACK}:{port}/session/v1/login-request")  # noqa: E731
        return [str(exe), "-s", "--host", LOOPBACK, "-p", str(port)], ready, kwargs

    # the fakesnow CLI waits for SIGINT to shut uvicorn down cleanly
    with _managed_server(
        "fakesnow", make_cmd, timeout=timeout, stop_signal=signal.SIGINT
    ) as kwargs:
        yield kwargs


# --------------------------------------------------------------------------- BigQuery


@contextlib.contextmanager
def local_bigquery_server(
    *,
    project: str = "local",
    data_dir: str | os.PathLike | None = None,
    timeout: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Run ``local-bigquery serve``; yield ``{"endpoint", "project", "grpc_endpoint", "data_dir"}``.

    The executable is ``<repo>/.venv-bigquery/bin/local-bigquery`` unless
    SQLFEAT_LOCAL_BIGQUERY_BIN is set.  It runs with HOME set to the venv's private home
    (``<venv>/home``, override SQLFEAT_LOCAL_BIGQUERY_HOME) where ``make`` installed the
    DuckDB extensions it cannot download offline.  Data lives in a temporary directory
    removed afterwards unless ``data_dir`` is given.
    """
    exe = _venv_bin("SQLFEAT_LOCAL_BIGQUERY_BIN", ".venv-bigquery", "local-bigquery")
    home = Path(
        os.environ.get("SQLFEAT_LOCAL_BIGQUERY_HOME") or exe.resolve().parent.parent / "home"
    )
    if not (home / ".duckdb" / "extensions").is_dir():
        raise ServiceStartError(
            f"local-bigquery: no DuckDB extensions under {home}/.duckdb/extensions "
            "(the offline server cannot download icu/ducklake): rebuild with "
            "`make -f mk/services.mk .venv-bigquery/.done` or set SQLFEAT_LOCAL_BIGQUERY_HOME"
        )
    tmp_data = None
    if data_dir is None:
        tmp_data = tempfile.mkdtemp(prefix="sqlfeat-local-bigquery-")
        data_dir = tmp_data
    env = dict(os.environ, HOME=str(home))
    # the server's own pydantic settings read env vars such as BIGQUERY_PORT: keep ours out
    for key in [k for k in env if k.upper().startswith(("BIGQUERY_", "GRPC_PORT", "DATA_DIR"))]:
        env.pop(key)

    def make_cmd() -> tuple[list[str], Callable[[], bool], dict[str, Any]]:
        port, grpc_port = free_port(), free_port()
        while grpc_port == port:
            grpc_port = free_port()
        endpoint = f"http://{LOOPBACK}:{port}"
        info = {
            "endpoint": endpoint,
            "project": project,
            "grpc_endpoint": f"{LOOPBACK}:{grpc_port}",
            "data_dir": str(data_dir),
        }
        # listing datasets opens the server's DuckDB catalog (and loads its extensions)
        ready = _http_ok_check(f"{endpoint}/bigquery/v2/projects/{project}/datasets")
        argv = [
            str(exe), "serve",
            "--host", LOOPBACK,
            "--port", str(port),
            "--grpc-port", str(grpc_port),
            "--project", project,
            "--data-dir", str(data_dir),
        ]  # fmt: skip
        return argv, ready, info

    try:
        with _managed_server(
            "local-bigquery", make_cmd, env=env, cwd=Path(str(data_dir)), timeout=timeout
        ) as info:
            yield info
    finally:
        if tmp_data:
            shutil.rmtree(tmp_data, ignore_errors=True)


def bigquery_client(info: dict[str, Any]):
    """A ``google.cloud.bigquery.Client`` for :func:`local_bigquery_server`'s info dict."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=info["project"],
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=info["endpoint"]),
    )


# --------------------------------------------------------------------------- DynamoDB (moto)


@contextlib.contextmanager
def moto_server(*, timeout: float | None = None) -> Iterator[str]:
    """Run moto's server (``python -m moto.server``) and yield its endpoint URL.

    Uses the current interpreter (the main venv has ``moto[server]``) or the executable in
    SQLFEAT_MOTO_SERVER_BIN.  Pair it with :func:`aws_client_kwargs` for boto3.
    """
    override = os.environ.get("SQLFEAT_MOTO_SERVER_BIN")
    if override:
        base = [override]
    else:
        try:
            import moto.server  # noqa: F401  (fail early with a clear message)
        except ImportError as exc:
            raise ServiceStartError(
                f"moto is not importable in {sys.executable} ({exc}): install "
                "SERVICE_CLIENT_PKGS (`make -f mk/services.mk services-clients`)"
            ) from exc
        base = [sys.executable, "-m", "moto.server"]

    def make_cmd() -> tuple[list[str], Callable[[], bool], str]:
        port = free_port()
        endpoint = f"http://{LOOPBACK}:{port}"
        ready = lambda: _http_answers(f"{endpoint}/moto-api/")  # noqa: E731
        return [*base, "-H", LOOPBACK, "-p", str(port)], ready, endpoint

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with _managed_server("moto", make_cmd, env=env, timeout=timeout) as endpoint:
        yield endpoint


def aws_client_kwargs(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """kwargs for ``boto3.client("dynamodb", **kw)`` against a moto endpoint (dummy creds)."""
    return {
        "endpoint_url": endpoint,
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


# --------------------------------------------------------------------------- PostgreSQL


PG_HOST, PG_PORT, PG_DB = LOOPBACK, 5432, "test"
PG_USERS = ("root", "postgres")


def _pg_try(dsns: Sequence[str]) -> tuple[str | None, str]:
    try:
        import psycopg
    except ImportError as exc:
        raise ServiceStartError(
            f"psycopg is not importable ({exc}): install SERVICE_CLIENT_PKGS "
            "(`make -f mk/services.mk services-clients`)"
        ) from exc
    errors = []
    for dsn in dsns:
        try:
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                conn.execute("SELECT 1").fetchone()
            return dsn, ""
        except psycopg.Error as exc:
            errors.append(f"{dsn}: {str(exc).strip()}")
    return None, "\n".join(errors)


def _run_start_command(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"$ {' '.join(argv)}\n{exc}"
    return f"$ {' '.join(argv)}  -> exit {out.returncode}\n{(out.stdout + out.stderr).strip()}"


def _start_postgres() -> str:
    etc = Path("/etc/postgresql")
    versions = sorted(p.name for p in etc.iterdir()) if etc.is_dir() else []
    if not versions:
        return "no PostgreSQL cluster under /etc/postgresql (is the server installed?)"
    return "\n".join(
        _run_start_command(["pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "start"])
        for v in versions
    )


_pg_cache: str | None = None


def find_postgres(timeout: float | None = None) -> str:
    """DSN of a reachable PostgreSQL (127.0.0.1:5432, db ``test``, user root or postgres).

    SQLFEAT_POSTGRES_DSN overrides the candidates.  If none answers, starts the machine's
    cluster (``pg_ctlcluster --skip-systemctl-redirect <version> main start``) and waits up
    to ``timeout`` seconds; raises :class:`ServiceStartError` if it is still unreachable.
    """
    global _pg_cache
    if _pg_cache:
        return _pg_cache
    override = os.environ.get("SQLFEAT_POSTGRES_DSN")
    dsns = (
        [override]
        if override
        else [f"postgresql://{u}@{PG_HOST}:{PG_PORT}/{PG_DB}" for u in PG_USERS]
    )
    dsn, errors = _pg_try(dsns)
    if dsn is None:
        started = time.monotonic()
        start_log = _start_postgres()
        deadline = started + (DEFAULT_START_TIMEOUT if timeout is None else timeout)
        while dsn is None and time.monotonic() < deadline:
            time.sleep(0.5)
            dsn, errors = _pg_try(dsns)
        if dsn is None:
            raise ServiceStartError(
                "PostgreSQL unreachable and could not be started.\n"
                f"tried:\n{errors}\nstart attempt:\n{start_log}"
            )
        last_start_seconds["postgres"] = time.monotonic() - started
    _pg_cache = dsn
    return dsn


def postgres_url(timeout: float | None = None) -> str:
    """Alias of :func:`find_postgres`."""
    return find_postgres(timeout)


# --------------------------------------------------------------------------- Redis


REDIS_HOST, REDIS_PORT = LOOPBACK, 6379
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
    "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no",
    "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def _redis_ping(host: str, port: int, timeout: float = 2.0) -> tuple[bool, str]:
    """Speak RESP directly (no client library needed): PING -> +PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
        if reply.startswith(b"+PONG"):
            return True, ""
        return False, f"unexpected reply {reply!r}"
    except OSError as exc:
        return False, str(exc)


_redis_cache: str | None = None


def find_redis(timeout: float | None = None) -> str:
    """URL (``redis://127.0.0.1:6379/0``) of a Redis that answers PING.

    SQLFEAT_REDIS_URL overrides it (``redis://host:port/db`` only).  If Redis does not
    answer, runs the machine's start command (``redis-server --daemonize yes ...``) and
    waits; raises :class:`ServiceStartError` if it is still unreachable.
    """
    global _redis_cache
    if _redis_cache:
        return _redis_cache
    url = os.environ.get("SQLFEAT_REDIS_URL") or f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    m = re.match(r"redis://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", url)
    if not m:
        raise ServiceStartError(f"cannot parse Redis URL {url!r}")
    host, port = m.group(1), int(m.group(2) or 6379)
    ok, err = _redis_ping(host, port)
    if not ok and (host, port) not in ((REDIS_HOST, REDIS_PORT), ("localhost", REDIS_PORT)):
        raise ServiceStartError(
            f"Redis at {host}:{port} (SQLFEAT_REDIS_URL) unreachable: {err}; only the "
            f"machine's Redis on {REDIS_HOST}:{REDIS_PORT} is started automatically"
        )
    if not ok:
        started = time.monotonic()
        for d in ("/var/lib/redis", "/var/log/redis"):
            with contextlib.suppress(OSError):
                os.makedirs(d, exist_ok=True)
        start_log = _run_start_command(REDIS_START)
        deadline = started + (DEFAULT_START_TIMEOUT if timeout is None else timeout)
        while not ok and time.monotonic() < deadline:
            time.sleep(0.25)
            ok, err = _redis_ping(host, port)
        if not ok:
            raise ServiceStartError(
                f"Redis at {host}:{port} unreachable ({err}) and could not be started.\n"
                f"start attempt:\n{start_log}\nlog tail:\n"
                f"{_log_tail(Path('/var/log/redis/ci.log'), 20)}"
            )
        last_start_seconds["redis"] = time.monotonic() - started
    _redis_cache = url
    return url


def redis_url(timeout: float | None = None) -> str:
    """Alias of :func:`find_redis`."""
    return find_redis(timeout)
