"""Configuration: the settings table against the README and --help, variables' errors, the start-up lines that
say where the data lives, and every `mlflow server` flag taken at its nearest meaning or explained."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from harness.databases import create_database, drop_database, selected_backends
from harness.plugin import ServerFactory
from harness.server import REPO_ROOT, ServerProcess, free_port, run_cli

from cli.test_cli import assert_one_line_error
from tracklight.config import SETTINGS

README = REPO_ROOT / "README.md"


# -- the settings table --------------------------------------------------------------------------------


def readme_rows() -> list[tuple[str, str, str]]:
    """(flag, variable, default) cells of the README's Configuration table, in order."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # after header and rule
    return [tuple(cell.strip() for cell in row.strip("|").split("|")[:3]) for row in rows]  # type: ignore[misc]


def table_rows() -> list[tuple[str, str, str]]:
    rows = []
    for s in SETTINGS:
        flags = [f for f in s.flags if f.startswith("--")] + ([s.negative_flag] if s.negative_flag else [])
        rows.append((" / ".join(f"`{f}`" for f in flags), f"`{s.env}`", s.shown_default))
    return rows


def test_readme_configuration_table_is_the_settings_table() -> None:
    assert readme_rows() == table_rows()


def test_server_help_shows_every_setting_with_its_variable() -> None:
    result = run_cli(["server", "--help"], timeout=60)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for s in SETTINGS:
        for flag in s.flags:
            assert flag in text, flag
        if s.flags:
            assert f"[{s.env}]" in text, s.env


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TRACKLIGHT_PORT": "eighty"}, "TRACKLIGHT_PORT must be a number"),
        ({"TRACKLIGHT_SERVE_ARTIFACTS": "maybe"}, "TRACKLIGHT_SERVE_ARTIFACTS must be true or false"),
        ({"TRACKLIGHT_LOG_FORMAT": "xml"}, "must be json or text"),
        ({"TRACKLIGHT_STATIC_PREFIX": "noslash"}, "must start with '/'"),
        ({"TRACKLIGHT_WORKERS": "0"}, "at least 1"),
        ({"TRACKLIGHT_ARTIFACTS_ONLY": "true", "TRACKLIGHT_SERVE_ARTIFACTS": "false"}, "--artifacts-only"),
        ({"TRACKLIGHT_AUTH_OIDC_ISSUER": "https://idp.example"}, "needs --auth"),
        (
            {"TRACKLIGHT_AUTH": "true", "TRACKLIGHT_AUTH_OIDC_ISSUER": "https://idp.example"},
            "needs TRACKLIGHT_AUTH_OIDC_CLIENT_ID",
        ),
        (
            {
                "TRACKLIGHT_AUTH": "true",
                "TRACKLIGHT_AUTH_OIDC_ISSUER": "http://idp.example",
                "TRACKLIGHT_AUTH_OIDC_CLIENT_ID": "tl",
            },
            "must be an https:// URL",
        ),
        ({"TRACKLIGHT_AUTH": "true", "TRACKLIGHT_AUTH_PASSWORD_LOGIN": "false"}, "nobody could sign in"),
        ({"TRACKLIGHT_AUTH_SESSION_HOURS": "0"}, "must be positive"),
        ({"TRACKLIGHT_AUTH_COOKIE_SECURE": "sometimes"}, "must be auto or always"),
    ],
)
def test_bad_variables_are_one_line_errors(env: dict[str, str], needle: str, tmp_path: Path) -> None:
    port = [] if "TRACKLIGHT_PORT" in env else ["--port", str(free_port())]  # a flag would win over it
    result = run_cli(["server", *port], env=env, cwd=tmp_path, timeout=30)
    assert_one_line_error(result, needle)


# -- where the data lives ------------------------------------------------------------------------------


def _messages(server: ServerProcess) -> list[str]:
    """The log's messages (JSON lines, the harness's default without a terminal)."""
    out = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line)["message"])
    return out


def test_start_up_logs_absolute_sqlite_and_artifact_locations(
    tmp_path: Path, server_factory: ServerFactory
) -> None:
    port = free_port()
    server = server_factory(
        "(relative)",
        upgrade=False,
        argv=["server", "--backend-store-uri", "sqlite:///rel.db", "--artifacts-destination", "arts"],
        cwd=tmp_path,
        port=port,
        env={"TRACKLIGHT_PORT": str(port)},
    )
    messages = _messages(server)
    assert f"database: sqlite:///{tmp_path / 'rel.db'}" in messages, messages
    assert f"artifacts: {tmp_path / 'arts'}" in messages, messages
    assert len([m for m in messages if m.startswith("database: ")]) == 1


