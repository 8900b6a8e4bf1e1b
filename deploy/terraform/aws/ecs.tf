resource "aws_ecs_cluster" "this" {
  name = local.names.cluster

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "server" {
  name              = local.names.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

locals {
  # Non-secret settings only. Every secret arrives through `secrets` (local.secrets).
  server_environment_fixed = [
    { name = "TRACKLIGHT_HOST", value = "0.0.0.0" },
    { name = "TRACKLIGHT_PORT", value = tostring(local.container_port) },
    { name = "TRACKLIGHT_WORKERS", value = tostring(var.workers) },
    { name = "TRACKLIGHT_ARTIFACTS_DESTINATION", value = local.artifacts_destination },
    { name = "TRACKLIGHT_ALLOWED_HOSTS", value = local.host },
    { name = "TRACKLIGHT_LOG_FORMAT", value = "json" },
    # Explicit either way: the image's own default is on.
    { name = "TRACKLIGHT_AUTH", value = tostring(var.auth_enabled) },
    { name = "TRACKLIGHT_ADMIN_USERNAME", value = var.admin_username },
    { name = "AWS_REGION", value = local.region },
  ]
  extra_environment  = [for k, v in var.extra_environment : { name = k, value = v }]
  server_environment = concat(local.server_environment_fixed, local.proxy_environment, local.db_environment, local.extra_environment)

  migrate_environment_fixed = [
    { name = "AWS_REGION", value = local.region },
  ]
  migrate_environment = concat(local.migrate_environment_fixed, local.db_environment)

  # The server and the one-off migration task run the same image, with its own entrypoint, and the same
  # secrets and database settings.
  server_container = {
    name                   = local.container_name
    image                  = local.image
    essential              = true
    command                = ["server"] # after the image's own ENTRYPOINT ["tracklight"]: no wrapper, no shell
    portMappings           = [{ name = "http", containerPort = local.container_port, protocol = "tcp" }]
    environment            = local.server_environment
    secrets                = local.secrets
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    stopTimeout            = 30 # in-flight requests finish on SIGTERM before the task stops
    # ECS ignores the image's HEALTHCHECK; this is the same probe with the image's own interpreter.
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.container_port}/health', timeout=3)"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 15
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.server.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "server"
      }
    }
  }

  migrate_container = {
    name                   = local.container_name
    image                  = local.image
    essential              = true
    command                = ["db", "upgrade"] # reads the URI and credentials from the same variables as the server
    environment            = local.migrate_environment
    secrets                = local.secrets
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.server.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "migrate"
      }
    }
  }
}

resource "aws_ecs_task_definition" "server" {
  family                   = local.names.task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.server_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.memory >= 2 * var.cpu && var.memory <= 8 * var.cpu
      error_message = "Fargate needs memory between 2x and 8x cpu (e.g. cpu 1024 with 2048-8192 MiB)."
    }
  }
}

resource "aws_ecs_task_definition" "migrate" {
  family                   = local.names.migrate_task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.migrate_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  tags = local.tags
}

resource "aws_ecs_service" "server" {
  name                               = local.names.service
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.server.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 30
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.service.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.server.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = local.tags

  # Autoscaling owns the task count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https, aws_iam_role_policy.execution, aws_iam_role_policy.task, aws_secretsmanager_secret_version.admin_password]
}

resource "aws_appautoscaling_target" "server" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.server.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_count
  max_capacity       = var.max_count

  lifecycle {
    precondition {
      condition     = var.min_count <= var.desired_count && var.desired_count <= var.max_count
      error_message = "Counts must satisfy min_count <= desired_count <= max_count."
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.server.service_namespace
  resource_id        = aws_appautoscaling_target.server.resource_id
  scalable_dimension = aws_appautoscaling_target.server.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  count              = var.autoscaling_requests_per_target > 0 ? 1 : 0
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.server.service_namespace
  resource_id        = aws_appautoscaling_target.server.resource_id
  scalable_dimension = aws_appautoscaling_target.server.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.server.arn_suffix}"
    }
  }
}
