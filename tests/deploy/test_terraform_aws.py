"""Offline checks of deploy/terraform/aws and the provider-free naming module.

Providers cannot be downloaded here, so `terraform validate/plan` of the AWS module is impossible. What runs:
terraform fmt, `terraform test` on deploy/terraform/modules/naming, checkov, and python-hcl2 assertions of the
module's security invariants.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from deploy.conftest import (
    TERRAFORM_DIR,
    TerraformRefused,
    checkov_bin,
    evaluate,
    load_hcl,
    load_module,
    of_type,
    outputs,
    resources,
    terraform_bin,
    terraform_env,
    variables,
)

AWS = TERRAFORM_DIR / "aws"
NAMING = TERRAFORM_DIR / "modules" / "naming"
EXAMPLE = AWS / "examples" / "complete"

SECRET_NAME = re.compile(
    r"(?i)(password|passwd|secret|token|credential|private|api_?key|access_?key|store_uri)"
)


@pytest.fixture(scope="module")
def module() -> dict[str, list]:
    return load_module(AWS)


@pytest.fixture(scope="module")
def res(module) -> dict[str, dict]:
    return resources(module)


@pytest.fixture(scope="module")
def data(module) -> dict[str, dict]:
    return resources(module, "data")


@pytest.fixture(scope="module")
def local(module) -> dict:
    return {k: v for block in module.get("locals", []) for k, v in block.items()}


# ---------------------------------------------------------------------------------------------------
# Tools: terraform fmt, terraform test, checkov
# ---------------------------------------------------------------------------------------------------


def test_terraform_fmt(tmp_path):
    tf = terraform_bin()
    proc = subprocess.run(
        [tf, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        env=terraform_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, (
        f"terraform fmt -check failed (run `terraform fmt -recursive deploy/terraform`):\n{proc.stdout}{proc.stderr}"
    )


def test_naming_module_terraform_test(tmp_path):
    tf = terraform_bin()
    env = terraform_env(tmp_path)
    init = subprocess.run(
        [tf, f"-chdir={NAMING}", "init", "-backend=false", "-input=false", "-no-color"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    proc = subprocess.run(
        [tf, f"-chdir={NAMING}", "test", "-no-color"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = re.search(r"(\d+) passed, (\d+) failed", proc.stdout)
    assert summary, proc.stdout
    assert int(summary.group(2)) == 0 and int(summary.group(1)) >= 10, proc.stdout
    assert "expect_failures" not in proc.stderr


def test_naming_module_is_provider_free():
    for tf in NAMING.glob("*.tf"):
        parsed = load_hcl(tf)
        assert "provider" not in parsed, tf
        assert "data" not in parsed, tf
        for block in parsed.get("terraform", []):
            assert "required_providers" not in block, tf
        for block in parsed.get("resource", []):
            assert set(block) <= {"terraform_data"}, f"{tf}: only terraform_data resources are offline-safe"


def test_checkov(tmp_path):
    checkov = checkov_bin()
    proc = subprocess.run(
        [
            checkov,
            "--directory",
            str(AWS),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "HOME": str(tmp_path)},
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']}): {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed >= 150, f"checkov passed only {passed} checks: did it parse the module?"


def test_every_checkov_skip_has_a_reason():
    pattern = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(.*)")
    skips = 0
    for tf in AWS.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        for lineno, line in enumerate(tf.read_text().splitlines(), 1):
            m = pattern.search(line)
            if m:
                skips += 1
                reason = m.group(2).lstrip(":").strip()
                assert len(reason) >= 20, f"{tf}:{lineno}: checkov skip {m.group(1)} needs a reason"
    assert skips > 0
    assert not (AWS / ".checkov.yaml").exists() or "skip" not in (AWS / ".checkov.yaml").read_text()


# ---------------------------------------------------------------------------------------------------
# Versions and variables
# ---------------------------------------------------------------------------------------------------


def test_provider_and_terraform_constraints(module):
    (terraform,) = module["terraform"]
    assert terraform["required_version"] == ">= 1.6"
    aws = terraform["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert aws["version"] == ">= 5.31, < 7.0"
    assert terraform["required_providers"][0]["random"] == {"source": "hashicorp/random", "version": "~> 3.6"}


def test_variables_are_validated(module):
    v = variables(module)
    for name in (
        "name",
        "image_tag",
        "vpc_id",
        "private_subnet_ids",
        "alb_subnet_ids",
        "allowed_cidr_blocks",
        "certificate_arn",
        "db_instance_class",
        "db_backup_retention_days",
        "desired_count",
        "min_count",
        "max_count",
        "extra_environment",
        "ssl_policy",
    ):
        assert v[name].get("validation"), f"variable {name} has no validation block"
    assert v["oidc_client_secret"]["sensitive"] is True
    assert "default" not in v["image_tag"], "the image tag must be chosen, never defaulted"


def _validation_regexes(variable: dict) -> list[str]:
    found = []
    for validation in variable["validation"]:
        found += re.findall(r'regex\("((?:[^"\\]|\\.)*)"', validation["condition"])
    return [r.replace("\\\\", "\\") for r in found]


@pytest.mark.parametrize(
    ("variable", "good", "bad"),
    [
        ("name", ["tracklight", "ml-tracking-prod"], ["Tracklight", "tl", "tracklight-", "a" * 23, "1abc"]),
        ("image_tag", ["0.1.0", "3f9c2ab", "v1.2.3-rc1"], ["-x", "a:b", ""]),
        ("vpc_id", ["vpc-0123456789abcdef0"], ["vpc-XYZ", "subnet-0123456789abcdef0"]),
        (
            "db_instance_class",
            ["db.t4g.small", "db.m7g.2xlarge", "db.r6g.large"],
            ["t4g.small", "db.foo.bar", "db.t4g"],
        ),
        (
            "certificate_arn",
            ["arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"],
            ["arn:aws:iam::123456789012:server-certificate/x", "12345678-1234-1234-1234-123456789012"],
        ),
    ],
)
def test_validation_patterns(module, variable, good, bad):
    """The RE2 patterns in the validation blocks are plain enough for Python's re to evaluate the same way."""
    patterns = _validation_regexes(variables(module)[variable])
    assert patterns, variable
    for value in good:
        assert all(re.search(p, value) for p in patterns), (variable, value)
    for value in bad:
        assert not all(re.search(p, value) for p in patterns), (variable, value)


