output "tracking_uri" {
  description = "export MLFLOW_TRACKING_URI=<this>"
  value       = module.tracklight.tracking_uri
}

output "ecr_repository_url" {
  description = "Where to push the image."
  value       = module.tracklight.ecr_repository_url
}

output "migrate_command" {
  description = "Run once after apply (and on each upgrade)."
  value       = module.tracklight.migrate_command
}

output "redeploy_command" {
  description = "Restart the service's tasks."
  value       = module.tracklight.redeploy_command
}

output "bucket_name" {
  description = "Artifact bucket."
  value       = module.tracklight.bucket_name
}

output "log_group_name" {
  description = "Server and migration logs."
  value       = module.tracklight.log_group_name
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.tracklight.cluster_name
}

output "token_command" {
  description = "Runs tracklight tokens create <admin> as a one-off task; the token is in its log stream."
  value       = module.tracklight.token_command
}

output "admin_password_secret_arn" {
  description = "Secrets Manager secret with the first admin's password."
  value       = module.tracklight.admin_password_secret_arn
}
