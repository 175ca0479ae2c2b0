"""Reaching the tracking store: one line, in seconds, when it cannot be reached (``runner.store``)."""

from __future__ import annotations

import http.server
import importlib.util
import threading
import time
from pathlib import Path

import pytest
from conftest import at_once, error_lines, free_port, mlflow_runs, run_cli


def test_a_tracking_server_that_is_down_fails_in_seconds(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    # MLflow's own client retries a refused connection for minutes: the timeout would end the test.
    result = run_cli(f"data.path={tmp_path / 'digits'}", f"tracking.uri={uri}", cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"tracking.uri={uri}: no MLflow server answers" in line and "mlflow server" in line


def test_a_store_uri_mlflow_would_misread_names_the_one_meant(tmp_path):
    # sqlite://mlflow.db (two slashes) ended in sqlalchemy's traceback; mlflow.db in MLflow's
    # refusal of a file store; sqlite:// kept every run in memory, gone as the process ended.
    result = run_cli(f"data.path={tmp_path / 'digits'}", "tracking.uri=sqlite://mlflow.db", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert error_lines(result) == [
        "runner: error: tracking.uri=sqlite://mlflow.db: a sqlite store is sqlite:/// and its file's "
        "path (three slashes for one relative to the working directory, four for a full path): "
        "tracking.uri=sqlite:///mlflow.db"
    ]
    from runner.errors import RunnerError
    from runner.stored import client

    for uri, meant in [
        ("mlflow.db", "--tracking-uri=sqlite:///mlflow.db"),
        ("/srv/runs.sqlite", "--tracking-uri=sqlite:////srv/runs.sqlite"),
        ("sqlite://", "a store in memory, gone with its runs"),
        ("sqlite:///:memory:", "a store in memory, gone with its runs"),
    ]:
        with pytest.raises(RunnerError) as refused:
            client(uri, "--tracking-uri")  # as predict, evaluate and export read a run's store
        assert str(refused.value).startswith(f"--tracking-uri={uri}: ") and meant in str(refused.value)


def test_once_a_server_is_found_down_mlflow_calls_fail_at_once(monkeypatch):
    # A sweep's later jobs, and its own run's end, after its server went away: without this each
    # of MLflow's calls would retry for about four minutes before it failed.
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from runner.errors import RunnerError
    from runner.store import require_server

    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)  # and put back as it was after the test
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RunnerError):
        require_server(uri)
    began = time.monotonic()
    with pytest.raises(MlflowException):
        MlflowClient(uri).get_run("0" * 32)
    assert time.monotonic() - began < 10


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) for name in ("psycopg", "psycopg2")),
    reason="a PostgreSQL driver is here",
)
def test_a_database_uri_without_its_driver_says_so(tmp_path):
    uri = "postgresql://user@127.0.0.1/runs"
    result = run_cli(f"data.path={tmp_path / 'digits'}", f"tracking.uri={uri}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"tracking.uri={uri}: its database driver is not installed" in line


def test_a_server_that_answers_but_fails_the_tls_handshake_is_left_to_mlflow():
    # Self-signed certificates are MLflow's to judge (MLFLOW_TRACKING_INSECURE_TLS, a CA bundle):
    # the probe only refuses a URI where nothing answers. Here plain HTTP answers a TLS hello.
    from runner.store import require_server

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        require_server(f"https://127.0.0.1:{server.server_port}")  # no RunnerError
    finally:
        server.shutdown()


def test_a_sqlite_store_where_a_file_is_in_the_way_is_one_line(tmp_path):
    import mlflow

    from runner.errors import RunnerError
    from runner.store import connect

    (tmp_path / "notes").write_text("a file, not a folder")
    uri, before = f"sqlite:///{tmp_path}/notes/mlflow.db", mlflow.get_tracking_uri()
    with pytest.raises(RunnerError) as refused:
        connect(uri, "runner")
    mlflow.set_tracking_uri(before)  # this worker's later tests
    assert str(refused.value).startswith(f"tracking.uri={uri}: cannot make the store there (File exists: ")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's sysfs: a folder no one may write")
@pytest.mark.parametrize("place", ["/sys/kernel/mlflow.db", "/sys/kernel/runs/mlflow.db"])
def test_a_sqlite_store_this_process_cannot_write_is_one_line_at_once(place):
    # A read-only working directory (a container's), or a file another user owns: MLflow retried
    # for 1:49 here, then raised sqlalchemy's traceback. (Root may write anywhere but sysfs.)
    from runner.errors import RunnerError
    from runner.store import connect

    with pytest.raises(RunnerError) as refused:
        connect(f"sqlite:///{place}", "runner")
    assert str(refused.value).startswith(
        f"tracking.uri=sqlite:///{place}: this process cannot write there (Permission denied: /sys/kernel)."
    )


def test_a_store_an_older_mlflow_made_says_how_to_migrate_it(tmp_path):
    # After pip install -U mlflow, an old mlflow.db: a run was told "Use the default", and rerun,
    # predict, evaluate and export (a client of the store) ended in MLflow's traceback.
    import shutil
    import sqlite3

    import mlflow
    from conftest import empty_store

    from runner.errors import RunnerError
    from runner.store import client, connect

    shutil.copy(empty_store(), tmp_path / "mlflow.db")
    with sqlite3.connect(tmp_path / "mlflow.db") as store:
        store.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")  # an older MLflow's (2024)
    uri, before = f"sqlite:///{tmp_path}/mlflow.db", mlflow.get_tracking_uri()
    for opening in (lambda: connect(uri, "runner"), lambda: client(uri)):
        with pytest.raises(RunnerError) as refused:
            opening()
        line = str(refused.value)
        assert line.startswith(
            f"tracking.uri={uri}: Detected out-of-date database schema (found version 0584bdc529eb"
        )
        assert line.endswith(
            f": made by another MLflow than this one ({mlflow.__version__}). Back it up, then migrate "
            f"it: mlflow db upgrade {uri}"
        )
    mlflow.set_tracking_uri(before)  # this worker's later tests


@pytest.mark.parametrize("damage", ["not a store", "damaged"])
def test_a_file_that_is_no_sqlite_store_or_a_damaged_one_is_one_line(damage, tmp_path):
    # tracking.uri at a wrong file, or an mlflow.db a crash or a bad copy left damaged.
    import shutil

    import mlflow
    from conftest import empty_store

    from runner.errors import RunnerError
    from runner.store import client, connect

    store = tmp_path / "mlflow.db"
    if damage == "damaged":
        shutil.copy(empty_store(), store)
        with store.open("r+b") as file:
            file.seek(4096)  # past the header: SQLite opens it, then finds its pages garbled
            file.write(bytes(range(256)) * ((store.stat().st_size - 4096) // 256))
    else:
        store.write_text("name,label\ncat.jpg,cat\n")
    uri, before = f"sqlite:///{store}", mlflow.get_tracking_uri()
    for opening in (lambda: connect(uri, "runner"), lambda: client(uri)):
        with pytest.raises(RunnerError) as refused:
            opening()
        reason = "file is not a database" if damage == "not a store" else "database disk image is malformed"
        assert str(refused.value) == (
            f"tracking.uri={uri}: {reason}: the file is no SQLite database, or a damaged one. Move it "
            f"aside (a new store is made in its place), or use another file, e.g. tracking.uri=sqlite:///runs.db."
        )
    mlflow.set_tracking_uri(before)  # this worker's later tests


def test_a_store_error_mlflow_raises_again_is_not_also_logged_with_its_traceback(tmp_path, capfd):
    # MLflow logs a SQL store's error with its traceback and raises it again; the runner says it
    # (a full disk in one line), so the traceback only came twenty lines above that line.
    import resource
    import signal

    from mlflow.entities import Param
    from mlflow.exceptions import MlflowException

    from runner.store import client

    store = client(f"sqlite:///{tmp_path}/mlflow.db")
    run = store.create_run(store.create_experiment("runner"))
    capfd.readouterr()
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    ignored = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    resource.setrlimit(resource.RLIMIT_FSIZE, ((tmp_path / "mlflow.db").stat().st_size, limit[1]))
    try:  # the store cannot grow: as on a full disk
        with pytest.raises(MlflowException, match="disk I/O error"):
            store.log_batch(run.info.run_id, params=[Param(f"p{i}", "x" * 6000) for i in range(100)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, ignored)
    assert "Traceback" not in capfd.readouterr().err


class Refusing(http.server.BaseHTTPRequestHandler):
    """A server behind a login, as MLflow's basic-auth app or a proxy is: 401 to everything."""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_that_wants_credentials_says_which_variables_give_them():
    # MLflow's words ("API request to endpoint ... failed with error code 401 != 200") came with
    # "use the default sqlite store" when training, and with a traceback from rerun and predict.
    from runner.errors import RunnerError, explain
    from runner.store import connect
    from runner.stored import client, find_run

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_port}"
    wants = "the MLflow server wants credentials (HTTP 401 for /api/2.0/mlflow/experiments/"
    variables = "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
    try:
        with pytest.raises(RunnerError) as training:
            connect(uri, "runner")
        assert str(training.value).startswith(f"tracking.uri={uri}: {wants}get-by-name)")
        with pytest.raises(Exception) as reading:  # rerun, predict, evaluate, export
            find_run(client(uri), "baseline")
        assert explain(reading.value).startswith(f"tracking.uri: {wants}")
        assert variables in str(training.value) and variables in explain(reading.value)
    finally:
        server.shutdown()


def test_a_value_is_quoted_for_mlflows_filters_in_the_quotes_it_does_not_hold():
    from runner.store import quoted

    assert [quoted("colours"), quoted("it's"), quoted('say "hi"')] == ["'colours'", '"it\'s"', "'say \"hi\"'"]
    assert quoted('it\'s "both"') is None  # no filter can name it: MLflow's have no escapes


def test_runs_made_from_two_working_directories_in_one_process_go_to_each_ones_store(tmp_path, monkeypatch):
    # A notebook: train(cfg), cd elsewhere, train(cfg) again, both at the default
    # sqlite:///mlflow.db. MLflow keeps one store open per URI in a process: the second run went
    # to the first folder's file.
    import mlflow

    from runner import store

    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        store.connect("sqlite:///mlflow.db", "runner")
        with mlflow.start_run(run_name=name):
            mlflow.log_param("folder", name)
        assert [run.info.run_name for run in mlflow_runs(tmp_path / name)] == [name]
    monkeypatch.chdir(tmp_path / "first")
    assert store.client("sqlite:///mlflow.db").search_runs(["1"])[0].info.run_name == "first"


def test_runs_started_at_once_in_a_new_folder_each_make_their_run_in_its_one_store(tmp_path):
    # A shell loop's `&` in a new folder: MLflow makes a sqlite store's tables, migration by
    # migration, as it first opens it, and each process made them: two of three runs died on
    # alembic's traceback ("Online migration expected to match one row").
    script = (
        "import mlflow\nfrom runner.store import connect\n"
        f"connect('sqlite:///{tmp_path}/mlflow.db', 'runner')\n"
        "with mlflow.start_run() as run: print(run.info.run_id)\n"
    )
    made = at_once(script, tmp_path / "go", copies=3)
    recorded = [run.info.run_id for run in mlflow_runs(tmp_path)]
    assert sorted(recorded) == sorted(words[-1] for words in made) and len(set(recorded)) == 3