def test_image_tag_latest_is_rejected(module):
    conditions = " ".join(v["condition"] for v in variables(module)["image_tag"]["validation"])
    assert 'lower(var.image_tag) != "latest"' in conditions


def test_cidr_validation_uses_cidrhost(module):
    conditions = " ".join(v["condition"] for v in variables(module)["allowed_cidr_blocks"]["validation"])
    assert "cidrhost(" in conditions


def test_counts_are_cross_checked(res):
    pre = res["aws_appautoscaling_target.server"]["lifecycle"][0]["precondition"][0]["condition"]
    assert "var.min_count <= var.desired_count" in pre and "var.desired_count <= var.max_count" in pre


def test_extra_environment_rejects_secret_names(module):
    (pattern,) = _validation_regexes(variables(module)["extra_environment"])
    for name in (
        "DB_PASSWORD",
        "MY_SECRET",
        "API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "TRACKLIGHT_BACKEND_STORE_URI",
    ):
        assert re.search(pattern, name), name
    for name in ("TRACKLIGHT_CORS_ALLOWED_ORIGINS", "TRACKLIGHT_WORKERS"):
        assert not re.search(pattern, name), name


def test_module_uses_the_naming_module(module):
    (calls,) = module["module"]
    assert calls["naming"]["source"] == "../modules/naming"


# ---------------------------------------------------------------------------------------------------
# Security invariants
# ---------------------------------------------------------------------------------------------------


