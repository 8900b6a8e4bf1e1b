# Artifacts bucket: never public, IAM-only (no ACLs), versioned, with the debris of interrupted uploads expired.

resource "google_storage_bucket" "artifacts" {
  #checkov:skip=CKV_GCP_62:Legacy usage/storage logs need a second bucket; object access is audited with Cloud Audit Logs (enable Data Access logs for storage.googleapis.com on the project), see README.
  project                     = var.project_id
  name                        = local.artifacts_bucket
  location                    = local.artifacts_bucket_loc
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy_bucket
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # Parts of client-direct multipart uploads live under <prefix>/.tracklight-uploads/<upload id>/ until the
  # server composes them into the artifact and deletes them. A client that dies mid-upload leaves its parts
  # behind; they go after upload_parts_retention_days.
  lifecycle_rule {
    condition {
      age            = var.upload_parts_retention_days
      matches_prefix = [local.uploads_prefix]
    }
    action {
      type = "Delete"
    }
  }

  # On a versioned bucket a delete keeps a noncurrent copy: the parts the server deletes after composing would
  # otherwise double the storage of every direct upload for noncurrent_version_retention_days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      matches_prefix             = [local.uploads_prefix]
    }
    action {
      type = "Delete"
    }
  }

  # Overwritten or deleted artifacts stay recoverable for a while, then go.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
    }
    action {
      type = "Delete"
    }
  }

  # Tracklight uses resumable uploads (which expire by themselves after a week), not the XML multipart API;
  # this rule catches XML multipart uploads that other tools (gsutil/gcloud parallel composite, S3-compatible
  # clients) leave unfinished in the bucket.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.apis]
}
