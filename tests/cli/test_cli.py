"""The `tracklight` command line: help, `db upgrade` (repeated and concurrent), start-up errors, defaults, prefixes."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from harness.databases import BackendURI, create_database, drop_database, list_tables, selected_backends
from harness.plugin import ServerFactory
from harness.server import ServerProcess, free_port, run_cli, server_env, tracklight_bin

from tracklight.store.engine import Database
from tracklight.store.migrate import HEAD_REVISION

NETWORK_BACKENDS = [b for b in selected_backends() if b != "sqlite"]
SERVER_FLAGS = [
    "--backend-store-uri",
    "--default-artifact-root",
    "--artifacts-destination",
    "--serve-artifacts",
    "--no-serve-artifacts",
    "--host",
    "--port",
    "--workers",
    "--static-prefix",
]


@pytest.fixture(params=NETWORK_BACKENDS)
def network_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendURI]:
    """A fresh, empty MariaDB or PostgreSQL database (the backends whose upgrades are explicit)."""
    db = create_database(request.param, tmp_path)
    try:
        yield db
    finally:
        drop_database(db)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"


def assert_one_line_error(result: subprocess.CompletedProcess[str], *must_contain: str) -> str:
    """A failed command: non-zero exit, no traceback, and exactly one line on stderr that names the problem."""
    text = _output(result)
    assert result.returncode != 0, text
    assert "Traceback" not in result.stdout + result.stderr, text
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got {len(lines)} lines\n{text}"
    for needle in must_contain:
        assert needle.lower() in lines[0].lower(), f"error line does not mention {needle!r}\n{text}"
    return lines[0]


def _create_experiment(base_url: str, name: str) -> str:
    resp = requests.post(f"{base_url}/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=30)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["experiment_id"])


# -- help ----------------------------------------------------------------------------------------------


def test_help() -> None:
    result = run_cli(["--help"], timeout=60)
    assert result.returncode == 0, _output(result)
    assert "server" in result.stdout and "db" in result.stdout


def test_server_help_lists_every_flag() -> None:
    result = run_cli(["server", "--help"], timeout=60)
    assert result.returncode == 0, _output(result)
    for flag in SERVER_FLAGS:
        assert flag in result.stdout, f"{flag} missing from `tracklight server --help`\n{result.stdout}"


def test_db_upgrade_help() -> None:
    result = run_cli(["db", "upgrade", "--help"], timeout=60)
    assert result.returncode == 0, _output(result)
    assert "uri" in result.stdout.lower()


def test_unknown_command_fails() -> None:
    result = run_cli(["frobnicate"], timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


# -- db upgrade ----------------------------------------------------------------------------------------


def test_db_upgrade_twice_then_serve(backend: BackendURI, server_factory: ServerFactory) -> None:
    first = run_cli(["db", "upgrade", backend])
    assert first.returncode == 0, _output(first)
    tables = list_tables(backend)
    assert len(tables) >= 3, tables
    second = run_cli(["db", "upgrade", backend])
    assert second.returncode == 0, _output(second)
    assert "Traceback" not in second.stderr
    assert list_tables(backend) == tables

    server = server_factory(backend, upgrade=False)
    exp_id = _create_experiment(server.url, "after-upgrade")
    got = requests.get(server.api("experiments/get"), params={"experiment_id": exp_id}, timeout=30)
    assert got.status_code == 200 and got.json()["experiment"]["name"] == "after-upgrade"
    default = requests.get(server.api("experiments/get"), params={"experiment_id": "0"}, timeout=30)
    assert default.status_code == 200 and default.json()["experiment"]["name"] == "Default"


@pytest.mark.parametrize("processes", [2, 3])
def test_db_upgrade_concurrently(
    network_db: BackendURI, server_factory: ServerFactory, processes: int
) -> None:
    procs = [
        subprocess.Popen(
            [tracklight_bin(), "db", "upgrade", network_db],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=server_env(),
            stdin=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    for result in results:
        assert result.returncode == 0, _output(result)
        assert "Traceback" not in result.stderr, _output(result)
    server = server_factory(network_db, upgrade=False)
    exp_id = _create_experiment(server.url, "after-concurrent-upgrade")
    run = requests.post(server.api("runs/create"), json={"experiment_id": exp_id}, timeout=30)
    assert run.status_code == 200, run.text


def test_replicas_create_the_schema_of_an_empty_database_together(
    network_db: BackendURI, server_factory: ServerFactory
) -> None:
    """Two servers started at the same moment on one empty database: both come up, the schema exists once."""
    servers = [server_factory(network_db, upgrade=False, start=False, name=f"first-{i}") for i in range(2)]
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_start_reporting, args=(server, errors)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, "\n\n".join(str(e) for e in errors)
    with_created = [s for s in servers if "created the schema" in s.log_text()]
    assert len(with_created) == 1, "exactly one replica creates the schema; the other waits for it"
    assert _revision(network_db) == HEAD_REVISION
    exp_id = _create_experiment(servers[0].url, "created-at-start")
    got = requests.get(servers[1].api("experiments/get"), params={"experiment_id": exp_id}, timeout=30)
    assert got.status_code == 200 and got.json()["experiment"]["name"] == "created-at-start"
    default = requests.get(servers[1].api("experiments/get"), params={"experiment_id": "0"}, timeout=30)
    assert default.status_code == 200 and default.json()["experiment"]["name"] == "Default"


def test_a_replica_waits_out_a_schema_creation_in_progress(
    network_db: BackendURI, server_factory: ServerFactory
) -> None:
    """MySQL shows a schema being created at its intermediate revisions; a starting replica waits, not refuses."""
    from tracklight.store import migrate
    from tracklight.store.engine import open_database

    db = open_database(network_db)
    server = server_factory(network_db, upgrade=False, start=False, name="waiter")
    errors: list[BaseException] = []
    try:
        with migrate._migration_lock(db):
            _upgrade_to(db, "0002")
            thread = threading.Thread(target=lambda: _start_reporting(server, errors))
            thread.start()
            deadline = time.monotonic() + 60
            while not _someone_waits_for_the_migration_lock(db):
                assert time.monotonic() < deadline, "the server never asked for the migration lock"
                assert server.proc is None or server.proc.poll() is None, server.log_tail()
                time.sleep(0.1)
            _upgrade_to(db, "head")
        thread.join(180)
    finally:
        db.engine.dispose()
    assert not errors, "\n\n".join(str(e) for e in errors)
    assert "created the schema" not in server.log_text()
    assert _create_experiment(server.url, "after-the-wait")


def _upgrade_to(db: Database, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from tracklight.store import migrate

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _start_reporting(server: ServerProcess, errors: list[BaseException]) -> None:
    try:
        server.start(timeout=120)
    except BaseException as exc:  # reported by the caller, with the server's log
        errors.append(exc)


def _someone_waits_for_the_migration_lock(db: Database) -> bool:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        else:
            query = "SELECT count(*) FROM information_schema.processlist WHERE info LIKE 'SELECT GET_LOCK(%'"
        return bool(conn.execute(text(query)).scalar())


def test_server_refuses_an_older_schema(network_db: BackendURI) -> None:
    """Upgrading an existing schema stays an explicit `tracklight db upgrade`; the server leaves it alone."""
    from tracklight.store.engine import open_database

    db = open_database(network_db)
    try:
        _upgrade_to(db, "0001")
    finally:
        db.engine.dispose()
    tables = list_tables(network_db)
    port = free_port()
    result = run_cli(
        ["server", "--backend-store-uri", network_db, "--host", "127.0.0.1", "--port", str(port)], timeout=60
    )
    line = assert_one_line_error(result, "tracklight db upgrade")
    assert "revision 0001" in line, line
    assert list_tables(network_db) == tables and _revision(network_db) == "0001", "the server migrated"


def _revision(uri: BackendURI) -> str | None:
    from tracklight.store.engine import open_database
    from tracklight.store.migrate import current_revision

    db = open_database(uri)
    try:
        with db.engine.connect() as conn:
            return current_revision(conn)
    finally:
        db.engine.dispose()


def test_sqlite_migrates_itself(tmp_path: Path, server_factory: ServerFactory) -> None:
    uri = f"sqlite:///{tmp_path / 'self.db'}"
    server = server_factory(uri, upgrade=False)
    exp_id = _create_experiment(server.url, "sqlite-self-migrated")
    assert exp_id != "0"
    assert (tmp_path / "self.db").exists()


# -- start-up errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "nosuchscheme://somewhere/db",
        "not a uri at all",
        "mongodb://127.0.0.1:27017/db",
    ],
)
def test_bad_uri_is_one_line_error(uri: str) -> None:
    port = free_port()
    result = run_cli(["server", "--backend-store-uri", uri, "--port", str(port)], timeout=60)
    assert_one_line_error(result)
    upgrade = run_cli(["db", "upgrade", uri], timeout=60)
    assert_one_line_error(upgrade)


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://postgres@127.0.0.1:1/tracklight",
        "mysql+pymysql://root@127.0.0.1:1/tracklight",
    ],
)
def test_unreachable_database_is_one_line_error(uri: str) -> None:
    started = time.monotonic()
    result = run_cli(["server", "--backend-store-uri", uri, "--port", str(free_port())], timeout=90)
    assert_one_line_error(result)
    upgrade = run_cli(["db", "upgrade", uri], timeout=90)
    assert_one_line_error(upgrade)
    assert time.monotonic() - started < 80


def test_missing_database_is_one_line_error() -> None:
    uri = "postgresql://postgres@127.0.0.1:5432/tracklight_no_such_database_here"
    result = run_cli(["server", "--backend-store-uri", uri, "--port", str(free_port())], timeout=60)
    assert_one_line_error(result)


def test_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run_cli(
            ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'p.db'}", "--port", str(port)],
            timeout=60,
        )
    line = assert_one_line_error(result, str(port))
    assert "use" in line.lower(), line


@pytest.mark.parametrize(
    "args", [["--port", "notanumber"], ["--workers", "zero"], ["--static-prefix", "noslash"]]
)
def test_bad_flag_values(args: list[str], tmp_path: Path) -> None:
    result = run_cli(["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'f.db'}", *args], timeout=60)
    assert result.returncode != 0, _output(result)
    assert "Traceback" not in result.stderr, _output(result)


# -- defaults and configuration ------------------------------------------------------------------------


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def test_default_start_in_empty_directory(tmp_path: Path, server_factory: ServerFactory) -> None:
    """No flags at all; only the port comes from TRACKLIGHT_PORT so the test never fights over 5000."""
    port = free_port()
    server = server_factory(
        "(defaults)",
        upgrade=False,
        argv=["server"],
        cwd=tmp_path,
        env={"TRACKLIGHT_PORT": str(port)},
        port=port,
    )
    assert (tmp_path / "tracklight.db").exists(), sorted(p.name for p in tmp_path.iterdir())
    exp_id = _create_experiment(server.url, "defaults")
    exp = requests.get(server.api("experiments/get"), params={"experiment_id": exp_id}, timeout=30).json()
    assert exp["experiment"]["artifact_location"].startswith("mlflow-artifacts:")
    # Bound to 127.0.0.1 only: another loopback address must not reach it.
    assert _refused("127.0.0.2", port), "server must bind 127.0.0.1 by default, not every interface"


def test_default_port_5000(tmp_path: Path, server_factory: ServerFactory) -> None:
    if not _refused("127.0.0.1", 5000):
        pytest.skip("port 5000 is taken on this machine; the default host is covered via TRACKLIGHT_PORT")
    server = server_factory("(defaults)", upgrade=False, argv=["server"], cwd=tmp_path, port=5000)
    assert requests.get(f"{server.url}/health", timeout=10).text.strip() == "OK"
    assert (tmp_path / "tracklight.db").exists()


def test_env_vars_configure_the_server(tmp_path: Path, server_factory: ServerFactory) -> None:
    port = free_port()
    db = tmp_path / "from-env.db"
    server = server_factory(
        "(env)",
        upgrade=False,
        argv=["server"],
        cwd=tmp_path,
        port=port,
        env={
            "TRACKLIGHT_PORT": str(port),
            "TRACKLIGHT_HOST": "127.0.0.1",
            "TRACKLIGHT_BACKEND_STORE_URI": f"sqlite:///{db}",
            "TRACKLIGHT_ARTIFACTS_DESTINATION": str(tmp_path / "arts"),
        },
    )
    _create_experiment(server.url, "from-env")
    assert db.exists()
    assert not (tmp_path / "tracklight.db").exists()


def test_flags_override_env_vars(tmp_path: Path, server_factory: ServerFactory) -> None:
    port = free_port()
    server = server_factory(
        "(flags)",
        upgrade=False,
        argv=["server", "--port", str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'flag.db'}"],
        cwd=tmp_path,
        port=port,
        env={"TRACKLIGHT_PORT": "1", "TRACKLIGHT_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'env.db'}"},
    )
    _create_experiment(server.url, "flags-win")
    assert (tmp_path / "flag.db").exists()
    assert not (tmp_path / "env.db").exists()


def test_static_prefix(backend: BackendURI, tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(backend, static_prefix="/foo")
    base = server.base_url
    assert requests.get(f"{base}/foo/health", timeout=10).text.strip() == "OK"
    assert requests.get(f"{base}/foo/version", timeout=10).status_code == 200
    for path in ["/foo/api/2.0/mlflow/experiments/get", "/foo/ajax-api/2.0/mlflow/experiments/get"]:
        resp = requests.get(f"{base}{path}", params={"experiment_id": "0"}, timeout=10)
        assert resp.status_code == 200 and resp.json()["experiment"]["name"] == "Default", (path, resp.text)
    assert requests.get(f"{base}/foo/api/3.0/mlflow/server-info", timeout=10).status_code == 200
    for path in ["/health", "/api/2.0/mlflow/experiments/get"]:
        resp = requests.get(f"{base}{path}", params={"experiment_id": "0"}, timeout=10)
        assert resp.status_code == 404, f"{path} must not be served outside the prefix: {resp.status_code}"

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment("prefixed")
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "m", 1.5, step=2)
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "m")] == [(2, 1.5)]
    assert client.get_experiment_by_name("prefixed").experiment_id == exp_id


def test_version_flag() -> None:
    result = run_cli(["--version"], timeout=60)
    assert result.returncode == 0, _output(result)
    assert any(ch.isdigit() for ch in result.stdout + result.stderr)


# -- process lifecycle ---------------------------------------------------------------------------------


def test_sigterm_stops_cleanly(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(f"sqlite:///{tmp_path / 'term.db'}")
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(20)
    # 0, or death by the re-raised SIGTERM after uvicorn's graceful shutdown (what uvicorn does today).
    assert code in (0, -signal.SIGTERM), f"exit code {code} after SIGTERM\n{server.log_tail()}"
    assert "Traceback" not in server.log_text()


def test_kill9_and_restart_keeps_data(backend: BackendURI, server_factory: ServerFactory) -> None:
    server = server_factory(backend)
    exp_id = _create_experiment(server.url, "survives")
    run_id = requests.post(server.api("runs/create"), json={"experiment_id": exp_id}, timeout=30).json()[
        "run"
    ]["info"]["run_id"]
    resp = requests.post(
        server.api("runs/log-metric"),
        json={"run_id": run_id, "key": "m", "value": 2.0, "timestamp": 5, "step": 1},
        timeout=30,
    )
    assert resp.status_code == 200
    server.kill()
    assert not server.running
    server.restart()
    run = requests.get(server.api("runs/get"), params={"run_id": run_id}, timeout=30).json()["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": 2.0, "timestamp": 5, "step": 1}]


def test_replicas_share_one_database(backend: BackendURI, server_factory: ServerFactory) -> None:
    a = server_factory(backend, name="replica-a")
    b = server_factory(backend, name="replica-b")
    c = server_factory(backend, name="replica-c")
    exp_id = _create_experiment(a.url, "shared-by-replicas")
    run_id = requests.post(b.api("runs/create"), json={"experiment_id": exp_id}, timeout=30).json()["run"][
        "info"
    ]["run_id"]
    for index, server in enumerate([a, b, c]):
        resp = requests.post(
            server.api("runs/log-metric"),
            json={
                "run_id": run_id,
                "key": "m",
                "value": float(index),
                "timestamp": 10 + index,
                "step": index,
            },
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
    history = requests.get(
        c.api("metrics/get-history"), params={"run_id": run_id, "metric_key": "m"}, timeout=30
    )
    assert sorted(p["step"] for p in history.json()["metrics"]) == [0, 1, 2]
    dup = requests.post(b.api("experiments/create"), json={"name": "shared-by-replicas"}, timeout=30)
    assert dup.status_code == 400 and dup.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_credentials_from_env_apply_to_upgrade_and_server(
    network_db: BackendURI, tmp_path: Path, server_factory: ServerFactory
) -> None:
    """TRACKLIGHT_DB_USER / TRACKLIGHT_DB_PASSWORD replace the URI's credentials, URL-encoded by us; a
    secret store can inject them without anyone building a URI. `db upgrade` reads the same settings."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(network_db))
    real_user = parts.username or ""
    # The URI names a user that does not exist; the variables put the real one in. The password has
    # every character that breaks a hand-built URI (PostgreSQL trusts and MariaDB root has none, so a
    # password is only checked to survive parsing: on MariaDB it is left out).
    without_user = urlunsplit(parts._replace(netloc=f"nobody@{parts.hostname}:{parts.port}"))
    env = {"TRACKLIGHT_BACKEND_STORE_URI": without_user, "TRACKLIGHT_DB_USER": real_user}
    if network_db.backend == "postgresql":
        env["TRACKLIGHT_DB_PASSWORD"] = "p@ss:w/rd#?%&x"
    upgrade = subprocess.run(
        [tracklight_bin(), "db", "upgrade"], env=server_env(env), capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, _output(upgrade)
    assert "revision" in upgrade.stdout
    port = free_port()
    server = server_factory(
        "(env)",
        upgrade=False,
        argv=["server"],
        cwd=tmp_path,
        port=port,
        env={**env, "TRACKLIGHT_PORT": str(port)},
    )
    _create_experiment(server.url, "credentials-from-env")