def test_database_is_private_encrypted_protected_and_password_managed(module):
    (db,) = of_type(module, "aws_db_instance").values()
    assert db["engine"] == "mysql"
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["deletion_protection"] is True
    assert db["manage_master_user_password"] is True
    assert "password" not in db, "the password must be managed by RDS, never set in Terraform"
    assert db["skip_final_snapshot"] is False
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"


def test_backup_retention_at_least_seven_days(module):
    v = variables(module)["db_backup_retention_days"]
    assert v["default"] >= 7
    assert "var.db_backup_retention_days >= 7" in v["validation"][0]["condition"]


def test_database_requires_tls(res):
    params = {p["name"]: p["value"] for p in res["aws_db_parameter_group.metadata"]["parameter"]}
    assert params["require_secure_transport"] == "1"


def test_database_reachable_only_from_the_service(res):
    ingress = [
        r
        for k, r in res.items()
        if k.startswith("aws_vpc_security_group_ingress_rule.")
        and r["security_group_id"] == "${aws_security_group.db.id}"
    ]
    assert len(ingress) == 1
    (rule,) = ingress
    assert rule["from_port"] == rule["to_port"] == 3306
    assert rule["referenced_security_group_id"] == "${aws_security_group.service.id}"
    assert "cidr_ipv4" not in rule
    assert res["aws_db_instance.metadata"]["vpc_security_group_ids"] == ["${aws_security_group.db.id}"]
    assert not any(k.startswith("aws_security_group_rule.") for k in res)
    for k, sg in res.items():
        if k.startswith("aws_security_group."):
            assert "ingress" not in sg and "egress" not in sg, f"{k}: use the separate rule resources"


def test_bucket_public_access_blocked_versioned_encrypted(res):
    bpa = res["aws_s3_bucket_public_access_block.artifacts"]
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert bpa[flag] is True, flag
    assert res["aws_s3_bucket_versioning.artifacts"]["versioning_configuration"][0]["status"] == "Enabled"
    sse = res["aws_s3_bucket_server_side_encryption_configuration.artifacts"]["rule"][0]
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] in ("aws:kms", "AES256")
    assert (
        res["aws_s3_bucket_ownership_controls.artifacts"]["rule"][0]["object_ownership"]
        == "BucketOwnerEnforced"
    )
    assert not any(k.startswith("aws_s3_bucket_acl.") for k in res)


def test_bucket_lifecycle_aborts_multipart_uploads(res):
    rules = res["aws_s3_bucket_lifecycle_configuration.artifacts"]["rule"]
    aborts = [
        r["abort_incomplete_multipart_upload"][0]["days_after_initiation"]
        for r in rules
        if "abort_incomplete_multipart_upload" in r
    ]
    assert aborts == [7]


def test_bucket_policy_denies_plain_http(data):
    statements = data["aws_iam_policy_document.bucket"]["statement"]
    tls = [
        s for s in statements if any(c["variable"] == "aws:SecureTransport" for c in s.get("condition", []))
    ]
    assert tls and tls[0]["effect"] == "Deny" and tls[0]["condition"][0]["values"] == ["false"]


def _statements(doc: dict) -> list[dict]:
    out = list(doc.get("statement", []))
    for dyn in doc.get("dynamic", []):
        if "statement" in dyn:
            out += dyn["statement"]["content"]
    return out


def test_no_wildcard_in_iam_actions(data):
    """No Allow statement grants `*` actions. Two documented exceptions: Deny statements (a wildcard deny
    only narrows access) and the account-root statement of the KMS key policy (AWS's default policy)."""
    docs = {k: v for k, v in data.items() if k.startswith("aws_iam_policy_document.")}
    assert {"aws_iam_policy_document.task", "aws_iam_policy_document.execution"} <= set(docs)
    for key, doc in docs.items():
        for st in _statements(doc):
            actions = st.get("actions", [])
            assert "not_actions" not in st, key
            if st.get("effect", "Allow") == "Deny":
                continue
            if key == "aws_iam_policy_document.kms" and st.get("sid") == "AccountIAMDelegation":
                assert st["principals"][0]["identifiers"] == [
                    "arn:${local.partition}:iam::${local.account_id}:root"
                ]
                continue
            for action in actions:
                assert "*" not in action, f"{key} {st.get('sid')}: wildcard action {action}"


