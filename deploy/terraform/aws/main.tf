data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

module "naming" {
  source = "../modules/naming"

  name          = var.name
  image_tag     = var.image_tag
  bucket_suffix = data.aws_caller_identity.current.account_id
}

locals {
  names      = module.naming.aws
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id # `.name` is deprecated in provider 6, `.id` works in 5 and 6

  tags = merge(var.tags, module.naming.labels)

  host         = coalesce(var.domain_name, aws_lb.this.dns_name)
  tracking_uri = "https://${local.host}"

  container_name = "tracklight"
  container_port = 5000
  image          = "${aws_ecr_repository.server.repository_url}:${module.naming.image_tag}"

  artifacts_destination = "s3://${aws_s3_bucket.artifacts.bucket}/${var.artifacts_prefix}"

  db_secret_arn = aws_db_instance.metadata.master_user_secret[0].secret_arn

  # The server reads one variable, TRACKLIGHT_BACKEND_STORE_URI, and the password lives only in the
  # RDS-managed Secrets Manager secret (JSON {"username", "password"}). ECS injects the two JSON keys as
  # TRACKLIGHT_DB_USERNAME / TRACKLIGHT_DB_PASSWORD at task start; this wrapper URL-encodes them into the
  # URI (generated passwords may contain URI delimiters), drops the separate variables and execs the
  # server. `db upgrade` gets the URI as its argument. Neither Terraform state nor the task definition
  # ever holds the password.
  start_script = <<-EOT
    import os, sys, urllib.parse as p
    e = os.environ
    user = p.quote(e.pop("TRACKLIGHT_DB_USERNAME"), safe="")
    password = p.quote(e.pop("TRACKLIGHT_DB_PASSWORD"), safe="")
    uri = "mysql+pymysql://{}:{}@{}:{}/{}?{}".format(user, password, e["TRACKLIGHT_DB_HOST"], e["TRACKLIGHT_DB_PORT"], e["TRACKLIGHT_DB_NAME"], e.get("TRACKLIGHT_DB_QUERY", ""))
    e["TRACKLIGHT_BACKEND_STORE_URI"] = uri
    args = sys.argv[1:]
    if args == ["db", "upgrade"]:
        args.append(uri)
    os.execvp("tracklight", ["tracklight"] + args)
  EOT

  # require_secure_transport is on, so the driver must use TLS: with a CA bundle, verify the server's
  # certificate; without one, encrypt without verification.
  db_query = var.db_tls_ca_file == null ? "ssl_check_hostname=false" : "ssl_ca=${var.db_tls_ca_file}"

  db_environment = [
    { name = "TRACKLIGHT_DB_HOST", value = aws_db_instance.metadata.address },
    { name = "TRACKLIGHT_DB_PORT", value = tostring(aws_db_instance.metadata.port) },
    { name = "TRACKLIGHT_DB_NAME", value = aws_db_instance.metadata.db_name },
    { name = "TRACKLIGHT_DB_QUERY", value = local.db_query },
  ]

  # Everything secret reaches the container through `secrets` (resolved by the ECS agent with the
  # execution role), never through `environment`.
  db_secrets = [
    { name = "TRACKLIGHT_DB_USERNAME", valueFrom = "${local.db_secret_arn}:username::" },
    { name = "TRACKLIGHT_DB_PASSWORD", valueFrom = "${local.db_secret_arn}:password::" },
  ]
  extra_secrets = [for k, v in var.extra_secrets : { name = k, valueFrom = v }]
  secrets       = concat(local.db_secrets, local.extra_secrets)

  # Secret ARNs the execution role may read: strip any ":json-key:version-stage:version-id" suffix.
  secret_arns = distinct(concat(
    [local.db_secret_arn],
    [for v in values(var.extra_secrets) : join(":", slice(split(":", v), 0, 7))],
  ))
}

# One customer-managed key per deployment encrypts the bucket, the database, its master secret, the
# image repository and the logs.
resource "aws_kms_key" "this" {
  description             = "${var.name}: Tracklight artifacts, database, secrets, images and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = local.names.kms_alias
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only; the statements follow AWS's default key policy.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only, not every resource.
  #checkov:skip=CKV_AWS_109:The account-root statement is AWS's default key policy (IAM decides); the logs statement is limited by encryption context.
  # The default key policy: the account's IAM policies decide who may use the key. This is the only
  # wildcard action in the module, and it is AWS's own default (removing it can lock the key out).
  statement {
    sid       = "AccountIAMDelegation"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}
