"""deploy/terraform/gcp, checked offline.

The google provider cannot be downloaded here, so `terraform init/validate/plan` of the module is impossible.
What runs instead:

- `terraform fmt -check` over the module and its example;
- checkov over the module (every skip carries a reason, and only the known skips exist);
- the module's variable validations, evaluated by terraform itself: variables.tf is copied into a provider-free
  module and planned with good and bad inputs;
- python-hcl2 structural assertions of the security invariants (no public DB, SSL enforced, backups and
  deletion protection, a private bucket, scoped IAM with no primitive roles or wildcards, /health probes,
  the database password only through Secret Manager references) and of the wiring (naming module, example,
  job).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import (
    REPO,
    TERRAFORM_DIR,
    checkov_bin,
    evaluate,
    load_module,
    of_type,
    outputs,
    resources,
    terraform_bin,
    terraform_env,
    variables,
)

GCP = TERRAFORM_DIR / "gcp"
EXAMPLE = GCP / "examples" / "complete"
NAMING = TERRAFORM_DIR / "modules" / "naming"
GCS_STORE = REPO / "src" / "tracklight" / "artifacts" / "gcs.py"

# Deliberate checkov exceptions; each also carries its reason inline (#checkov:skip=ID:reason).
EXPECTED_SKIPS = {
    "CKV_GCP_84",  # Artifact Registry CMEK: Google-managed keys, the image holds no secrets
    "CKV_GCP_62",  # legacy bucket access logs: Cloud Audit Logs instead
}
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


@pytest.fixture(scope="module")
def module() -> dict[str, list]:
    return load_module(GCP)


@pytest.fixture(scope="module")
def res(module) -> dict[str, dict]:
    return resources(module)


@pytest.fixture(scope="module")
def local_values(module) -> dict[str, object]:
    return {k: v for block in module.get("locals", []) for k, v in block.items()}


def one(res: dict[str, dict], address: str) -> dict:
    assert address in res, f"{address} is missing from deploy/terraform/gcp"
    return res[address]


def block(body: dict, name: str) -> dict:
    """The single nested block `name` (python-hcl2 gives blocks as one-element lists)."""
    value = body[name]
    if isinstance(value, list):
        assert len(value) == 1, f"expected one {name} block, found {len(value)}"
        return value[0]
    return value


def blocks(body: dict, name: str) -> list[dict]:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def default_of(module, name: str):
    return variables(module)[name].get("default")


def dynamic(body: dict, name: str) -> list[dict]:
    """The content of every `dynamic "<name>"` block."""
    return [block(d[name], "content") for d in blocks(body, "dynamic") if name in d]


def text(value) -> str:
    return json.dumps(value)


# -- formatting and checkov --------------------------------------------------------------------------------


def test_terraform_fmt(tmp_path: Path) -> None:
    env = terraform_env(tmp_path)
    result = subprocess.run(
        [terraform_bin(), "fmt", "-check", "-recursive", "-diff", str(GCP)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, f"terraform fmt wants changes:\n{result.stdout}{result.stderr}"


def test_checkov(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            checkov_bin(),
            "-d",
            str(GCP),
            "--framework",
            "terraform",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # no guideline download: CI is offline
        cwd=tmp_path,
        timeout=600,
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    summary = report["summary"]
    # A file checkov cannot parse is silently left out of every check: that must fail the test too.
    assert summary["parsing_errors"] == 0, summary
    assert summary["resource_count"] >= 25, summary
    failed = [
        (c["check_id"], c["resource"], c["file_path"]) for c in report["results"].get("failed_checks", [])
    ]
    assert not failed, f"checkov findings: {failed}"
    assert result.returncode == 0, result.stderr[-2000:]
    skipped = report["results"]["skipped_checks"]
    assert {c["check_id"] for c in skipped} == EXPECTED_SKIPS
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 30, f"{check['check_id']} is skipped without a real reason: {reason!r}"


# -- variable validations, run by terraform without providers ----------------------------------------------

GOOD = {"project_id": "my-ml-project", "region": "europe-west1", "image_tag": "0.1.0"}


@pytest.fixture(scope="module")
def validation_module(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A provider-free module holding a copy of the module's variables.tf, initialised offline."""
    work = tmp_path_factory.mktemp("gcp-variables")
    (work / "variables.tf").write_text((GCP / "variables.tf").read_text())
    (work / "versions.tf").write_text('terraform {\n  required_version = ">= 1.6"\n}\n')
    env = terraform_env(work)
    init = subprocess.run(
        [terraform_bin(), "init", "-backend=false", "-input=false"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return work, env


def plan_with(validation_module, values: dict[str, object]) -> subprocess.CompletedProcess:
    work, env = validation_module
    var_file = work / "case.tfvars.json"
    var_file.write_text(json.dumps(values))
    return subprocess.run(
        [terraform_bin(), "plan", "-input=false", "-lock=false", "-no-color", f"-var-file={var_file}"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_defaults_and_a_full_input_pass_validation(validation_module) -> None:
    result = plan_with(validation_module, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    full = {
        **GOOD,
        "name": "tracklight-prod",
        "invoker_members": ["group:ml@example.com", "serviceAccount:ci@p.iam.gserviceaccount.com"],
        "iap_enabled": True,
        "iap_members": ["domain:example.com"],
        "extra_env": {"TRACKLIGHT_DB_POOL_SIZE": "5"},
        "database_ssl_mode": "ENCRYPTED_ONLY",
        "artifacts_prefix": "ml/tracklight",
        "subnet_cidr": "10.20.0.0/26",
        "image": "europe-west1-docker.pkg.dev/p/tracklight/tracklight@sha256:" + "a" * 64,
    }
    result = plan_with(validation_module, full)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("image_tag", "latest"),
        ("project_id", "123456789012"),
        ("region", "europe-west1-b"),
        ("name", "Tracklight"),
        ("name", "a-very-long-deployment-name"),
        ("invoker_members", ["allUsers"]),
        ("invoker_members", ["allAuthenticatedUsers"]),
        ("iap_members", ["user:*"]),
        ("ingress", "all"),
        ("extra_env", {"DB_PASSWORD": "hunter2"}),
        ("extra_env", {"TRACKLIGHT_BACKEND_STORE_URI": "mysql://u:p@h/db"}),
        ("extra_env", {"TRACKLIGHT_PORT": "8080"}),
        ("database_ssl_mode", "ALLOW_UNENCRYPTED_AND_ENCRYPTED"),
        ("database_version", "MYSQL_5_7"),
        ("request_timeout_seconds", 7200),
        ("container_port", 80),
        ("subnet_cidr", "10.8.0.0/28"),
        ("artifacts_prefix", "/artifacts/"),
        ("admin_username", "admin; rm -rf /"),
        ("extra_env", {"TRACKLIGHT_AUTH": "false"}),
        ("extra_env", {"TRACKLIGHT_AUTH_PROXY": "header"}),
        ("extra_env", {"TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE": "/projects/1/apps/other"}),
    ],
)
def test_bad_inputs_are_refused(validation_module, variable: str, value: object) -> None:
    result = plan_with(validation_module, {**GOOD, variable: value})
    assert result.returncode != 0, f"{variable}={value!r} was accepted"
    assert "Invalid value for variable" in result.stdout + result.stderr, result.stdout + result.stderr


def test_every_variable_is_described_typed_and_validated_unless_trivial(module) -> None:
    unvalidated_ok = {
        # booleans and free-form values with nothing to check beyond their type
        "enable_apis",
        "deletion_protection",
        "iap_enabled",
        "run_migrations_on_apply",
        "manage_private_service_access",
        "force_destroy_bucket",
        "allow_url_signing",
        "http2_end_to_end",
        "bucket_location",
        "auth_enabled",
        "invoker_iam_check",
    }
    for name, body in variables(module).items():
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"
        if name not in unvalidated_ok:
            assert body.get("validation"), f"variable {name} has no validation block"


# -- Cloud SQL --------------------------------------------------------------------------------------------


def test_cloud_sql_is_private_encrypted_backed_up_and_protected(module, res) -> None:
    (instance,) = of_type(module, "google_sql_database_instance").values()
    settings = block(instance, "settings")
    ip = block(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False, "Cloud SQL must have no public IP"
    assert "authorized_networks" not in ip
    assert ip["private_network"] == "${local.network_id}"
    # SSL: only the strict modes are possible.
    assert ip["ssl_mode"] == "${var.database_ssl_mode}"
    ssl_var = variables(module)["database_ssl_mode"]
    assert ssl_var["default"] == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    assert "ALLOW_UNENCRYPTED" not in text(ssl_var["validation"]).split("error_message")[0]
    assert "require_ssl" not in ip  # deprecated in provider 6.x; ssl_mode replaces it

    assert instance["database_version"] == "${var.database_version}"
    assert default_of(module, "database_version").startswith("MYSQL_8")

    assert instance["deletion_protection"] == "${var.deletion_protection}"
    assert settings["deletion_protection_enabled"] == "${var.deletion_protection}"
    assert default_of(module, "deletion_protection") is True

    backup = block(settings, "backup_configuration")
    assert backup["enabled"] is True
    assert backup["binary_log_enabled"] is True, "MySQL point-in-time recovery needs binary logs"
    assert backup["transaction_log_retention_days"] == "${var.point_in_time_recovery_days}"
    assert block(backup, "backup_retention_settings")["retained_backups"] == "${var.backup_retained_count}"

    flags = {f["name"]: f["value"] for f in blocks(settings, "database_flags")}
    assert flags.get("local_infile") == "off"


def test_database_password_is_generated_and_kept_out_of_plain_configuration(module, res) -> None:
    password = one(res, "random_password.db")
    assert password["length"] >= 24
    # URL-safe specials only: easy to paste into a DBA's client (the server URL-encodes it into the URI).
    assert set(password["override_special"]) <= set("-_.~")
    user = one(res, "google_sql_user.tracklight")
    assert user["password"] == "${random_password.db.result}"
    assert user["host"] == "cloudsqlproxy~%", "the user may connect only through the Cloud SQL Auth Proxy"

    # The generated password appears in exactly two places: the user and the secret version.
    users = [addr for addr, body in res.items() if "random_password.db.result" in text(body)]
    assert sorted(users) == ["google_secret_manager_secret_version.db_password", "google_sql_user.tracklight"]
    for kind in ("output", "locals"):
        assert "random_password" not in text(module.get(kind, [])), f"the password leaks into {kind}"

    # The secret holds the password alone; the URI is plain configuration with a user and no password.
    secret = one(res, "google_secret_manager_secret_version.db_password")
    assert secret["secret_data"] == "${random_password.db.result}"
    assert (
        one(res, "google_secret_manager_secret.db_password")["secret_id"] == "${local.db_password_secret_id}"
    )


def test_backend_store_uri_holds_no_password(local_values, monkeypatch) -> None:
    from sqlalchemy.engine import make_url

    from tracklight.config import backend_store_uri_from

    uri = local_values["backend_store_uri"]
    assert uri.startswith('${format("mysql+pymysql://%s@/%s?unix_socket=%s/%s"'), uri
    assert "google_sql_user.tracklight.name" in uri and "google_sql_database.tracklight.name" in uri
    assert "local.cloudsql_mount" in uri and "connection_name" in uri
    assert "password" not in uri.lower() and "secret" not in uri.lower()
    # What the server connects with: that URI, rendered, plus the password from the secret reference.
    socket = "/cloudsql/my-ml-project:europe-west1:tracklight-db"
    rendered = f"mysql+pymysql://tracklight@/tracklight?unix_socket={socket}"
    assert make_url(rendered).password is None
    monkeypatch.setenv("TRACKLIGHT_BACKEND_STORE_URI", rendered)
    monkeypatch.delenv("TRACKLIGHT_DB_USER", raising=False)
    monkeypatch.setenv("TRACKLIGHT_DB_PASSWORD", "aB3-_.~x")
    url = make_url(backend_store_uri_from(None))
    assert (url.username, url.password, url.database) == ("tracklight", "aB3-_.~x", "tracklight")
    assert url.query["unix_socket"] == socket


# -- bucket -------------------------------------------------------------------------------------------------


def test_bucket_is_private_uniform_and_versioned(module) -> None:
    (bucket,) = of_type(module, "google_storage_bucket").values()
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    assert block(bucket, "versioning")["enabled"] is True
    assert bucket["force_destroy"] == "${var.force_destroy_bucket}"
    assert default_of(module, "force_destroy_bucket") is False
    assert not of_type(module, "google_storage_bucket_acl")
    assert not of_type(module, "google_storage_object_acl")


def test_bucket_expires_leftover_upload_parts(module, local_values) -> None:
    (bucket,) = of_type(module, "google_storage_bucket").values()
    # The folder the server keeps direct-upload parts in must be the one the lifecycle rule cleans.
    uploads_dir = re.search(r'^UPLOADS_DIR = "([^"]+)"', GCS_STORE.read_text(), re.M)
    assert uploads_dir, "UPLOADS_DIR moved out of src/tracklight/artifacts/gcs.py"
    prefix = local_values["uploads_prefix"]
    assert f"{uploads_dir.group(1)}/" in prefix and "var.artifacts_prefix" in prefix

    rules = [(block(r, "condition"), block(r, "action")) for r in blocks(bucket, "lifecycle_rule")]
    live = [
        c
        for c, a in rules
        if a["type"] == "Delete" and c.get("matches_prefix") == ["${local.uploads_prefix}"] and "age" in c
    ]
    assert live and live[0]["age"] == "${var.upload_parts_retention_days}"
    assert default_of(module, "upload_parts_retention_days") == 7
    noncurrent = [
        c
        for c, a in rules
        if a["type"] == "Delete"
        and c.get("matches_prefix") == ["${local.uploads_prefix}"]
        and "days_since_noncurrent_time" in c
    ]
    assert noncurrent, "deleted parts stay as noncurrent versions on a versioned bucket"
    assert any(a["type"] == "AbortIncompleteMultipartUpload" for _, a in rules)


# -- IAM ----------------------------------------------------------------------------------------------------


def iam_grants(res: dict[str, dict]) -> dict[str, dict]:
    return {a: b for a, b in res.items() if re.search(r"_iam_(member|binding|policy)$", a.split(".")[0])}


def test_no_primitive_roles_wildcards_or_public_members(module, res) -> None:
    grants = iam_grants(res)
    assert grants
    for address, body in grants.items():
        kind = address.split(".")[0]
        assert kind.endswith("_iam_member"), f"{address}: authoritative IAM ({kind}) would wipe other grants"
        role = body["role"]
        assert role not in PRIMITIVE_ROLES, f"{address} grants {role}"
        assert "*" not in role and "*" not in body["member"], f"{address} has a wildcard"
        assert body["member"] not in PUBLIC_MEMBERS, f"{address} is public"
    assert not of_type(module, "google_project_iam_binding")
    assert not of_type(module, "google_project_iam_policy")
    assert "allUsers" not in text(res) and "allAuthenticatedUsers" not in text(res)


def test_project_level_grants_are_only_cloudsql_client_limited_to_the_instance(module) -> None:
    project_grants = of_type(module, "google_project_iam_member")
    assert list(project_grants) == ["google_project_iam_member.server_cloudsql_client"]
    grant = project_grants["google_project_iam_member.server_cloudsql_client"]
    assert grant["role"] == "roles/cloudsql.client"
    assert grant["member"] == "${google_service_account.server.member}"
    expression = block(grant, "condition")["expression"]
    assert "google_sql_database_instance.main.name" in expression
    assert "sqladmin.googleapis.com/Instance" in expression


def test_storage_and_secret_roles_are_scoped_to_their_resource(module, res) -> None:
    for address, body in iam_grants(res).items():
        kind = address.split(".")[0]
        if body["role"].startswith("roles/storage."):
            assert kind == "google_storage_bucket_iam_member", f"{address}: storage roles only on the bucket"
            assert body["bucket"] == "${google_storage_bucket.artifacts.name}"
            assert body["role"] in {"roles/storage.objectAdmin", "roles/storage.objectUser"}
        if body["role"].startswith("roles/secretmanager."):
            assert kind == "google_secret_manager_secret_iam_member"
            assert body["role"] == "roles/secretmanager.secretAccessor"
            assert body["secret_id"] in (
                "${google_secret_manager_secret.db_password.secret_id}",
                "${google_secret_manager_secret.admin_password[0].secret_id}",
            )
            assert body["member"] == "${google_service_account.server.member}"
        if body["role"] == "roles/iam.serviceAccountTokenCreator":
            # Sign URLs as itself, never as anyone else.
            assert kind == "google_service_account_iam_member"
            assert body["service_account_id"] == "${google_service_account.server.name}"
            assert body["member"] == "${google_service_account.server.member}"


# -- Cloud Run service and job -------------------------------------------------------------------------------


def server_container(res) -> dict:
    service = one(res, "google_cloud_run_v2_service.server")
    return block(block(service, "template"), "containers")


def test_service_probes_health_on_the_container_port(res) -> None:
    container = server_container(res)
    for probe in ("startup_probe", "liveness_probe"):
        http_get = block(block(container, probe), "http_get")
        assert http_get["path"] == "/health", probe
        assert http_get["port"] == "${var.container_port}", probe
    port = block(container, "ports")
    assert port["container_port"] == "${var.container_port}"


def test_http2_end_to_end_names_the_port_h2c_and_turns_the_server_to_it(module, res, local_values) -> None:
    """Cloud Run's 32 MiB cap on HTTP/1 request bodies goes away only with a port named h2c, and then the
    server must speak cleartext HTTP/2 (TRACKLIGHT_H2C, Hypercorn): the two follow one variable together."""
    assert default_of(module, "http2_end_to_end") is True
    port = block(server_container(res), "ports")
    assert port["name"] == '${var.http2_end_to_end ? "h2c" : "http1"}'
    env = local_values["plain_env"].replace(" ", "")
    assert "TRACKLIGHT_H2C=tostring(var.http2_end_to_end)" in env


def test_service_settings(module, res, local_values) -> None:
    service = one(res, "google_cloud_run_v2_service.server")
    template = block(service, "template")
    assert template["service_account"] == "${google_service_account.server.email}"
    assert template["timeout"] == "${var.request_timeout_seconds}s"
    assert default_of(module, "request_timeout_seconds") == 3600
    scaling = block(template, "scaling")
    assert scaling == {
        "min_instance_count": "${var.min_instance_count}",
        "max_instance_count": "${var.max_instance_count}",
    }
    assert service["ingress"] == "${var.ingress}"
    # Tracklight's login or Google's IAM check authenticates every request; never neither.
    assert service["invoker_iam_disabled"] == "${!local.invoker_iam_check}"
    assert local_values["invoker_iam_check"] == "${coalesce(var.invoker_iam_check, !var.auth_enabled)}"
    conditions = [c["condition"] for c in service["lifecycle"][0]["precondition"]]
    assert "${var.auth_enabled || local.invoker_iam_check}" in conditions
    assert service["iap_enabled"] == "${var.iap_enabled}"
    limits = block(server_container(res), "resources")["limits"]
    assert limits == {"cpu": "${var.cpu}", "memory": "${var.memory}"}

    env = local_values["plain_env"]
    assert "TRACKLIGHT_HOST" in env and '"0.0.0.0"' in env.replace(" ", "")
    assert "TRACKLIGHT_PORT=tostring(var.container_port)" in env.replace(" ", "")
    assert "TRACKLIGHT_ARTIFACTS_DESTINATION=local.artifacts_destination" in env.replace(" ", "")


def _for_each(container: dict) -> list[str]:
    return sorted(
        block(d["env"], "for_each") if isinstance(d["env"], list) else d["env"]["for_each"]
        for d in blocks(container, "dynamic")
        if "env" in d
    )


def test_database_password_reaches_containers_only_as_a_secret_reference(module, res, local_values) -> None:
    secret_env = local_values["secret_env"]
    assert secret_env == {
        "TRACKLIGHT_DB_PASSWORD": {
            "secret": "${google_secret_manager_secret.db_password.secret_id}",
            "version": "${google_secret_manager_secret_version.db_password.version}",
        }
    }
    # The plain maps hold the URI (no password) and settings: nothing secret, nothing read from a secret.
    assert local_values["db_env"] == {"TRACKLIGHT_BACKEND_STORE_URI": "${local.backend_store_uri}"}
    assert "local.db_env" in local_values["plain_env"]
    for plain in (local_values["plain_env"], text(local_values["db_env"]), local_values["backend_store_uri"]):
        assert "PASSWORD" not in plain.upper()
        assert "secret" not in plain.lower() and "random_password" not in plain
        assert not re.search(r"://[^/@\s]*:[^@\s]*@", plain), "credentials in a URI"

    job = one(res, "google_cloud_run_v2_job.migrate")
    job_container = block(block(block(job, "template"), "template"), "containers")
    for container, plain_map, secret_map in (
        (server_container(res), "${local.plain_env}", "${local.server_secret_env}"),
        (job_container, "${local.db_env}", "${local.secret_env}"),
    ):
        # No literal env blocks: plain values come from a plain map, the password from local.secret_env.
        assert "env" not in container
        envs = dynamic(container, "env")
        secret_refs = [e for e in envs if "value_source" in e]
        assert secret_refs, "the database password must come from a secret reference"
        for entry in secret_refs:
            ref = block(block(entry, "value_source"), "secret_key_ref")
            assert ref == {"secret": "${env.value.secret}", "version": "${env.value.version}"}
        plain = [e for e in envs if "value" in e]
        assert plain and all(e["value"] == "${env.value}" for e in plain)
        # Which dynamic block iterates which map: the plain one never walks the secrets and vice versa.
        assert _for_each(container) == sorted([plain_map, secret_map])
    assert local_values["server_secret_env"] == "${merge(local.secret_env, local.admin_secret_env)}"
    service_dynamic = {d_name for d in blocks(server_container(res), "dynamic") for d_name in d}
    assert service_dynamic == {"env"}


def test_cloud_sql_socket_is_mounted_in_service_and_job(res, local_values) -> None:
    assert local_values["cloudsql_mount"] == "/cloudsql"
    job = one(res, "google_cloud_run_v2_job.migrate")
    job_template = block(block(job, "template"), "template")
    service_template = block(one(res, "google_cloud_run_v2_service.server"), "template")
    for template in (service_template, job_template):
        volume = block(template, "volumes")
        assert block(volume, "cloud_sql_instance")["instances"] == [
            "${google_sql_database_instance.main.connection_name}"
        ]
        mount = block(block(template, "containers"), "volume_mounts")
        assert mount == {"name": volume["name"], "mount_path": "${local.cloudsql_mount}"}
        assert block(template, "vpc_access")["egress"] == "PRIVATE_RANGES_ONLY"
        assert template["service_account"] == "${google_service_account.server.email}"


def test_migration_job_and_its_command(module, res, local_values) -> None:
    job = one(res, "google_cloud_run_v2_job.migrate")
    container = block(block(block(job, "template"), "template"), "containers")
    assert container["image"] == "${local.image}"
    # The image's ENTRYPOINT ["tracklight"] runs `db upgrade`, which reads URI and password itself: no shell.
    assert "command" not in container
    assert container["args"] == ["db", "upgrade"]
    assert "/bin/sh" not in text(job) and "$TRACKLIGHT" not in text(job)
    command = local_values["migration_command"]
    assert command.startswith("gcloud run jobs execute ${local.job_name}")
    assert "--region ${var.region}" in command and "--wait" in command
    assert outputs(module)["migration_command"]["value"] == "${local.migration_command}"
    # The service waits for the migration that the same apply runs.
    service = one(res, "google_cloud_run_v2_service.server")
    assert "${terraform_data.migrate}" in service["depends_on"]


# -- Tracklight's own authentication ------------------------------------------------------------------------


def test_auth_is_on_by_default_and_the_admin_password_comes_only_from_secret_manager(
    module, res, local_values
) -> None:
    assert default_of(module, "auth_enabled") is True
    assert default_of(module, "invoker_iam_check") is None  # follows auth_enabled
    # No variable carries an admin password (so no default one either): the module generates it.
    for name, body in variables(module).items():
        assert "admin_password" not in name, name
        if name != "admin_username":
            assert "admin" not in str(body.get("default", "")).lower(), name
    env = local_values["admin_env"]
    assert env["TRACKLIGHT_AUTH"] == "${tostring(var.auth_enabled)}"
    assert env["TRACKLIGHT_ADMIN_USERNAME"] == "${var.admin_username}"
    assert "TRACKLIGHT_ADMIN_PASSWORD" not in text(env) and "local.admin_env" in local_values["plain_env"]

    # Generated, stored as a secret version, referenced by the server as a pinned secret_key_ref.
    password = one(res, "random_password.admin")
    assert password["count"] == "${var.auth_enabled ? 1 : 0}" and password["length"] >= 24
    version = one(res, "google_secret_manager_secret_version.admin_password")
    assert version["secret_data"] == "${random_password.admin[0].result}"
    assert version["secret"] == "${google_secret_manager_secret.admin_password[0].id}"
    admin_env = local_values["admin_secret_env"].replace(" ", "").replace("\n", "")
    assert "TRACKLIGHT_ADMIN_PASSWORD" in admin_env
    assert "google_secret_manager_secret.admin_password[0].secret_id" in admin_env
    assert "google_secret_manager_secret_version.admin_password[0].version" in admin_env
    assert "random_password" not in text(local_values["plain_env"]) + local_values["admin_secret_env"]

    # Readable by the service account only, on that one secret (and the DB password's own grant).
    accessors = {
        a: b for a, b in iam_grants(res).items() if b["role"] == "roles/secretmanager.secretAccessor"
    }
    assert set(accessors) == {
        "google_secret_manager_secret_iam_member.server_db_password",
        "google_secret_manager_secret_iam_member.server_admin_password",
    }
    admin = accessors["google_secret_manager_secret_iam_member.server_admin_password"]
    assert admin["secret_id"] == "${google_secret_manager_secret.admin_password[0].secret_id}"
    assert admin["member"] == "${google_service_account.server.member}"
    service = one(res, "google_cloud_run_v2_service.server")
    assert "${google_secret_manager_secret_iam_member.server_admin_password}" in service["depends_on"]
    # The migration job does not get the admin password.
    job = one(res, "google_cloud_run_v2_job.migrate")
    assert "admin" not in text(block(block(block(job, "template"), "template"), "containers"))


def test_token_command_runs_the_migration_job_with_tokens_create(module, local_values) -> None:
    outs = outputs(module)
    assert outs["token_command"]["value"] == "${local.token_command}"
    assert (
        outs["admin_password_secret"]["value"] == "${one(google_secret_manager_secret.admin_password[*].id)}"
    )
    command = local_values["token_command"]
    assert command.startswith("gcloud run jobs execute ${local.job_name} ")
    assert "--args=tokens,create,${var.admin_username}," in command and "--wait" in command


def test_iap_uses_the_cloud_run_integration_not_the_shut_down_brand_apis(module, res) -> None:
    assert not of_type(module, "google_iap_brand") and not of_type(module, "google_iap_client")
    accessors = one(res, "google_iap_web_cloud_run_service_iam_member.accessors")
    assert accessors["role"] == "roles/iap.httpsResourceAccessor"
    agent = one(res, "google_cloud_run_v2_service_iam_member.iap_agent")
    assert agent["role"] == "roles/run.invoker"
    assert "@gcp-sa-iap.iam.gserviceaccount.com" in agent["member"]


PROJECT_NUMBER = "123456789012"
SERVICE_NAME = "tracklight-server"


@pytest.mark.parametrize(
    ("iap", "auth", "expected"),
    [
        (False, True, {"TRACKLIGHT_AUTH_PROXY": "none"}),
        (True, False, {"TRACKLIGHT_AUTH_PROXY": "none"}),
        (
            True,
            True,
            {
                "TRACKLIGHT_AUTH_PROXY": "iap",
                "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE": (
                    f"/projects/{PROJECT_NUMBER}/locations/europe-west1/services/{SERVICE_NAME}"
                ),
            },
        ),
    ],
)
def test_iap_makes_the_server_take_iaps_verified_user(tmp_path, monkeypatch, iap, auth, expected) -> None:
    """Evaluated by terraform (proxy_identity.tf, with the project number and service name stood in for),
    then loaded by the server's own configuration, which must accept it as the iap mode with IAP-on-Cloud-Run's
    audience for this service."""
    from tracklight.config import load_settings

    env = evaluate(
        tmp_path,
        GCP,
        "proxy_identity.tf",
        {"data.google_project.this.number": PROJECT_NUMBER, "local.service_name": SERVICE_NAME},
        {**GOOD, "iap_enabled": iap, "auth_enabled": auth},
        "local.proxy_env",
    )
    assert env == expected
    for name in [n for n in os.environ if n.startswith("TRACKLIGHT_")]:
        monkeypatch.delenv(name)
    for name, value in {**env, "TRACKLIGHT_AUTH": str(auth).lower()}.items():  # type: ignore[union-attr]
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.auth_proxy == expected["TRACKLIGHT_AUTH_PROXY"]
    if settings.auth_proxy == "iap":
        assert settings.auth_proxy_iap_audience == (expected["TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE"],)


def test_iap_identity_reaches_the_service_for_the_service_it_names(res, local_values) -> None:
    """The audience names the service IAP guards (same name, region and project), and only the service gets it."""
    plain = local_values["plain_env"].replace(" ", "")
    assert plain.startswith("${merge(var.extra_env,local.db_env,local.admin_env,local.proxy_env,")
    service = one(res, "google_cloud_run_v2_service.server")
    assert service["name"] == "${local.service_name}" and service["location"] == "${var.region}"
    assert service["project"] == "${var.project_id}"
    assert local_values["iap_audience"] == (
        "/projects/${data.google_project.this.number}/locations/${var.region}/services/${local.service_name}"
    )
    job = one(res, "google_cloud_run_v2_job.migrate")
    assert "proxy" not in text(job)


def test_artifact_registry_has_immutable_tags_and_cleanup(module) -> None:
    (repo,) = of_type(module, "google_artifact_registry_repository").values()
    assert repo["format"] == "DOCKER"
    assert block(repo, "docker_config")["immutable_tags"] is True
    actions = {p["action"] for p in blocks(repo, "cleanup_policies")}
    assert actions == {"KEEP", "DELETE"}
    assert repo["cleanup_policy_dry_run"] is False


# -- versions, outputs, naming, example ----------------------------------------------------------------------


def test_provider_and_terraform_constraints(module) -> None:
    (settings,) = module["terraform"]
    assert settings["required_version"] == ">= 1.6"
    (providers,) = settings["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    assert re.fullmatch(r"~> 6\.\d+", providers["google"]["version"])


def test_outputs(module) -> None:
    outs = outputs(module)
    for name in (
        "tracking_uri",
        "image_repository",
        "migration_command",
        "artifacts_bucket",
        "client_environment",
    ):
        assert name in outs and outs[name].get("description"), name
    assert outs["tracking_uri"]["value"] == "${google_cloud_run_v2_service.server.uri}"
    client = text(outs["client_environment"]["value"])
    assert "MLFLOW_TRACKING_URI" in client and "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE" in client


def test_naming_module_call_matches_its_interface(module) -> None:
    naming = load_module(NAMING)
    (call,) = [m["naming"] for m in module["module"] if "naming" in m]
    assert call["source"] == "../modules/naming"
    declared = variables(naming)
    passed = {k for k in call if k not in {"source", "version"}}
    assert passed <= set(declared), f"unknown naming inputs: {passed - set(declared)}"
    required = {k for k, v in declared.items() if "default" not in v}
    assert required <= passed, f"naming inputs not passed: {required - passed}"
    # Every module.naming.<output>[.<key>] the GCP module reads exists.
    naming_outputs = outputs(naming)
    naming_locals = {k: v for b in naming.get("locals", []) for k, v in b.items()}
    source = "\n".join(p.read_text() for p in GCP.glob("*.tf"))
    for output, key in set(re.findall(r"module\.naming\.(\w+)(?:\.(\w+))?", source)):
        assert output in naming_outputs, f"module.naming.{output} does not exist"
        if key:
            assert key in naming_locals[output], f"module.naming.{output}.{key} does not exist"


def test_example_uses_the_module_correctly(module) -> None:
    example = load_module(EXAMPLE)
    (call,) = [m["tracklight"] for m in example["module"] if "tracklight" in m]
    assert call["source"] == "../.."
    declared = variables(module)
    passed = {k for k in call if k not in {"source", "version", "providers", "depends_on"}}
    assert passed <= set(declared), f"unknown module inputs: {passed - set(declared)}"
    required = {k for k, v in declared.items() if "default" not in v}
    assert required <= passed, f"required inputs not passed: {required - passed}"
    module_outputs = outputs(module)
    for name, body in outputs(example).items():
        for ref in re.findall(r"module\.tracklight\.(\w+)", text(body["value"])):
            assert ref in module_outputs, f"example output {name} reads a missing module output {ref}"
    assert (EXAMPLE / "terraform.tfvars.example").exists()