@pytest.mark.skipif("postgresql" not in selected_backends(), reason="needs PostgreSQL (trust auth)")
def test_start_up_log_masks_the_database_password(tmp_path: Path, server_factory: ServerFactory) -> None:
    db = create_database("postgresql", tmp_path)
    try:
        port = free_port()
        # PostgreSQL here trusts local connections, so any password logs in; it must never reach the log.
        server = server_factory(
            "(env)",
            upgrade=False,
            argv=["server", "--artifacts-destination", "s3-less-folder"],
            cwd=tmp_path,
            port=port,
            env={
                "TRACKLIGHT_PORT": str(port),
                "TRACKLIGHT_BACKEND_STORE_URI": str(db),
                "TRACKLIGHT_DB_PASSWORD": "hunter2-do-not-log",
            },
        )
        text = server.log_text()
        assert "hunter2" not in text
        database = [m for m in _messages(server) if m.startswith("database: ")]
        assert len(database) == 1 and database[0].startswith("database: postgresql"), database
        assert database[0].endswith(f"://postgres:***@127.0.0.1:5432/{db.name}"), database
        assert f"artifacts: {tmp_path / 's3-less-folder'}" in _messages(server)
        server.stop()
    finally:
        drop_database(db)


def test_start_up_log_without_proxied_artifacts(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(
        f"sqlite:///{tmp_path / 'n.db'}", artifacts_dir=tmp_path / "dest", extra_args=["--no-serve-artifacts"]
    )
    messages = _messages(server)
    assert any(m.startswith("artifacts: not proxied") and str(tmp_path / "dest") in m for m in messages)


# -- mlflow server flags -------------------------------------------------------------------------------


def mlflow_server_flags() -> list[str]:
    """Every flag of the stock `mlflow server --help`."""
    mlflow = Path(REPO_ROOT / ".venv" / "bin" / "mlflow")
    result = subprocess.run(
        [str(mlflow), "server", "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    options = result.stdout.split("Options:", 1)[1]
    found = re.findall(r"^  (?:-\w, )?(--[a-z][a-z0-9-]+)(?: / (--[a-z][a-z0-9-]+))?", options, re.M)
    return sorted({flag for pair in found for flag in pair if flag})


def test_every_mlflow_server_flag_is_known() -> None:
    flags = mlflow_server_flags()
    assert {"--gunicorn-opts", "--app-name", "--expose-prometheus", "--backend-store-uri"} <= set(flags)
    ours = run_cli(["server", "--help"], timeout=60).stdout
    missing = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", ours)]
    assert missing == []


def _note_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.log_text().splitlines() if line.startswith("tracklight: note: ")]


NOTED = [
    (
        ["--read-replica-backend-store-uri", "sqlite:///replica.db"],
        "--read-replica-backend-store-uri is ignored",
    ),
    (["--x-frame-options", "DENY"], "--x-frame-options is ignored"),
    (["--expose-prometheus", "prom-dir"], "/metrics is always served"),
    (["--trace-archival-config", "archival.yaml"], "--trace-archival-config is ignored"),
    (["--secrets-cache-ttl", "30"], "--secrets-cache-ttl is ignored"),
    (["--secrets-cache-max-size", "100"], "--secrets-cache-max-size is ignored"),
    (["--workspace-store-uri", "sqlite:///ws.db"], "--workspace-store-uri is ignored"),
    (["--waitress-opts", "--threads 8 --ident x"], "--waitress-opts: ignored --threads 8"),
    (["--uvicorn-opts", "--timeout-keep-alive 10 --log-level debug"], "ignored --timeout-keep-alive 10"),
]


@pytest.mark.parametrize(("args", "note"), NOTED, ids=[a[0] for a, _ in NOTED])
def test_mlflow_flag_is_noted_and_the_server_serves(
    args: list[str], note: str, tmp_path: Path, server_factory: ServerFactory
) -> None:
    server = server_factory(f"sqlite:///{tmp_path / 'm.db'}", extra_args=args, cwd=tmp_path)
    notes = _note_lines(server)
    assert len(notes) == 1 and note in notes[0], server.log_text()
    assert "unrecognized" not in server.log_text()
    assert requests.get(server.api("experiments/get"), params={"experiment_id": "0"}, timeout=10).ok


def test_expose_prometheus_still_serves_metrics(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(f"sqlite:///{tmp_path / 'p.db'}", extra_args=["--expose-prometheus", "/tmp/x"])
    got = requests.get(f"{server.url}/metrics", timeout=10)
    assert got.status_code == 200 and "tracklight_request_seconds" in got.text


@pytest.mark.parametrize("args", [["--disable-workspaces"], ["--registry-store-uri", "SAME"]])
def test_mlflow_flag_matching_tracklight_is_accepted_quietly(
    args: list[str], tmp_path: Path, server_factory: ServerFactory
) -> None:
    uri = f"sqlite:///{tmp_path / 'q.db'}"
    server = server_factory(uri, extra_args=[uri if a == "SAME" else a for a in args])
    assert _note_lines(server) == []
    assert requests.get(server.api("experiments/get"), params={"experiment_id": "0"}, timeout=10).ok


def test_dev_means_text_logs(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(f"sqlite:///{tmp_path / 'd.db'}", extra_args=["--dev"])
    notes = _note_lines(server)
    assert len(notes) == 1 and "--dev" in notes[0] and "no auto-reload" in notes[0]
    assert " INFO tracklight: database: sqlite:///" in server.log_text()
    assert not [line for line in server.log_text().splitlines() if line.startswith("{")]


def test_uvicorn_opts_give_the_port(tmp_path: Path, server_factory: ServerFactory) -> None:
    port = free_port()
    server = server_factory(
        "(argv)",
        upgrade=False,
        argv=[
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'u.db'}",
            "--uvicorn-opts",
            f"--port {port} --host 127.0.0.1",
        ],
        port=port,
        cwd=tmp_path,
    )
    (note,) = _note_lines(server)
    assert f"--port {port} as --port {port}" in note, note
    assert requests.get(f"{server.url}/health", timeout=10).ok


def test_gunicorn_opts_give_the_workers(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(
        f"sqlite:///{tmp_path / 'g.db'}", extra_args=["--gunicorn-opts", "-w 2 --timeout 60"]
    )
    (note,) = _note_lines(server)
    assert "-w 2 as --workers 2" in note and "--timeout 60 (requests are never cut off" in note, note
    # uvicorn's parent starts one process per worker.
    started: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = re.findall(r"Started server process \[(\d+)\]", server.log_text())
        if len(set(started)) >= 2:
            break
        time.sleep(0.2)
    assert len(set(started)) == 2, server.log_text()


def test_disable_security_middleware_answers_any_host(tmp_path: Path, server_factory: ServerFactory) -> None:
    server = server_factory(f"sqlite:///{tmp_path / 's.db'}", extra_args=["--disable-security-middleware"])
    (note,) = _note_lines(server)
    assert "--allowed-hosts '*'" in note
    got = requests.get(
        server.api("experiments/get"),
        params={"experiment_id": "0"},
        headers={"Host": "tracking.example.com", "Origin": "https://ui.example.com"},
        timeout=10,
    )
    assert got.status_code == 200, got.text
    assert got.headers.get("access-control-allow-origin") in ("*", "https://ui.example.com")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--app-name", "custom-app"], "no such app"),
        (["--enable-workspaces"], "workspaces are not supported"),
        (["--registry-store-uri", "sqlite:///elsewhere.db"], "the model registry lives in the backend store"),
        (["--gunicorn-opts", "--workers many"], "needs a number"),
    ],
    ids=["app-name-other", "enable-workspaces", "registry-store-uri", "bad-opts"],
)
def test_mlflow_flag_that_cannot_be_honoured_stops_the_start(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    port = free_port()
    result = run_cli(
        ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'r.db'}", "--port", str(port), *args],
        cwd=tmp_path,
        timeout=60,
    )
    assert_one_line_error(result, needle)
    assert not (tmp_path / "r.db").exists(), "nothing may be created before the refusal"


def test_refusal_leaves_no_server_listening(tmp_path: Path) -> None:
    """`--app-name basic-auth` means auth on: without an admin password for an empty user table the server
    refuses to start (there is no default password), and never ends up serving without auth."""
    port = free_port()
    result = run_cli(
        ["server", "--app-name", "basic-auth", "--port", str(port), "--dev", "--gunicorn-opts", "-w 2"],
        cwd=tmp_path,
        timeout=60,
    )
    # The notes on the adopted mlflow flags come first; the refusal is the one error line, exit 2.
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("tracklight: error:")]
    assert len(errors) == 1 and "no admin user yet" in errors[0], result.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
