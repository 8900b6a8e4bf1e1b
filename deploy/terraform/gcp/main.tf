# Tracklight on Google Cloud: Cloud Run (service + migration job), Cloud SQL for MySQL 8 on a private IP,
# a GCS artifacts bucket, Secret Manager for the database password, Artifact Registry for the image.

data "google_project" "this" {
  project_id = var.project_id
}

# Names, labels and the image tag are derived and validated by the provider-free naming module shared with the
# AWS module (its `terraform test` runs offline in CI).
module "naming" {
  source = "../modules/naming"

  name          = var.name
  image_tag     = var.image_tag
  bucket_suffix = var.project_id # bucket names are global: <name>-artifacts-<project id>
  labels        = var.labels
}

locals {
  labels = module.naming.labels

  service_name          = module.naming.gcp.cloud_run_service
  job_name              = module.naming.gcp.migrate_job
  sql_instance_name     = module.naming.gcp.sql_instance
  service_account_id    = module.naming.gcp.service_account_id
  repository_id         = module.naming.gcp.artifact_registry
  db_password_secret_id = module.naming.gcp.db_password_secret
  admin_secret_id       = module.naming.gcp.admin_secret
  database_name         = coalesce(var.database_name, module.naming.db_name)
  network_name          = "${module.naming.name}-vpc"
  subnet_name           = "${module.naming.name}-run"
  psa_range_name        = "${module.naming.name}-psa"
  artifacts_bucket      = coalesce(var.artifacts_bucket_name, module.naming.bucket)
  artifacts_bucket_loc  = upper(coalesce(var.bucket_location, var.region))

  # gs://bucket/prefix, and the folder where the server keeps the parts of client-direct multipart uploads
  # (src/tracklight/artifacts/gcs.py UPLOADS_DIR) until they are composed into the final object.
  artifacts_destination = var.artifacts_prefix == "" ? "gs://${local.artifacts_bucket}" : "gs://${local.artifacts_bucket}/${var.artifacts_prefix}"
  uploads_prefix        = var.artifacts_prefix == "" ? ".tracklight-uploads/" : "${var.artifacts_prefix}/.tracklight-uploads/"

  repository_url = "${var.region}-docker.pkg.dev/${var.project_id}/${local.repository_id}"
  image          = var.image != null ? var.image : "${local.repository_url}/tracklight:${module.naming.image_tag}"

  # The Cloud Run Cloud SQL connection mounts a unix socket per instance under /cloudsql.
  cloudsql_mount = "/cloudsql"

  network_id    = var.network_id != null ? var.network_id : google_compute_network.vpc[0].id
  subnetwork_id = var.subnetwork_id != null ? var.subnetwork_id : google_compute_subnetwork.run[0].id

  apis = concat(
    [
      "artifactregistry.googleapis.com",
      "compute.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com", # signBlob, for V4 signed download URLs
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "servicenetworking.googleapis.com",
      "sqladmin.googleapis.com", # the Cloud Run Cloud SQL connection goes through the Admin API
      "storage.googleapis.com",
    ],
    var.iap_enabled ? ["iap.googleapis.com"] : [],
  )
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
