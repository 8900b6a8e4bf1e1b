"""The container files, checked without Docker: hadolint, checkov, the Dockerfile's structure and its RUN logic,
the image's command run for real, .dockerignore, and compose.yaml's structure and service chain.

No timing is asserted here; the start-time goal (< 1 s to the first 200 on /health) lives in bench/startup.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from harness.databases import create_database, drop_database, selected_backends
from harness.server import free_port, server_env, tracklight_bin

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
# Modules the server must not import on its way to serving an existing database (the cloud SDKs load only for
# their own destination, Alembic only to migrate, mlflow never).
HEAVY = ("boto3", "botocore", "google.cloud", "google.auth", "azure", "alembic", "mlflow")


def checkov_bin() -> Path:
    return Path(os.environ.get("TRACKLIGHT_TEST_CHECKOV_BIN") or ROOT / ".venv-checkov" / "bin" / "checkov")


# -- a small Dockerfile reader ------------------------------------------------------------------------------


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continuation"
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, rest))
    return result


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                env[key] = value.strip('"')
    return env


def exec_form(keyword: str) -> list[str]:
    found = [rest for k, rest in final_stage() if k == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    value = json.loads(found[0])
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), (
        f"{keyword} is not JSON exec form"
    )
    return value


def healthcheck_command() -> list[str]:
    found = [rest for k, rest in final_stage() if k == "HEALTHCHECK"]
    assert len(found) == 1, "expected one HEALTHCHECK in the final stage"
    options, _, command = found[0].partition("CMD ")
    assert command, "HEALTHCHECK has no CMD"
    assert "--timeout=" in options and "--interval=" in options, options
    value = json.loads(command)
    assert isinstance(value, list), "HEALTHCHECK CMD is not JSON exec form"
    return value


# -- linters ------------------------------------------------------------------------------------------------


def _hadolint(path: Path) -> list[dict]:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", "-f", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (not findings), result.stdout + result.stderr
    return findings


def test_hadolint_clean() -> None:
    """No finding at any level, style included; an exception needs `# hadolint ignore=DLxxxx` with a reason."""
    assert _hadolint(DOCKERFILE) == []
    for line in DOCKERFILE.read_text().splitlines():
        if "hadolint ignore=" in line:
            reason = re.sub(r".*hadolint ignore=[A-Z0-9,]+", "", line).strip(" :-")
            assert len(reason) > 10, f"undocumented hadolint ignore: {line!r}"


def test_hadolint_would_catch_problems(tmp_path: Path) -> None:
    """The linter really runs: a careless Dockerfile gets the findings the real one avoids."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nCMD tracklight server\n")
    codes = {f["code"] for f in _hadolint(bad)}
    assert {"DL3006", "DL3013", "DL3025"} <= codes, codes


