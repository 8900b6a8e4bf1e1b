output "name" {
  description = "The validated deployment name."
  value       = var.name
}

output "image_tag" {
  description = "The validated image tag (never \"latest\")."
  value       = var.image_tag
}

output "db_name" {
  description = "MySQL database name (the deployment name with \"_\" for \"-\")."
  value       = local.db_name
}

output "bucket" {
  description = "Artifact bucket name: <name>-artifacts[-<bucket_suffix>], at most 63 characters (S3 and GCS rule)."
  value       = local.bucket

  precondition {
    condition     = length(local.bucket) <= 63
    error_message = "The artifact bucket name \"${local.bucket}\" is longer than 63 characters: shorten name or bucket_suffix."
  }
}

output "aws" {
  description = "Resource names for the AWS module."
  value       = local.aws

  precondition {
    condition     = length(local.aws.alb) <= 32 && length(local.aws.target_group) <= 32
    error_message = "ALB and target group names are limited to 32 characters."
  }
}

output "gcp" {
  description = "Resource names for the GCP module."
  value       = local.gcp

  precondition {
    condition     = length(local.gcp.service_account_id) >= 6 && length(local.gcp.service_account_id) <= 30
    error_message = "GCP service account ids must be 6-30 characters."
  }
}

output "labels" {
  description = "Common tags (AWS) / labels (GCP): app, deployment, managed-by, plus the labels input."
  value       = local.labels
}
