# Tracklight's own authentication (auth_enabled, on by default): the image starts with TRACKLIGHT_AUTH=true
# and refuses to start without an admin. The first admin's password is generated here, kept in a Secrets
# Manager secret under the module's KMS key, and reaches the containers only as the ECS secret
# TRACKLIGHT_ADMIN_PASSWORD (resolved by the execution role, which may read exactly this secret). The server
# reads it once, to create the admin user on the first start against an empty database.
#
# Unlike the RDS password, this one is in the Terraform state (random_password keeps its result there), as
# every Terraform-generated password is: keep the state encrypted and access-controlled.

resource "random_password" "admin" {
  count            = var.auth_enabled ? 1 : 0
  length           = 32
  special          = true
  override_special = "-_.~"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "aws_secretsmanager_secret" "admin_password" {
  #checkov:skip=CKV2_AWS_57:The first admin's password is read only when the admin user is created; rotating the secret would not change the user's password (that is `tracklight users set-password`).
  count                   = var.auth_enabled ? 1 : 0
  name                    = local.names.admin_secret
  description             = "${var.name}: password of the first Tracklight admin (${var.admin_username})"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "admin_password" {
  count         = var.auth_enabled ? 1 : 0
  secret_id     = aws_secretsmanager_secret.admin_password[0].id
  secret_string = random_password.admin[0].result
}
