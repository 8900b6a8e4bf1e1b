output "tracking_uri" {
  description = "Set this as MLFLOW_TRACKING_URI on laptops and training jobs."
  value       = google_cloud_run_v2_service.server.uri
}

output "service_name" {
  description = "Cloud Run service name."
  value       = google_cloud_run_v2_service.server.name
}

output "image_repository" {
  description = "Push the image here: docker push <image_repository>/tracklight:<tag>."
  value       = local.repository_url
}

output "image" {
  description = "The image the service and the migration job run."
  value       = local.image
}

output "docker_login_command" {
  description = "Lets docker push to the repository with your gcloud credentials."
  value       = "gcloud auth configure-docker ${var.region}-docker.pkg.dev"
}

output "migration_job_name" {
  description = "Cloud Run job that runs tracklight db upgrade."
  value       = google_cloud_run_v2_job.migrate.name
}

output "migration_command" {
  description = "Runs the schema migrations and waits for them (needed before a new release when run_migrations_on_apply is false)."
  value       = local.migration_command
}

output "token_command" {
  description = "Runs the migration job once with `tokens create <admin_username>` instead of `db upgrade`. The token is printed once, to the job execution's log in Cloud Logging: read it there, then use it as MLFLOW_TRACKING_TOKEN."
  value       = local.token_command
}

output "admin_password_secret" {
  description = "Secret Manager secret holding the first admin's generated password (null with auth_enabled = false): gcloud secrets versions access latest --secret <this>."
  value       = one(google_secret_manager_secret.admin_password[*].id)
}

output "artifacts_bucket" {
  description = "Bucket that holds the artifacts."
  value       = google_storage_bucket.artifacts.name
}

output "artifacts_destination" {
  description = "The server's TRACKLIGHT_ARTIFACTS_DESTINATION."
  value       = local.artifacts_destination
}

output "service_account_email" {
  description = "Identity of the service and the migration job."
  value       = google_service_account.server.email
}

output "sql_instance_connection_name" {
  description = "Cloud SQL connection name (PROJECT:REGION:INSTANCE), for the Cloud SQL Auth Proxy when a DBA needs a session."
  value       = google_sql_database_instance.main.connection_name
}

output "backend_store_uri" {
  description = "TRACKLIGHT_BACKEND_STORE_URI of the service and the migration job. It holds no password: they get TRACKLIGHT_DB_PASSWORD from database_password_secret, and the server fills it in."
  value       = local.backend_store_uri
}

output "database_password_secret" {
  description = "Secret Manager secret holding the database password (TRACKLIGHT_DB_PASSWORD of the service and the migration job)."
  value       = google_secret_manager_secret.db_password.id
}

output "client_environment" {
  description = "Environment for an mlflow client on a laptop; add MLFLOW_TRACKING_TOKEN (a Tracklight token from token_command, or a Google identity token with invoker_iam_check; see the README)."
  value = {
    MLFLOW_TRACKING_URI = google_cloud_run_v2_service.server.uri
    # Cloud Run caps HTTP/1 request bodies at 32 MiB: send every file above 16 MB straight to the bucket.
    MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE = "16777216"
    MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE        = "10485760"
  }
}