def test_task_role_reaches_only_the_artifact_bucket(data):
    statements = {s["sid"]: s for s in _statements(data["aws_iam_policy_document.task"])}
    objects = statements["ArtifactObjects"]
    assert sorted(objects["actions"]) == sorted(
        [
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ]
    )
    assert objects["resources"] == ["${aws_s3_bucket.artifacts.arn}/*"]
    bucket = statements["ArtifactBucket"]
    assert sorted(bucket["actions"]) == ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
    assert bucket["resources"] == ["${aws_s3_bucket.artifacts.arn}"]
    for st in statements.values():
        for resource in st["resources"]:
            assert resource != "*", st["sid"]
            if any(a.startswith("s3:") for a in st["actions"]):
                assert resource.startswith("${aws_s3_bucket.artifacts.arn}"), resource


def test_execution_role_reads_only_the_needed_secrets(data, local):
    statements = {s["sid"]: s for s in _statements(data["aws_iam_policy_document.execution"])}
    assert statements["Secrets"]["actions"] == ["secretsmanager:GetSecretValue"]
    assert statements["Secrets"]["resources"] == "${local.secret_arns}"
    assert local["secret_arns"].startswith("${distinct(concat([local.db_secret_arn]")
    assert statements["EcrPull"]["resources"] == ["${aws_ecr_repository.server.arn}"]
    assert statements["Logs"]["resources"] == ["${aws_cloudwatch_log_group.server.arn}:log-stream:*"]
    star = [sid for sid, s in statements.items() if "*" in s["resources"]]
    assert star == ["EcrAuth"] and statements["EcrAuth"]["actions"] == ["ecr:GetAuthorizationToken"]


def test_auth_is_on_by_default_and_the_admin_password_comes_only_from_secrets_manager(
    module, local, res, data
):
    v = variables(module)
    assert v["auth_enabled"]["default"] is True and v["auth_enabled"]["type"] == "bool"
    assert v["admin_username"]["validation"]
    # No variable carries an admin password (so no default one either): the module generates it.
    assert not [name for name in v if "admin_password" in name]
    env = {e["name"]: e["value"] for e in local["server_environment_fixed"]}
    assert env["TRACKLIGHT_AUTH"] == "${tostring(var.auth_enabled)}"
    assert env["TRACKLIGHT_ADMIN_USERNAME"] == "${var.admin_username}"
    assert "TRACKLIGHT_ADMIN_PASSWORD" not in env

    password = res["random_password.admin"]
    assert password["count"] == "${var.auth_enabled ? 1 : 0}" and password["length"] >= 24
    secret = res["aws_secretsmanager_secret.admin_password"]
    assert secret["kms_key_id"] == "${aws_kms_key.this.arn}", (
        "encrypted with the module's key, like the DB secret"
    )
    assert secret["name"] == "${local.names.admin_secret}"
    version = res["aws_secretsmanager_secret_version.admin_password"]
    assert version["secret_string"] == "${random_password.admin[0].result}"
    assert version["secret_id"] == "${aws_secretsmanager_secret.admin_password[0].id}"

    # Injected as an ECS secret (resolved by the execution role), never through `environment`.
    assert local["admin_secret_arns"] == "${aws_secretsmanager_secret.admin_password[*].arn}"
    assert local["admin_secrets"].replace(" ", "") == (
        '${[forarninlocal.admin_secret_arns:{name="TRACKLIGHT_ADMIN_PASSWORD",valueFrom=arn}]}'
    )
    assert local["secrets"] == "${concat(local.db_secrets, local.admin_secrets, local.extra_secrets)}"
    # The execution role reads exactly the DB secret, this one, and any extra_secrets; the task role none.
    assert (
        local["secret_arns"]
        .replace(" ", "")
        .replace("\n", "")
        .startswith("${distinct(concat([local.db_secret_arn],local.admin_secret_arns,")
    )
    task = _statements(data["aws_iam_policy_document.task"])
    assert not [s for s in task if any(a.startswith("secretsmanager:") for a in s["actions"])]
    assert "aws_secretsmanager_secret_version.admin_password" in " ".join(
        res["aws_ecs_service.server"]["depends_on"]
    )


