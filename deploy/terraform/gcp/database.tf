# Cloud SQL for MySQL 8: private IP only, encrypted connections only, daily backups with binary logs for
# point-in-time recovery, deletion protection on both sides (Terraform and the Cloud SQL API).

resource "google_sql_database_instance" "main" {
  project             = var.project_id
  name                = local.sql_instance_name
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    edition                     = var.database_edition
    tier                        = var.database_tier
    availability_type           = var.database_availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.database_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = local.labels

    ip_configuration {
      # No public IP: the instance is reachable only inside the peered VPC.
      ipv4_enabled    = false
      private_network = local.network_id
      # Unencrypted connections are refused (and, by default, so are connections without a client certificate
      # issued for this instance). The Cloud SQL connection Cloud Run mounts (the Cloud SQL Auth Proxy) always
      # speaks mutual TLS with ephemeral certificates, so the server needs no certificates of its own.
      ssl_mode = var.database_ssl_mode
    }

    backup_configuration {
      enabled                        = true
      binary_log_enabled             = true # point-in-time recovery on MySQL
      start_time                     = var.backup_start_time
      transaction_log_retention_days = var.point_in_time_recovery_days

      backup_retention_settings {
        retained_backups = var.backup_retained_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7 # Sunday
      hour         = 4 # UTC
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # Hardening flags (CIS benchmark for Cloud SQL for MySQL).
    database_flags {
      name  = "local_infile"
      value = "off"
    }
    database_flags {
      name  = "skip_show_database"
      value = "on"
    }
  }

  depends_on = [google_service_networking_connection.private_service_access]
}

resource "google_sql_database" "tracklight" {
  project   = var.project_id
  instance  = google_sql_database_instance.main.name
  name      = local.database_name
  charset   = "utf8mb4"
  collation = "utf8mb4_bin"
}

# The server URL-encodes the password into the URI itself; the URL-safe alphabet still keeps it easy to paste
# into a DBA's client or a shell.
resource "random_password" "db" {
  length           = 32
  special          = true
  override_special = "-_.~"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "google_sql_user" "tracklight" {
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = var.database_user
  # Connections arrive through the Cloud SQL Auth Proxy, which MySQL sees as coming from cloudsqlproxy~<ip>.
  host     = "cloudsqlproxy~%"
  password = random_password.db.result
}

locals {
  # The database URI holds no secret: user, database and the unix socket of the Cloud Run Cloud SQL connection.
  # The containers get it as plain TRACKLIGHT_BACKEND_STORE_URI and the password separately, from Secret Manager,
  # as TRACKLIGHT_DB_PASSWORD; the server (and `tracklight db upgrade`) puts it into the URI, URL-encoded.
  backend_store_uri = format(
    "mysql+pymysql://%s@/%s?unix_socket=%s/%s",
    google_sql_user.tracklight.name,
    google_sql_database.tracklight.name,
    local.cloudsql_mount,
    google_sql_database_instance.main.connection_name,
  )
}

# Only the password is secret.
resource "google_secret_manager_secret" "db_password" {
  project   = var.project_id
  secret_id = local.db_password_secret_id
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "db_password" {
  secret      = google_secret_manager_secret.db_password.id
  secret_data = random_password.db.result
}
