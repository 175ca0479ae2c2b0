"""Where runs are kept: reaching the MLflow store or server named by ``tracking.uri``, and one
line naming the key when it cannot be reached. MLflow's own client would retry a server that does
not answer for minutes, and report a store it cannot open with a traceback."""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.errors import RunnerError, refused_by_server
from runner.liveness import machine_lock

SERVER_TIMEOUT = 10  # seconds for a tracking server to answer its health check


def require_server(uri: str) -> None:
    """Fail in seconds when no server answers at an http(s) ``uri``: MLflow's own client retries
    a refused connection with backoff for minutes before it gives up. From then on, MLflow's calls
    in this process fail at once too (a sweep's later jobs, its own run's end)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=SERVER_TIMEOUT).close()
    except urllib.error.HTTPError:
        return  # something answered (an auth proxy may refuse /health): MLflow will say the rest
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, ssl.SSLError):
            return  # it answered; MLflow has its own TLS settings (MLFLOW_TRACKING_INSECURE_TLS, ...)
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(SERVER_TIMEOUT)
        raise RunnerError(
            f"tracking.uri={uri}: no MLflow server answers there ({reason}). Start one "
            f"(mlflow server --host 127.0.0.1 --port 5000), or leave tracking.uri at its default, "
            f"sqlite:///mlflow.db in the working directory."
        ) from err


def require_form(uri: str, key: str = "tracking.uri") -> None:
    """Stores MLflow would read otherwise than meant: ``sqlite://mlflow.db`` (two slashes:
    sqlalchemy's traceback), a store in memory (every run gone as the process ends), a database
    file named without its scheme (``mlflow.db``: taken for MLflow's refused file store)."""
    scheme, sep, rest = uri.partition("://")
    if scheme == "sqlite" and rest in ("", "/:memory:"):
        raise RunnerError(
            f"{key}={uri}: a store in memory, gone with its runs when this process ends. "
            f"Keep them in a file: {key}=sqlite:///mlflow.db"
        )
    if scheme == "sqlite" and not rest.startswith("/"):
        raise RunnerError(
            f"{key}={uri}: a sqlite store is sqlite:/// and its file's path (three slashes for one "
            f"relative to the working directory, four for a full path): {key}=sqlite:///{rest}"
        )
    if not sep and Path(uri).suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        raise RunnerError(
            f"{key}={uri}: a database file is named by its scheme and path: {key}=sqlite:///{uri}"
        )


def sqlite_file(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store (None for any other kind)."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def located(uri: str) -> str:
    """``uri`` as MLflow is given it: a sqlite store by its file's full path. MLflow keeps one
    store open per URI in a process, so ``sqlite:///mlflow.db`` from a second working directory
    (``train(cfg)`` again in a notebook, after a ``cd``) would write to the first one's file."""
    path = sqlite_file(uri)
    return uri if path is None or path.is_absolute() else f"sqlite:///{path.resolve()}"


def require_writable(uri: str) -> None:
    """Fail at once on a sqlite store this process cannot write (a read-only working directory, a
    file another user owns): MLflow retries it for a minute or two, then raises sqlalchemy's
    traceback. Tried, not asked: ``os.access`` says yes to root on a read-only file system."""
    if (path := sqlite_file(uri)) is None:
        return
    folder = next((p for p in path.parents if p.exists()), Path("."))  # MLflow makes the rest
    where = path if path.exists() else folder
    try:
        if where == path:
            path.open("ab").close()
        elif folder.is_dir():  # else a file in the way: `opening` says so
            tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise RunnerError(
            f"tracking.uri={uri}: this process cannot write there ({err.strerror}: "
            f"{where.resolve()}). Point it at a file in a folder you can write, e.g. "
            f"tracking.uri=sqlite:////tmp/mlflow.db (four slashes: a full path)."
        ) from err


def connect(uri: str, experiment: str) -> str:
    """Point MLflow at the store and experiment, and return the experiment's id; what MLflow
    refuses is one line naming the key (an experiment's name was checked by its schema)."""
    import mlflow  # seconds to import: not for rerun's checks before it needs MLflow

    require_form(uri)
    require_server(uri)
    require_writable(uri)
    quiet_store_errors()
    mlflow.set_tracking_uri(located(uri))
    with opening(uri), one_at_a_time(uri):
        return mlflow.set_experiment(experiment).experiment_id  # the first access to the store


def client(uri: str) -> Any:
    """A client of the store at ``uri`` (runner.rerun, predict, evaluate, export, through
    ``stored.client``, which checks the URI's form first), opened now."""
    import mlflow

    require_server(uri)
    quiet_store_errors()
    with opening(uri), one_at_a_time(uri):
        return mlflow.MlflowClient(tracking_uri=located(uri))


@contextmanager
def one_at_a_time(uri: str) -> Iterator[None]:
    """Processes on this machine open a sqlite store one at a time. MLflow makes a new store's
    tables as it first opens it, migration by migration: runs started at once in a new folder (a
    shell loop's ``&``) each made them, and all but one died on alembic's traceback. The lock is
    named by the store's full path."""
    if (path := sqlite_file(uri)) is None:
        yield
        return
    with machine_lock(f"store-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"):
        yield


def quiet_store_errors() -> None:
    """MLflow logs each database error of a SQL store with its traceback, then raises it again:
    whoever catches it says it (the runner in one line, for a full disk), so the log only repeats
    it, twenty lines above that line."""
    logging.getLogger("mlflow.store.db.utils").addFilter(not_raised_again)


def not_raised_again(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("SQLAlchemy database error.")


@contextmanager
def opening(uri: str) -> Iterator[None]:
    """What MLflow refuses as it opens the store at ``uri``, as one line naming ``tracking.uri``."""
    import mlflow
    import sqlalchemy.exc

    try:
        yield
    except sqlalchemy.exc.DatabaseError as err:
        if not any(words in str(err.orig) for words in ("not a database", "malformed")):
            raise  # locked, a full disk: not the file's fault
        raise RunnerError(
            f"tracking.uri={uri}: {err.orig}: the file is no SQLite database, or a damaged one. "
            f"Move it aside (a new store is made in its place), or use another file, e.g. "
            f"tracking.uri=sqlite:///runs.db."
        ) from err
    except ImportError as err:
        raise RunnerError(
            f"tracking.uri={uri}: its database driver is not installed ({err}). Install it, or use "
            f"the default, sqlite:///mlflow.db."
        ) from err
    except OSError as err:  # a sqlite store's folder, made by MLflow, with a file in the way
        raise RunnerError(
            f"tracking.uri={uri}: cannot make the store there ({err.strerror}: {err.filename}). Point "
            f"it at a folder you can write, or use the default, sqlite:///mlflow.db."
        ) from err
    except mlflow.exceptions.MlflowException as err:
        if refused := refused_by_server(err.message):
            raise RunnerError(f"tracking.uri={uri}: {refused}") from err
        reason = first(err.message)
        if "database schema" in reason:  # a store another MLflow made (most often: an older one)
            raise RunnerError(
                f"tracking.uri={uri}: {reason}: made by another MLflow than this one "
                f"({mlflow.__version__}). Back it up, then migrate it: mlflow db upgrade {uri}"
            ) from err
        raise RunnerError(
            f"tracking.uri={uri}: {reason}. Use the default, sqlite:///mlflow.db, or an mlflow "
            f"server's http:// address."
        ) from err


def quoted(value: str) -> str | None:
    """``value`` quoted for one of MLflow's search filters, which have no escapes: in the quotes it
    does not hold; None if it holds both (no filter can name it)."""
    quote = "'" if "'" not in value else '"'
    return None if quote in value else f"{quote}{value}{quote}"


def first(message: str) -> str:
    """MLflow's first sentence: the rest is advice for its own API."""
    return message.split(". ")[0].rstrip(".")


def gone(uri: str) -> str | None:
    """Why the server of an http(s) ``uri`` stopped answering (None while it answers)."""
    try:
        require_server(uri)
        return None
    except RunnerError as err:
        return str(getattr(err.__cause__, "reason", err.__cause__))


def every_run(
    store: Any, experiment: str, query: str, order_by: list[str] | None = None, page: int = 1000
) -> list:
    """Every run of ``experiment`` that ``query`` finds, page by page: MLflow's search gives at most
    ``page`` at a time (1,000 unless asked), and a long study or a busy experiment holds more."""
    found, token = [], None
    while True:
        runs = store.search_runs([experiment], query, max_results=page, order_by=order_by, page_token=token)
        found += runs
        if not (token := runs.token):
            return found