def test_token_command_runs_tokens_create_in_the_migration_task(module):
    out = outputs(module)
    cmd = out["token_command"]["value"]
    assert "aws ecs run-task" in cmd and "--task-definition ${aws_ecs_task_definition.migrate.family}" in cmd
    assert 'command = ["tokens", "create", var.admin_username' in cmd
    assert "assignPublicIp=DISABLED" in cmd
    assert (
        out["admin_password_secret_arn"]["value"] == "${one(aws_secretsmanager_secret.admin_password[*].arn)}"
    )


def test_ecr_immutable_and_scanned(res):
    repo = res["aws_ecr_repository.server"]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"][0]["scan_on_push"] is True
    assert repo["encryption_configuration"][0]["encryption_type"] == "KMS"
    assert "aws_ecr_lifecycle_policy.server" in res


def test_health_check_path(res):
    hc = res["aws_lb_target_group.server"]["health_check"][0]
    assert hc["path"] == "/health"
    assert hc["matcher"] == "200"


def test_https_listener_and_redirect(res, module):
    https = res["aws_lb_listener.https"]
    assert https["protocol"] == "HTTPS" and https["port"] == 443
    assert https["certificate_arn"] == "${var.certificate_arn}"
    assert https["ssl_policy"] == "${var.ssl_policy}"
    assert variables(module)["ssl_policy"]["default"].startswith("ELBSecurityPolicy-TLS13-")
    http = res["aws_lb_listener.http"]
    assert http["protocol"] == "HTTP" and http["port"] == 80
    (action,) = http["default_action"]
    assert action["type"] == "redirect"
    assert action["redirect"][0] == {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}
    listeners = [k for k in res if k.startswith("aws_lb_listener.")]
    assert sorted(listeners) == ["aws_lb_listener.http", "aws_lb_listener.https"]


def test_alb_drops_invalid_headers(res):
    assert res["aws_lb.this"]["drop_invalid_header_fields"] is True


def test_optional_oidc_authentication(res, module):
    (dyn,) = res["aws_lb_listener.https"]["dynamic"]
    content = dyn["default_action"]["content"][0]
    assert content["type"] == "authenticate-oidc"
    assert content["authenticate_oidc"][0]["client_secret"] == "${var.oidc_client_secret}"
    assert variables(module)["oidc"]["default"] is None


def test_sdk_credentials_skip_the_alb_login_only_when_tracklight_checks_them(res):
    rule = res["aws_lb_listener_rule.credentials_skip_oidc"]
    assert rule["count"] == "${var.oidc != null && var.auth_enabled ? 1 : 0}"
    (header,) = rule["condition"][0]["http_header"]
    assert header["http_header_name"] == "Authorization"
    assert sorted(header["values"]) == ["Basic *", "Bearer *"]
    (action,) = rule["action"]
    assert action["type"] == "forward"
    assert action["target_group_arn"] == "${aws_lb_target_group.server.arn}"


ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/tracklight/0123456789abcdef"
REQUIRED = {
    "image_tag": "0.1.0",
    "vpc_id": "vpc-0123456789abcdef0",
    "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "alb_subnet_ids": ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"],
    "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
}
OIDC = {
    "issuer": "https://idp.example.com",
    "authorization_endpoint": "https://idp.example.com/authorize",
    "token_endpoint": "https://idp.example.com/token",
    "user_info_endpoint": "https://idp.example.com/userinfo",
    "client_id": "tracklight",
}


