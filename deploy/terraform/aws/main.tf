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

  # The password lives only in the RDS-managed Secrets Manager secret (JSON {"username", "password"}). ECS
  # injects its two keys as TRACKLIGHT_DB_USER / TRACKLIGHT_DB_PASSWORD at task start, and the server puts
  # them into TRACKLIGHT_BACKEND_STORE_URI itself, URL-encoded (generated passwords may contain URI
  # delimiters). So the URI below is plain configuration with no password in it, the image runs with its own
  # entrypoint (no wrapper, no shell), and neither Terraform state nor the task definition ever holds the
  # password. `tracklight db upgrade` with no argument reads the same three variables.

  # require_secure_transport is on, so the driver must use TLS: with a CA bundle, verify the server's
  # certificate; without one, encrypt without verification.
  db_query = var.db_tls_ca_file == null ? "ssl_check_hostname=false" : "ssl_ca=${var.db_tls_ca_file}"

  # A user and no password: TRACKLIGHT_DB_USER (the secret's username) replaces the user, and
  # TRACKLIGHT_DB_PASSWORD adds the password.
  backend_store_uri = "mysql+pymysql://${aws_db_instance.metadata.username}@${aws_db_instance.metadata.address}:${aws_db_instance.metadata.port}/${aws_db_instance.metadata.db_name}?${local.db_query}"

  db_environment = [
    { name = "TRACKLIGHT_BACKEND_STORE_URI", value = local.backend_store_uri },
  ]

  # Everything secret reaches the container through `secrets` (resolved by the ECS agent with the
  # execution role), never through `environment`.
  db_secrets = [
    { name = "TRACKLIGHT_DB_USER", valueFrom = "${local.db_secret_arn}:username::" },
    { name = "TRACKLIGHT_DB_PASSWORD", valueFrom = "${local.db_secret_arn}:password::" },
  ]
  # With auth_enabled, the first admin's password (auth.tf), as the whole secret string.
  admin_secret_arns = aws_secretsmanager_secret.admin_password[*].arn
  admin_secrets     = [for arn in local.admin_secret_arns : { name = "TRACKLIGHT_ADMIN_PASSWORD", valueFrom = arn }]
  extra_secrets     = [for k, v in var.extra_secrets : { name = k, valueFrom = v }]
  secrets           = concat(local.db_secrets, local.admin_secrets, local.extra_secrets)

  # Secret ARNs the execution role may read: strip any ":json-key:version-stage:version-id" suffix.
  secret_arns = distinct(concat(
    [local.db_secret_arn],
    local.admin_secret_arns,
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
