locals {
  # MySQL identifiers take underscores, not hyphens.
  db_name = replace(var.name, "-", "_")

  bucket = var.bucket_suffix == "" ? "${var.name}-artifacts" : "${var.name}-artifacts-${var.bucket_suffix}"

  aws = {
    ecr_repository      = var.name
    cluster             = var.name
    service             = var.name
    task_family         = var.name
    migrate_task_family = "${var.name}-migrate"
    alb                 = var.name            # <= 32 characters
    target_group        = "${var.name}-tg"    # <= 32 characters
    db_identifier       = "${var.name}-db"    # <= 63 characters
    db_parameter_group  = "${var.name}-mysql" # + "80" / "84"
    db_subnet_group     = "${var.name}-db"
    log_group           = "/ecs/${var.name}"
    task_role           = "${var.name}-task"
    execution_role      = "${var.name}-execution"
    kms_alias           = "alias/${var.name}"
    admin_secret        = "${var.name}-admin-password"
  }

  gcp = {
    artifact_registry  = var.name
    cloud_run_service  = var.name
    migrate_job        = "${var.name}-migrate"
    sql_instance       = "${var.name}-db"
    service_account_id = "${var.name}-run" # 6-30 characters
    db_password_secret = "${var.name}-db-password"
    backend_uri_secret = "${var.name}-backend-store-uri"
    admin_secret       = "${var.name}-admin-password"
  }

  labels = merge(var.labels, {
    app          = "tracklight"
    deployment   = var.name
    "managed-by" = "terraform"
  })
}