def _proxy_environment(tmp_path, **values) -> dict[str, str]:
    entries = evaluate(
        tmp_path,
        AWS,
        "proxy_identity.tf",
        {"aws_lb.this.arn": ALB_ARN},
        {**REQUIRED, **values},
        "local.proxy_environment",
    )
    return {e["name"]: e["value"] for e in entries}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("oidc", "auth", "expected"),
    [
        (None, True, {"TRACKLIGHT_AUTH_PROXY": "none"}),
        (OIDC, False, {"TRACKLIGHT_AUTH_PROXY": "none"}),
        (
            OIDC,
            True,
            {
                "TRACKLIGHT_AUTH_PROXY": "alb",
                "TRACKLIGHT_AUTH_PROXY_ALB_ARN": ALB_ARN,
                "TRACKLIGHT_AUTH_PROXY_ALB_CLAIM": "email",
            },
        ),
        (
            {**OIDC, "user_claim": "preferred_username"},
            True,
            {
                "TRACKLIGHT_AUTH_PROXY": "alb",
                "TRACKLIGHT_AUTH_PROXY_ALB_ARN": ALB_ARN,
                "TRACKLIGHT_AUTH_PROXY_ALB_CLAIM": "preferred_username",
            },
        ),
    ],
)
def test_alb_oidc_makes_the_server_take_the_albs_verified_user(tmp_path, monkeypatch, oidc, auth, expected):
    """Evaluated by terraform (proxy_identity.tf, this ALB's ARN stood in for), then loaded by the server's
    own configuration, which must accept it as the alb mode with this load balancer as the signer."""
    from tracklight.config import load_settings

    env = _proxy_environment(tmp_path, oidc=oidc, auth_enabled=auth)
    assert env == expected
    for name in [n for n in os.environ if n.startswith("TRACKLIGHT_")]:
        monkeypatch.delenv(name)
    for name, value in {**env, "TRACKLIGHT_AUTH": str(auth).lower()}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.auth_proxy == expected["TRACKLIGHT_AUTH_PROXY"]
    if settings.auth_proxy == "alb":
        assert settings.auth_proxy_alb_arn == (ALB_ARN,)
        assert settings.auth_proxy_alb_claim == expected["TRACKLIGHT_AUTH_PROXY_ALB_CLAIM"]


def test_alb_identity_reaches_the_server_container_only(local):
    """The server's environment carries it (test_secrets_only_in_secrets_never_in_environment checks the
    composition); the migration task has no use for it."""
    assert "local.proxy_environment" in local["server_environment"]
    assert "proxy" not in local["migrate_environment"]
    assert "aws_lb.this.arn" in json.dumps(local["proxy_environment"])


def test_a_bad_oidc_user_claim_is_refused(tmp_path):
    with pytest.raises(TerraformRefused, match="oidc.user_claim"):
        _proxy_environment(tmp_path, oidc={**OIDC, "user_claim": "email; rm -rf /"})


def test_service_is_private(res):
    svc = res["aws_ecs_service.server"]
    net = svc["network_configuration"][0]
    assert net["assign_public_ip"] is False
    assert net["subnets"] == "${var.private_subnet_ids}"
    assert svc["launch_type"] == "FARGATE"
    assert svc["deployment_circuit_breaker"][0] == {"enable": True, "rollback": True}


def test_container_insights(res):
    (setting,) = res["aws_ecs_cluster.this"]["setting"]
    assert setting == {"name": "containerInsights", "value": "enabled"}