def _checkov(path: Path) -> dict:
    binary = checkov_bin()
    assert binary.exists(), f"{binary} is missing: scripts/test installs it (requirements/checkov.txt)"
    result = subprocess.run(
        [str(binary), "-f", str(path), "--framework", "dockerfile", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # no guideline download: CI is offline
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["check_type"] == "dockerfile", result.stdout[:2000]
    return report


def test_checkov_dockerfile_clean() -> None:
    report = _checkov(DOCKERFILE)
    failed = [(c["check_id"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    # HEALTHCHECK, a non-root USER, a tagged base, not root as the last user.
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7", "CKV_DOCKER_8"} <= passed, passed
    for skipped in report["results"].get("skipped_checks", []):
        assert len((skipped.get("suppress_comment") or "").strip()) > 10, f"undocumented skip: {skipped}"


# -- the Dockerfile's shape ---------------------------------------------------------------------------------


def test_multi_stage_slim_runtime_with_only_the_venv() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    builder_from = all_stages[0][0][1]
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*-slim[\w.-]* AS builder", builder_from, re.I), builder_from
    final_from = final_stage()[0][1]
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*-slim[\w.-]*", final_from), final_from
    assert final_from.split(":")[1] != "latest"
    copies = [rest for k, rest in final_stage() if k in ("COPY", "ADD")]
    assert copies == ["--from=builder /opt/tracklight /opt/tracklight"], copies
    builder_runs = " ".join(rest for k, rest in all_stages[0] if k == "RUN")
    assert "pip wheel" in builder_runs and "--no-deps /build/dist/tracklight-" in builder_runs, builder_runs
    for module in (
        "pymysql",
        "cryptography",
        "psycopg2",
        "tracklight.artifacts.s3",
        "tracklight.artifacts.gcs",
        "azure",
    ):
        assert module in builder_runs, f"the build does not prove {module} is installed"


def test_non_root_user_with_a_fixed_uid() -> None:
    users = [rest for k, rest in final_stage() if k == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, (
        f"USER should be a fixed non-root numeric UID, not {users[-1]!r}"
    )
    runs = " ".join(rest for k, rest in final_stage() if k == "RUN")
    assert f"--uid {uid}" in runs, "the user is not created with that UID"


def test_entrypoint_cmd_port_and_environment() -> None:
    assert exec_form("ENTRYPOINT") == ["tracklight"]
    assert exec_form("CMD") == ["server"]
    assert [rest for k, rest in final_stage() if k == "EXPOSE"] == ["5000"]
    env = image_env()
    assert env["TRACKLIGHT_HOST"] == "0.0.0.0"
    assert env.get("TRACKLIGHT_PORT", "5000") == "5000"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/tracklight/bin:")


def test_healthcheck_uses_python_not_curl() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"], command
    assert "/health" in command[2]
    assert not any(tool in " ".join(command) for tool in ("curl", "wget"))


def test_no_secrets_in_the_image() -> None:
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL|CONNECTION_STRING|_KEY\b", re.I)
    for keyword, rest in instructions():
        if keyword in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"(\w+)=", rest) or [rest.split()[0]]
            assert not [n for n in names if secretish.search(n)], f"{keyword} {rest}"
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", rest), f"credentials in a URI: {keyword} {rest}"


def test_every_setting_is_documented_in_the_dockerfile() -> None:
    """Each TRACKLIGHT_* variable of the settings table appears in the Dockerfile's configuration comment block."""
    from tracklight.config import SETTINGS

    names = {setting.env for setting in SETTINGS}
    assert {"TRACKLIGHT_BACKEND_STORE_URI", "TRACKLIGHT_HOST", "TRACKLIGHT_PORT"} <= names, names
    comments = "\n".join(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("#"))
    missing = sorted(n for n in names if n not in comments)
    assert missing == [], f"document these in the Dockerfile's comment block: {missing}"
    for cloud in (
        "MLFLOW_S3_ENDPOINT_URL",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_STORAGE_CONNECTION_STRING",
    ):
        assert cloud in comments


# -- .dockerignore and the build context --------------------------------------------------------------------


def build_context_files() -> list[Path]:
    """The files `docker build .` sends, for this allow-list style .dockerignore (`*`, then `!` entries)."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore should start by excluding everything"
    allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    excluded = [p.removeprefix("**/") for p in patterns[1:] if not p.startswith("!")]
    files = []
    for entry in allowed:
        base = ROOT / entry
        for path in [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()):
            parts = path.relative_to(ROOT).parts
            if any(Path(part).match(pattern) for part in parts for pattern in excluded):
                continue
            files.append(path)
    return files


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    files = {str(p.relative_to(ROOT)) for p in build_context_files()}
    assert {"pyproject.toml", "README.md", "src/tracklight/__init__.py", "src/tracklight/cli.py"} <= files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc") or ".egg-info" in f]
    assert not [f for f in files if f.startswith((".venv", ".git", "tests/", ".env")) or f.endswith(".db")]
    for keyword, rest in instructions():
        if keyword == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert any(f == source or f.startswith(source.rstrip("/") + "/") for f in files), (
                    f"COPY {source} is not in the build context"
                )


def test_the_build_steps_without_docker(tmp_path: Path) -> None:
    """The builder's logic on the build context: `pip wheel --no-deps .`, then the wheel installed into a fresh
    venv. Dependencies come from the test venv through a .pth (offline); the wheel must carry the migrations,
    the console script and the driver requirements, and the cloud stores must import from it."""
    context = tmp_path / "context"
    for path in build_context_files():
        target = context / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(context),
        ],
        check=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (wheel,) = dist.glob("tracklight-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert any(n.startswith("tracklight/store/migrations/versions/") and n.endswith(".py") for n in names)
    assert "tracklight = tracklight.cli:main" in entry_points
    requires = " ".join(re.findall(r"^Requires-Dist: (.*)$", meta, re.M)).lower()
    for requirement in ("pymysql", "psycopg2-binary", "boto3", "google-cloud-storage", "azure-storage-blob"):
        assert requirement in requires, f"{requirement} is not a requirement of the wheel"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies from the test venv; its editable tracklight is not picked up (.pth files in a directory
    # added by a .pth are not processed), which the check below confirms.
    (site / "zz-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    probe = (
        "import tracklight, pymysql, psycopg2, tracklight.http.app, tracklight.artifacts.s3, "
        "tracklight.artifacts.gcs, tracklight.artifacts.azure; print(tracklight.__file__)"
    )
    out = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(site)), out.stdout
    db = tmp_path / "x.db"
    upgrade = subprocess.run(
        [str(python), "-m", "tracklight", "db", "upgrade", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert upgrade.returncode == 0 and "revision" in upgrade.stdout, upgrade.stdout + upgrade.stderr


# -- the image's command, run for real ----------------------------------------------------------------------


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class ImageProcess:
    """ENTRYPOINT + CMD with the image's ENV, in a fresh directory standing in for the WORKDIR volume."""

    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        env = {k: v for k, v in image_env().items() if k not in ("PATH", "VIRTUAL_ENV")}
        # 127.0.0.1 instead of the image's 0.0.0.0: a test must not listen beyond this machine.
        env.update(TRACKLIGHT_HOST="127.0.0.1", TRACKLIGHT_PORT=str(self.port), **(extra_env or {}))
        self.env = server_env(env)
        # Only what the test gives: an admin password in the developer's environment would hide the image's default.
        for name in ADMIN_VARIABLES:
            if name not in (extra_env or {}):
                self.env.pop(name, None)
        argv = exec_form("ENTRYPOINT") + exec_form("CMD")
        assert argv[0] == "tracklight"
        self.argv = [tracklight_bin(), *argv[1:]]
        self.log = workdir.parent / f"{workdir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        prefix = self.env.get("TRACKLIGHT_STATIC_PREFIX", "")
        while _get(f"http://127.0.0.1:{self.port}{prefix}/health") != 200:
            assert self.proc.poll() is None, f"the server exited:\n{self.log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no 200 on /health:\n{self.log.read_text()[-4000:]}"
            time.sleep(0.05)

    def stop(self) -> bool:
        """SIGTERM, as `docker stop` sends it; whether the server shut down cleanly."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        # 0, or death by the SIGTERM uvicorn re-raises after its graceful shutdown.
        return code in (0, -signal.SIGTERM)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The HEALTHCHECK command, with `python` being the server's venv interpreter as in the image."""
        command = healthcheck_command()
        python = str(Path(tracklight_bin()).with_name("python"))
        return subprocess.run(
            [python, *command[1:]], env=self.env, capture_output=True, text=True, timeout=30, cwd=self.workdir
        )


# The README's "try it" run: the image turns authentication on, so the first start needs an admin password.
TRY_IT = {"TRACKLIGHT_ADMIN_PASSWORD": "try-it-password"}
ADMIN_VARIABLES = ("TRACKLIGHT_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", "TRACKLIGHT_ADMIN_USERNAME")


@pytest.fixture
def image_process(tmp_path: Path) -> Iterator[list[ImageProcess]]:
    started: list[ImageProcess] = []
    yield started
    for proc in started:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()


@pytest.mark.parametrize("prefix", ["", "/mlflow"])
def test_image_command_serves_health_and_the_healthcheck_passes(
    tmp_path: Path, image_process: list[ImageProcess], prefix: str
) -> None:
    workdir = tmp_path / "var-lib-tracklight"
    workdir.mkdir()
    server = ImageProcess(workdir, {"TRACKLIGHT_STATIC_PREFIX": prefix, **TRY_IT} if prefix else TRY_IT)
    image_process.append(server)
    server.start()
    # The defaults land in the WORKDIR, which is what the Dockerfile tells users to mount.
    assert (workdir / "tracklight.db").exists()
    check = server.healthcheck()
    assert check.returncode == 0, check.stderr
    assert server.stop()
    # Once the server is gone the HEALTHCHECK must fail, or it would prove nothing.
    assert server.healthcheck().returncode != 0


def test_startup_path_imports_no_heavy_modules(tmp_path: Path, image_process: list[ImageProcess]) -> None:
    """A restart on an existing database imports neither the cloud SDKs nor Alembic nor mlflow."""
    workdir = tmp_path / "var-lib-tracklight"
    workdir.mkdir()
    first = ImageProcess(workdir, TRY_IT)
    image_process.append(first)
    first.start()
    assert first.stop()
    again = ImageProcess(workdir, {"PYTHONPROFILEIMPORTTIME": "1", **TRY_IT})
    image_process.append(again)
    again.start()
    assert again.stop()
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", again.log.read_text(), re.M))
    assert "tracklight.http.app" in imported, "no import profile in the log"
    assert sorted(m for m in imported if m.startswith(HEAVY)) == []


def test_image_turns_auth_on_and_refuses_to_start_without_an_admin_password(tmp_path: Path) -> None:
    assert image_env()["TRACKLIGHT_AUTH"] == "true"
    workdir = tmp_path / "var-lib-tracklight"
    workdir.mkdir()
    server = ImageProcess(workdir)
    run = subprocess.run(server.argv, cwd=workdir, env=server.env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0, "the image served with authentication on and no admin"
    assert "TRACKLIGHT_ADMIN_PASSWORD" in run.stdout + run.stderr, run.stdout + run.stderr


def _search_status(server: ImageProcess) -> int:
    return _get(f"http://127.0.0.1:{server.port}/api/2.0/mlflow/experiments/search?max_results=1")


def test_image_with_an_admin_password_needs_a_login_and_a_token_works_with_mlflow(
    tmp_path: Path, image_process: list[ImageProcess]
) -> None:
    """The README's try-it run with -e TRACKLIGHT_ADMIN_PASSWORD, then `tracklight tokens create admin` with the
    image's entrypoint against the same volume, then the stock mlflow client with MLFLOW_TRACKING_TOKEN."""
    workdir = tmp_path / "var-lib-tracklight"
    workdir.mkdir()
    server = ImageProcess(workdir, TRY_IT)
    image_process.append(server)
    server.start()
    assert _search_status(server) == 401
    argv = exec_form("ENTRYPOINT") + ["tokens", "create", "admin"]
    created = subprocess.run(
        [tracklight_bin(), *argv[1:]], cwd=workdir, env=server.env, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("tl_"), created.stdout
    script = (
        "import mlflow; c = mlflow.MlflowClient(); "
        "print(c.get_experiment(c.create_experiment('from-the-image')).name)"
    )
    client_env = {
        k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_") and k != "PYTHONPATH"
    }
    client_env.update(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{server.port}", MLFLOW_TRACKING_TOKEN=token)
    logged = subprocess.run(
        [sys.executable, "-c", script], env=client_env, capture_output=True, text=True, timeout=180
    )
    assert logged.returncode == 0, logged.stderr[-3000:]
    assert logged.stdout.strip().endswith("from-the-image")
    client_env["MLFLOW_TRACKING_TOKEN"] = "tl_" + "0" * 43
    refused = subprocess.run(
        [sys.executable, "-c", script], env=client_env, capture_output=True, text=True, timeout=180
    )
    assert refused.returncode != 0
    assert server.stop()


def test_image_with_auth_off_serves_without_a_login(
    tmp_path: Path, image_process: list[ImageProcess]
) -> None:
    workdir = tmp_path / "var-lib-tracklight"
    workdir.mkdir()
    server = ImageProcess(workdir, {"TRACKLIGHT_AUTH": "false"})
    image_process.append(server)
    server.start()
    assert _search_status(server) == 200
    assert server.stop()


# -- compose.yaml -------------------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


DEV_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _strings(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def test_compose_services_and_their_order() -> None:
    services = compose()["services"]
    assert {"mysql", "s3", "create-bucket", "migrate", "tracklight"} <= set(services)
    assert re.fullmatch(r"mysql:8(\.\d+)*", services["mysql"]["image"])
    for name in ("mysql", "s3"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    assert services["create-bucket"]["depends_on"]["s3"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for one_shot in ("migrate", "create-bucket"):
        assert services[one_shot]["restart"] == "no"
        assert services["tracklight"]["depends_on"][one_shot]["condition"] == "service_completed_successfully"
    # The migration and bucket jobs run the very image the server runs, built from this Dockerfile.
    images = {services[s]["image"] for s in ("migrate", "create-bucket", "tracklight")}
    assert len(images) == 1
    assert services["tracklight"]["build"]["context"] == "."


def test_compose_points_tracklight_at_mysql_and_s3() -> None:
    services = compose()["services"]
    env = services["tracklight"]["environment"]
    uri = env["TRACKLIGHT_BACKEND_STORE_URI"]
    assert uri.startswith("mysql+pymysql://") and "@mysql:3306/" in uri
    # The password travels beside the URI, never inside it; the server fills it in.
    assert not re.search(r"://[^/@]*:[^/@]*@", uri), uri
    assert DEV_DEFAULT.fullmatch(env["TRACKLIGHT_DB_PASSWORD"]).group(1) == "TRACKLIGHT_DB_PASSWORD"
    # MySQL creates the user with the very password the server and the migration send.
    assert env["TRACKLIGHT_DB_PASSWORD"] == services["mysql"]["environment"]["MYSQL_PASSWORD"]
    migrate_env = services["migrate"]["environment"]
    for name in ("TRACKLIGHT_BACKEND_STORE_URI", "TRACKLIGHT_DB_PASSWORD"):
        assert migrate_env[name] == env[name], f"the migration must upgrade the server's database ({name})"
    assert re.fullmatch(
        r"s3://[^/]+/\w+", DEV_DEFAULT.sub(lambda m: m.group(2), env["TRACKLIGHT_ARTIFACTS_DESTINATION"])
    )
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://s3:5000"
    assert services["tracklight"]["ports"] == ["127.0.0.1:5000:5000"]
    # The image turns authentication on: the server creates its first admin from a dev-only password.
    assert "TRACKLIGHT_AUTH" not in env or env["TRACKLIGHT_AUTH"] == "true"
    assert DEV_DEFAULT.fullmatch(env["TRACKLIGHT_ADMIN_PASSWORD"]).group(1) == "TRACKLIGHT_ADMIN_PASSWORD"
    for name, service in services.items():
        if name != "tracklight":
            assert "ports" not in service, f"{name} should not be published"


def test_compose_has_no_plain_text_secrets() -> None:
    """Secret values are `${VAR:-…-dev-only}` interpolations, overridable from .env; nothing else."""
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.I)
    seen_defaults = []
    for path, value in _strings(compose()):
        key = path.rsplit(".", 1)[-1]
        candidates = []
        if secretish.search(key):
            candidates.append(value)
        candidates += re.findall(r"://[^/\s:@]+:([^/\s@]+)@", value)  # passwords inside URIs
        for secret in candidates:
            match = DEV_DEFAULT.fullmatch(secret)
            assert match, f"{path}: a secret must be a ${{VAR:-…}} interpolation, not {secret!r}"
            assert match.group(2).endswith("dev-only"), f"{path}: mark the default as development-only"
            seen_defaults.append(match.group(1))
    assert {"TRACKLIGHT_DB_PASSWORD", "MYSQL_ROOT_PASSWORD", "TRACKLIGHT_ADMIN_PASSWORD"} <= set(
        seen_defaults
    )
    assert "DEVELOPMENT ONLY" in COMPOSE.read_text()


@pytest.mark.skipif("mariadb" not in selected_backends(), reason="the compose stand-in needs MariaDB")
def test_compose_chain_without_docker(tmp_path: Path, s3_emulator, image_process: list[ImageProcess]) -> None:
    """The compose services' commands and environment, with MariaDB for `mysql` and moto for `s3`: the bucket
    job (twice: it is idempotent), the migration, then the server, whose /ready checks both stores."""
    from sqlalchemy.engine import make_url

    services = compose()["services"]
    db = create_database("mariadb", tmp_path)
    try:

        def resolve(value: str) -> str:
            value = DEV_DEFAULT.sub(lambda m: m.group(2), str(value))
            value = re.sub(r"mysql\+pymysql://[^ ]*@mysql:3306/\w+", str(db), value)
            return value.replace("http://s3:5000", s3_emulator.endpoint)

        def resolve_env(environment: dict[str, str]) -> dict[str, str]:
            env = {k: resolve(v) for k, v in environment.items()}
            # The test database's own password (none), as a .env file would set TRACKLIGHT_DB_PASSWORD.
            env["TRACKLIGHT_DB_PASSWORD"] = make_url(str(db)).password or ""
            return env

        bucket = f"compose-{os.getpid()}"
        job = services["create-bucket"]
        job_env = {k: resolve(v) for k, v in job["environment"].items()} | {"TRACKLIGHT_BUCKET": bucket}
        python = str(Path(tracklight_bin()).with_name("python"))
        for _ in range(2):
            run = subprocess.run(
                [python, *job["entrypoint"][1:]],
                env=server_env(job_env),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
        assert s3_emulator.client.head_bucket(Bucket=bucket)

        migrate = services["migrate"]
        run = subprocess.run(
            [tracklight_bin(), *migrate["command"]],
            env=server_env(resolve_env(migrate["environment"])),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr

        env = resolve_env(services["tracklight"]["environment"])
        env["TRACKLIGHT_ARTIFACTS_DESTINATION"] = f"s3://{bucket}/artifacts"
        workdir = tmp_path / "workdir"
        workdir.mkdir()
        server = ImageProcess(workdir, env)
        image_process.append(server)
        server.start()
        assert _get(f"http://127.0.0.1:{server.port}/ready") == 200, server.log.read_text()[-4000:]
        assert _search_status(server) == 401, "authentication is off in the compose stack"
        assert server.healthcheck().returncode == 0
        assert server.stop()
    finally:
        drop_database(db)
