# Tracklight's own authentication (auth_enabled, on by default): the image starts with TRACKLIGHT_AUTH=true
# and refuses to start without an admin. The first admin's password is generated here, kept in its own Secret
# Manager secret, and reaches the service only through a secret_key_ref (TRACKLIGHT_ADMIN_PASSWORD). The
# service account may access this secret and the database password's, nothing else. The server reads it once,
# to create the admin user on the first start against an empty database.
#
# Like the database password, it is in the Terraform state (random_password keeps its result there): keep the
# state bucket locked down.

resource "random_password" "admin" {
  count            = var.auth_enabled ? 1 : 0
  length           = 32
  special          = true
  override_special = "-_.~"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "google_secret_manager_secret" "admin_password" {
  count     = var.auth_enabled ? 1 : 0
  project   = var.project_id
  secret_id = local.admin_secret_id
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "admin_password" {
  count       = var.auth_enabled ? 1 : 0
  secret      = google_secret_manager_secret.admin_password[0].id
  secret_data = random_password.admin[0].result
}

# Read the admin password secret, and no other secret (the database password has its own grant in iam.tf).
resource "google_secret_manager_secret_iam_member" "server_admin_password" {
  count     = var.auth_enabled ? 1 : 0
  project   = var.project_id
  secret_id = google_secret_manager_secret.admin_password[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.server.member
}

locals {
  # Cloud Run's own IAM check reads the Authorization header, where the stock mlflow client puts its Tracklight
  # token (MLFLOW_TRACKING_TOKEN) or password: with Tracklight's login on, that check is off unless asked for,
  # and Tracklight authenticates every request itself. With auth_enabled = false it stays on.
  invoker_iam_check = coalesce(var.invoker_iam_check, !var.auth_enabled)

  admin_env = {
    TRACKLIGHT_AUTH           = tostring(var.auth_enabled) # explicit either way: the image's default is on
    TRACKLIGHT_ADMIN_USERNAME = var.admin_username
  }

  # Only the service creates the admin; the migration job does not need the password.
  admin_secret_env = var.auth_enabled ? {
    TRACKLIGHT_ADMIN_PASSWORD = {
      secret  = google_secret_manager_secret.admin_password[0].secret_id
      version = google_secret_manager_secret_version.admin_password[0].version
    }
  } : {}

  token_command = "gcloud run jobs execute ${local.job_name} --project ${var.project_id} --region ${var.region} --wait --args=tokens,create,${var.admin_username},--name,laptop,--expires-days,90"
}