def test_secrets_only_in_secrets_never_in_environment(local, res):
    env_lists = ("server_environment_fixed", "migrate_environment_fixed", "db_environment")
    names = [e["name"] for key in env_lists for e in local[key]]
    assert "TRACKLIGHT_HOST" in names and "TRACKLIGHT_BACKEND_STORE_URI" in names
    for key in env_lists:
        for entry in local[key]:
            # The URI's name looks secret, but it is plain here because it holds no password.
            if entry["name"] != "TRACKLIGHT_BACKEND_STORE_URI":
                assert not SECRET_NAME.search(entry["name"]), f"{key}: {entry['name']} looks secret"
            assert not re.search(r"://[^/@\s]*:[^@\s]*@", entry["value"]), f"{key}: credentials in a URI"
            assert "secret" not in entry["value"].lower(), f"{key}: {entry['name']} reads a secret"
    (uri_entry,) = local["db_environment"]
    assert uri_entry == {"name": "TRACKLIGHT_BACKEND_STORE_URI", "value": "${local.backend_store_uri}"}
    assert "password" not in local["backend_store_uri"].lower()
    # The composed lists are only those fixed lists, the proxy identity settings (names and an ARN, checked in
    # test_alb_oidc_makes_the_server_take_the_albs_verified_user) and the (validated) extra_environment.
    assert local["server_environment"] == (
        "${concat(local.server_environment_fixed, local.proxy_environment, local.db_environment, "
        "local.extra_environment)}"
    )
    assert local["migrate_environment"] == "${concat(local.migrate_environment_fixed, local.db_environment)}"

    secrets = {s["name"]: s["valueFrom"] for s in local["db_secrets"]}
    assert secrets == {
        "TRACKLIGHT_DB_USER": "${local.db_secret_arn}:username::",
        "TRACKLIGHT_DB_PASSWORD": "${local.db_secret_arn}:password::",
    }
    assert local["db_secret_arn"] == "${aws_db_instance.metadata.master_user_secret[0].secret_arn}"

    for key in ("server_container", "migrate_container"):
        container = local[key]
        assert container["secrets"] == "${local.secrets}"
        assert container["environment"] in ("${local.server_environment}", "${local.migrate_environment}")
        assert container["readonlyRootFilesystem"] is True
    for key in ("aws_ecs_task_definition.server", "aws_ecs_task_definition.migrate"):
        assert res[key]["container_definitions"] in (
            "${jsonencode([local.server_container])}",
            "${jsonencode([local.migrate_container])}",
        )
        assert res[key]["execution_role_arn"] == "${aws_iam_role.execution.arn}"


def test_migration_task_runs_db_upgrade_with_the_same_image_and_secrets(local, module):
    server, migrate = local["server_container"], local["migrate_container"]
    assert migrate["command"] == ["db", "upgrade"]
    assert server["command"] == ["server"]
    for field in ("image", "secrets"):
        assert migrate[field] == server[field], field
    cmd = outputs(module)["migrate_command"]["value"]
    assert "aws ecs run-task" in cmd
    assert "--task-definition ${aws_ecs_task_definition.migrate.family}" in cmd
    assert "assignPublicIp=DISABLED" in cmd


def test_outputs(module):
    out = outputs(module)
    for name in ("tracking_uri", "ecr_repository_url", "migrate_command", "bucket_name"):
        assert out[name].get("description"), name
    assert out["tracking_uri"]["value"] == "${local.tracking_uri}"


def test_autoscaling_and_logs(res, module):
    assert res["aws_appautoscaling_policy.cpu"]["policy_type"] == "TargetTrackingScaling"
    assert "aws_appautoscaling_policy.requests" in res
    logs = res["aws_cloudwatch_log_group.server"]
    assert logs["retention_in_days"] == "${var.log_retention_days}"
    assert variables(module)["log_retention_days"]["default"] >= 365


def test_every_resource_is_tagged(res):
    untaggable = (
        "aws_kms_alias",
        "aws_ecr_lifecycle_policy",
        "aws_vpc_security_group_",
        "aws_s3_bucket_",
        "aws_iam_role_policy",
        "aws_appautoscaling_",
        "aws_route53_record",
        "aws_secretsmanager_secret_version",
        "random_",  # the random provider's resources have no tags
    )
    for key, body in res.items():
        if key.split(".")[0].startswith(untaggable):
            continue
        assert "tags" in body, f"{key} has no tags"


# ---------------------------------------------------------------------------------------------------
# The image's own entrypoint; the server fills the RDS-managed credentials into the URI
# ---------------------------------------------------------------------------------------------------


