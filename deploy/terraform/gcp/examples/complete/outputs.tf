output "tracking_uri" {
  description = "export MLFLOW_TRACKING_URI=<this>"
  value       = module.tracklight.tracking_uri
}

output "image_repository" {
  description = "docker push <this>/tracklight:<tag>"
  value       = module.tracklight.image_repository
}

output "docker_login_command" {
  description = "Run once so docker can push to the repository."
  value       = module.tracklight.docker_login_command
}

output "migration_command" {
  description = "Runs tracklight db upgrade as a Cloud Run job."
  value       = module.tracklight.migration_command
}

output "artifacts_bucket" {
  description = "Bucket holding the artifacts."
  value       = module.tracklight.artifacts_bucket
}

output "client_environment" {
  description = "Environment for mlflow clients."
  value       = module.tracklight.client_environment
}

output "token_command" {
  description = "Runs tracklight tokens create <admin> as the migration job; the token is in its log."
  value       = module.tracklight.token_command
}

output "admin_password_secret" {
  description = "Secret Manager secret with the first admin's password."
  value       = module.tracklight.admin_password_secret
}
