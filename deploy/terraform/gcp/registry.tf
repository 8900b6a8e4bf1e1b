# Docker repository for the Tracklight image: immutable tags (a tag always means the same image, so a
# rollback redeploys exactly what ran before) and a cleanup policy that keeps the recent versions.

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Images are encrypted at rest with Google-managed keys; a customer-managed key would need a KMS key ring this module does not own, and the image holds no secrets.
  project       = var.project_id
  location      = var.region
  repository_id = local.repository_id
  description   = "Tracklight server images"
  format        = "DOCKER"
  labels        = local.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent-versions"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.registry_keep_count
    }
  }

  cleanup_policies {
    id     = "delete-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "${var.registry_untagged_retention_days * 86400}s"
    }
  }

  depends_on = [google_project_service.apis]
}