def test_task_definitions_use_the_image_entrypoint_without_a_wrapper(local, module):
    """No entryPoint override, no shell and no Python wrapper: the image's ENTRYPOINT ["tracklight"] runs
    `server` or `db upgrade`, which read the URI and the injected credentials themselves."""
    assert "start_script" not in local
    assert "python_executable" not in variables(module)
    for key, command in (("server_container", ["server"]), ("migrate_container", ["db", "upgrade"])):
        container = local[key]
        assert "entryPoint" not in container, key
        assert container["command"] == command, key
        for word in container["command"]:
            assert not re.search(r"(^|/)(sh|bash|python3?)$|-c$|tracklight", word), (key, word)
    source = "\n".join(tf.read_text() for tf in AWS.glob("*.tf"))
    assert "TRACKLIGHT_DB_USERNAME" not in source
    assert not re.search(r"os\.exec|execvp|/bin/sh", source)


def _render_uri(template: str, query: str) -> str:
    """The URI Terraform makes of local.backend_store_uri for an example instance."""
    values = {
        "aws_db_instance.metadata.username": "tracklight",
        "aws_db_instance.metadata.address": "tracklight-db.abc.eu-west-1.rds.amazonaws.com",
        "aws_db_instance.metadata.port": "3306",
        "aws_db_instance.metadata.db_name": "tracklight",
        "local.db_query": query,
    }
    rendered = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], template)
    assert "${" not in rendered and "%{" not in rendered, rendered
    return rendered


@pytest.mark.parametrize("query", ["ssl_check_hostname=false", "ssl_ca=/etc/ssl/rds-global-bundle.pem"])
def test_server_fills_the_secret_credentials_into_the_uri(local, monkeypatch, query):
    """What the server and `db upgrade` connect with: the plain URI plus the two ECS secrets."""
    from sqlalchemy.engine import make_url

    from tracklight.config import backend_store_uri_from

    plain = make_url(_render_uri(local["backend_store_uri"], query))
    assert plain.password is None, "the plain URI must not carry a password"
    monkeypatch.setenv("TRACKLIGHT_BACKEND_STORE_URI", plain.render_as_string(hide_password=False))
    monkeypatch.setenv("TRACKLIGHT_DB_USER", "tracklight_admin")
    monkeypatch.setenv("TRACKLIGHT_DB_PASSWORD", "p@ss:w/rd#?%&x")
    url = make_url(backend_store_uri_from(None))
    assert url.drivername == "mysql+pymysql"
    assert url.username == "tracklight_admin" and url.password == "p@ss:w/rd#?%&x"
    assert url.host == "tracklight-db.abc.eu-west-1.rds.amazonaws.com" and url.port == 3306
    assert url.database == "tracklight"
    assert dict(url.query) == dict([query.split("=", 1)])


def test_tls_query_makes_pymysql_use_tls(local):
    """require_secure_transport is on: the URI's query must turn TLS on in the driver."""
    from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql
    from sqlalchemy.engine import make_url

    expr = local["db_query"]
    assert "ssl_check_hostname=false" in expr and "ssl_ca=${var.db_tls_ca_file}" in expr
    for query in ("ssl_check_hostname=false", "ssl_ca=/etc/ssl/rds-global-bundle.pem"):
        _, kwargs = MySQLDialect_pymysql().create_connect_args(
            make_url(f"mysql+pymysql://u:p@h:3306/db?{query}")
        )
        assert kwargs.get("ssl"), query


# ---------------------------------------------------------------------------------------------------
# The example
# ---------------------------------------------------------------------------------------------------


def test_example_uses_the_module(tmp_path):
    example = load_module(EXAMPLE)
    calls = {k: v for block in example["module"] for k, v in block.items()}
    assert calls["tracklight"]["source"] == "../.."
    assert calls["tracklight"]["image_tag"] == "${var.image_tag}"
    tfvars = (EXAMPLE / "terraform.tfvars.example").read_text()
    assert "latest" not in tfvars
    assert "0.0.0.0/0" not in tfvars
