output "tracking_uri" {
  description = "Set this as MLFLOW_TRACKING_URI on clients."
  value       = local.tracking_uri
}

output "ecr_repository_url" {
  description = "Push the image here (docker tag ... <url>:<image_tag>)."
  value       = aws_ecr_repository.server.repository_url
}

output "image" {
  description = "The image the service runs."
  value       = local.image
}

output "migrate_command" {
  description = "Runs `tracklight db upgrade` once as a Fargate task (same image, secrets and network as the service). Run it after the first apply and before/after each upgrade of image_tag."
  value = join(" ", [
    "aws ecs run-task",
    "--region ${local.region}",
    "--cluster ${aws_ecs_cluster.this.name}",
    "--task-definition ${aws_ecs_task_definition.migrate.family}",
    "--launch-type FARGATE",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.service.id}],assignPublicIp=DISABLED}'",
    "--query 'tasks[0].taskArn' --output text",
  ])
}

output "token_command" {
  description = "Runs `tracklight tokens create <admin_username>` once as a Fargate task (the migration task definition with another command). The token is printed once, to the task's log stream under the `migrate` prefix: read it there, then use it as MLFLOW_TRACKING_TOKEN. Other users: replace the name (create them first with `tracklight users create`)."
  value = join(" ", [
    "aws ecs run-task",
    "--region ${local.region}",
    "--cluster ${aws_ecs_cluster.this.name}",
    "--task-definition ${aws_ecs_task_definition.migrate.family}",
    "--launch-type FARGATE",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.service.id}],assignPublicIp=DISABLED}'",
    "--overrides '${jsonencode({ containerOverrides = [{ name = local.container_name, command = ["tokens", "create", var.admin_username, "--name", "laptop", "--expires-days", "90"] }] })}'",
    "--query 'tasks[0].taskArn' --output text",
  ])
}

output "admin_password_secret_arn" {
  description = "Secrets Manager secret holding the first admin's generated password (null with auth_enabled = false). Read it with `aws secretsmanager get-secret-value --secret-id <arn> --query SecretString --output text`."
  value       = one(aws_secretsmanager_secret.admin_password[*].arn)
}

output "redeploy_command" {
  description = "Restarts the service's tasks (e.g. after the database password rotated, or after the migration)."
  value       = "aws ecs update-service --region ${local.region} --cluster ${aws_ecs_cluster.this.name} --service ${aws_ecs_service.server.name} --force-new-deployment"
}

output "bucket_name" {
  description = "Artifact bucket."
  value       = aws_s3_bucket.artifacts.bucket
}

output "backend_store_uri" {
  description = "TRACKLIGHT_BACKEND_STORE_URI given to the server and the migration task. It holds no password: ECS injects TRACKLIGHT_DB_USER and TRACKLIGHT_DB_PASSWORD from db_master_secret_arn and the server fills them in."
  value       = local.backend_store_uri
}

output "artifacts_destination" {
  description = "TRACKLIGHT_ARTIFACTS_DESTINATION given to the server."
  value       = local.artifacts_destination
}

output "alb_dns_name" {
  description = "Point domain_name at this (CNAME or alias) when you manage DNS yourself."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB, for Route 53 alias records."
  value       = aws_lb.this.zone_id
}

output "alb_arn" {
  description = "ALB ARN, e.g. for a WAF web ACL association."
  value       = aws_lb.this.arn
}

output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service."
  value       = aws_ecs_service.server.name
}

output "log_group_name" {
  description = "CloudWatch log group of the server and the migration task."
  value       = aws_cloudwatch_log_group.server.name
}

output "db_endpoint" {
  description = "host:port of the metadata database (private)."
  value       = aws_db_instance.metadata.endpoint
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret (managed and rotated by RDS) holding the database username and password, passed to the containers as the ECS secrets TRACKLIGHT_DB_USER and TRACKLIGHT_DB_PASSWORD."
  value       = local.db_secret_arn
}

output "kms_key_arn" {
  description = "The module's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "service_security_group_id" {
  description = "Security group of the tasks (the database accepts MySQL from it only)."
  value       = aws_security_group.service.id
}

output "task_role_arn" {
  description = "Role the server runs as (artifact bucket access only)."
  value       = aws_iam_role.task.arn
}
