# One dedicated identity for the service and the migration job, with grants scoped to the resources it uses:
# no project-wide storage role, no primitive role, nothing on other service accounts.

resource "google_service_account" "server" {
  project      = var.project_id
  account_id   = local.service_account_id
  display_name = "Tracklight server (${var.name})"
  description  = "Runs the Tracklight Cloud Run service and migration job: its bucket, its database secret, its Cloud SQL instance."

  depends_on = [google_project_service.apis]
}

# Read, write, list and delete objects in the artifacts bucket, and nowhere else. objectAdmin (not objectUser)
# because composing the parts of a direct upload over an existing name needs storage.objects.delete, and the
# server's readiness check lists objects.
resource "google_storage_bucket_iam_member" "server_objects" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.server.member
}

# Read the database password secret, and no other secret.
resource "google_secret_manager_secret_iam_member" "server_db_password" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.db_password.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.server.member
}

# Cloud SQL has no per-instance IAM policy, so roles/cloudsql.client is granted on the project, with an IAM
# condition that limits it to this one instance (cloudsql.instances.connect/get are checked on the instance).
resource "google_project_iam_member" "server_cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = google_service_account.server.member

  condition {
    title       = "only-${local.sql_instance_name}"
    description = "Connect to the Tracklight Cloud SQL instance only."
    expression  = "resource.name == 'projects/${var.project_id}/instances/${google_sql_database_instance.main.name}' && resource.type == 'sqladmin.googleapis.com/Instance'"
  }
}

# On Cloud Run the credentials come from the metadata server and hold no private key, so a V4 signed URL is
# signed through the IAM signBlob API, as the service account itself. This grant lets the account sign as
# itself only (not as any other account). Without it the server still works: it advertises no presigned
# downloads (it probes signing at start), and every download streams through Cloud Run instead of the bucket.
resource "google_service_account_iam_member" "server_signs_as_itself" {
  count = var.allow_url_signing ? 1 : 0

  service_account_id = google_service_account.server.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.server.member
}
