locals {
  # The database URI holds no password (local.backend_store_uri); the password comes from secret_env below.
  db_env = {
    TRACKLIGHT_BACKEND_STORE_URI = local.backend_store_uri
  }

  # Plain settings only: the password is never a plain value.
  plain_env = merge(var.extra_env, local.db_env, local.admin_env, local.proxy_env, {
    TRACKLIGHT_HOST                  = "0.0.0.0"
    TRACKLIGHT_PORT                  = tostring(var.container_port)
    TRACKLIGHT_ARTIFACTS_DESTINATION = local.artifacts_destination
    TRACKLIGHT_WORKERS               = tostring(var.workers)
    TRACKLIGHT_H2C                   = tostring(var.http2_end_to_end)
  })

  # Secret Manager references, pinned to the version this apply wrote: a new password is a new version,
  # which rolls a new revision (and runs the migration job first).
  secret_env = {
    TRACKLIGHT_DB_PASSWORD = {
      secret  = google_secret_manager_secret.db_password.secret_id
      version = google_secret_manager_secret_version.db_password.version
    }
  }
  server_secret_env = merge(local.secret_env, local.admin_secret_env)

  migration_command = "gcloud run jobs execute ${local.job_name} --project ${var.project_id} --region ${var.region} --wait"
}

# ---------------------------------------------------------------------------------------------------------------------
# The tracking server
# ---------------------------------------------------------------------------------------------------------------------

resource "google_cloud_run_v2_service" "server" {
  project             = var.project_id
  name                = local.service_name
  location            = var.region
  ingress             = var.ingress
  launch_stage        = var.launch_stage
  deletion_protection = var.deletion_protection
  labels              = local.labels

  # Who authenticates a request: Tracklight itself (auth_enabled, the default: Cloud Run's IAM check is off so
  # the Authorization header reaches the container), Google's IAM (roles/run.invoker, invoker_iam_check), or
  # both; with iap_enabled, Identity-Aware Proxy as well. Never none (the precondition below).
  invoker_iam_disabled = !local.invoker_iam_check
  iap_enabled          = var.iap_enabled

  template {
    service_account                  = google_service_account.server.email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.max_request_concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    labels                           = local.labels

    scaling {
      min_instance_count = var.min_instance_count
      max_instance_count = var.max_instance_count
    }

    # Direct VPC egress for private ranges only: Cloud SQL's private IP goes through the VPC, while Cloud
    # Storage and the Google APIs keep their default path.
    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = local.network_id
        subnetwork = local.subnetwork_id
      }
    }

    volumes {
      name = "cloudsql"
      cloud_sql_instance {
        instances = [google_sql_database_instance.main.connection_name]
      }
    }

    containers {
      name  = "tracklight"
      image = local.image

      # HTTP/2 end to end (http2_end_to_end, the default): a port named "h2c" makes Cloud Run speak cleartext
      # HTTP/2 to the container, which the server answers under TRACKLIGHT_H2C (set above; it serves HTTP/1.1
      # on the same port too), and Cloud Run's 32 MiB cap on HTTP/1 request bodies no longer applies. Off, the
      # port is "http1" and files over 32 MiB must go straight to the bucket: see the README.
      ports {
        name           = var.http2_end_to_end ? "h2c" : "http1"
        container_port = var.container_port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.plain_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.server_secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      volume_mounts {
        name       = "cloudsql"
        mount_path = local.cloudsql_mount
      }

      # The server answers /health once it is up; it refuses to start at all on an out-of-date schema, so a
      # revision whose migration did not run never takes traffic.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 2
        timeout_seconds       = 2
        failure_threshold     = 30
        http_get {
          path = "/health"
          port = var.container_port
        }
      }

      liveness_probe {
        period_seconds    = 15
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/health"
          port = var.container_port
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    precondition {
      condition     = var.min_instance_count <= var.max_instance_count
      error_message = "min_instance_count must not exceed max_instance_count."
    }
    precondition {
      condition     = var.auth_enabled || local.invoker_iam_check
      error_message = "With auth_enabled = false, keep invoker_iam_check on: otherwise nothing authenticates requests."
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.server_db_password,
    google_secret_manager_secret_iam_member.server_admin_password,
    google_project_iam_member.server_cloudsql_client,
    google_storage_bucket_iam_member.server_objects,
    google_sql_user.tracklight,
    terraform_data.migrate,
  ]
}

# Who may call the service. Never allUsers: the variable's validation refuses it.
resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.server.name
  role     = "roles/run.invoker"
  member   = each.value
}

# ---------------------------------------------------------------------------------------------------------------------
# Identity-Aware Proxy, directly on the service (no load balancer, no OAuth brand/client resources: those APIs
# were shut down; IAP uses a Google-managed OAuth client)
# ---------------------------------------------------------------------------------------------------------------------

# IAP authenticates to Cloud Run's IAM check as its service agent.
resource "google_cloud_run_v2_service_iam_member" "iap_agent" {
  count = var.iap_enabled ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.server.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"
}

resource "google_iap_web_cloud_run_service_iam_member" "accessors" {
  for_each = var.iap_enabled ? toset(var.iap_members) : toset([])

  project                = var.project_id
  location               = var.region
  cloud_run_service_name = google_cloud_run_v2_service.server.name
  role                   = "roles/iap.httpsResourceAccessor"
  member                 = each.value
}

# ---------------------------------------------------------------------------------------------------------------------
# Schema migrations: a Cloud Run job with the same image, identity, secret and Cloud SQL connection
# ---------------------------------------------------------------------------------------------------------------------

resource "google_cloud_run_v2_job" "migrate" {
  project             = var.project_id
  name                = local.job_name
  location            = var.region
  launch_stage        = var.launch_stage
  deletion_protection = var.deletion_protection
  labels              = local.labels

  template {
    task_count  = 1
    parallelism = 1
    labels      = local.labels

    template {
      service_account       = google_service_account.server.email
      timeout               = "900s"
      max_retries           = 1
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = local.network_id
          subnetwork = local.subnetwork_id
        }
      }

      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [google_sql_database_instance.main.connection_name]
        }
      }

      containers {
        name  = "migrate"
        image = local.image
        # The image's ENTRYPOINT ["tracklight"] with `db upgrade`, no shell: with no URI argument it reads
        # TRACKLIGHT_BACKEND_STORE_URI and TRACKLIGHT_DB_PASSWORD like the server. Safe to run twice or concurrently.
        args = ["db", "upgrade"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        dynamic "env" {
          for_each = local.db_env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.secret_env
          content {
            name = env.key
            value_source {
              secret_key_ref {
                secret  = env.value.secret
                version = env.value.version
              }
            }
          }
        }

        volume_mounts {
          name       = "cloudsql"
          mount_path = local.cloudsql_mount
        }
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.server_db_password,
    google_project_iam_member.server_cloudsql_client,
    google_sql_user.tracklight,
    google_sql_database.tracklight,
  ]
}

# Run the job before the service rolls out a new image or database secret: the server refuses to start on an
# out-of-date schema, so migrations must come first. Needs gcloud where terraform runs; with
# run_migrations_on_apply = false, run output.migration_command yourself before applying a new image.
resource "terraform_data" "migrate" {
  count = var.run_migrations_on_apply ? 1 : 0

  triggers_replace = {
    image      = local.image
    secret     = google_secret_manager_secret_version.db_password.id
    generation = google_cloud_run_v2_job.migrate.generation
  }

  provisioner "local-exec" {
    command = local.migration_command
  }
}
