locals {
  db_major  = join(".", slice(split(".", var.db_engine_version), 0, 2))
  db_family = "mysql${local.db_major}"
}

resource "aws_db_subnet_group" "metadata" {
  name        = local.names.db_subnet_group
  description = "Tracklight metadata database: private subnets"
  subnet_ids  = var.private_subnet_ids
  tags        = local.tags
}

resource "aws_db_parameter_group" "metadata" {
  name        = "${local.names.db_parameter_group}${replace(local.db_major, ".", "")}"
  family      = local.db_family
  description = "Tracklight: TLS-only connections"

  parameter {
    name  = "require_secure_transport"
    value = "1"
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates the database log groups on first write; creating them first sets retention and the key.
resource "aws_cloudwatch_log_group" "db" {
  for_each          = toset(["error", "slowquery"])
  name              = "/aws/rds/instance/${local.names.db_identifier}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

resource "aws_db_instance" "metadata" {
  #checkov:skip=CKV_AWS_161:IAM database authentication is optional (db_iam_authentication); the server authenticates with the RDS-managed password over TLS.
  #checkov:skip=CKV_AWS_353:Performance Insights is optional (db_performance_insights) because the default small instance classes do not support it.
  #checkov:skip=CKV_AWS_354:Performance Insights, when enabled, uses the module's KMS key (see performance_insights_kms_key_id).
  identifier     = local.names.db_identifier
  engine         = "mysql"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_name                       = module.naming.db_name
  username                      = var.db_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.this.arn

  db_subnet_group_name   = aws_db_subnet_group.metadata.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.metadata.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  iam_database_authentication_enabled = var.db_iam_authentication

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.names.db_identifier}-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["error", "slowquery"]
  monitoring_interval             = var.db_monitoring_interval
  monitoring_role_arn             = var.db_monitoring_interval > 0 ? aws_iam_role.rds_monitoring[0].arn : null
  performance_insights_enabled    = var.db_performance_insights
  performance_insights_kms_key_id = var.db_performance_insights ? aws_kms_key.this.arn : null

  tags = local.tags

  depends_on = [aws_cloudwatch_log_group.db]

  lifecycle {
    precondition {
      condition     = var.db_max_allocated_storage >= var.db_allocated_storage
      error_message = "db_max_allocated_storage must be >= db_allocated_storage."
    }
  }
}
