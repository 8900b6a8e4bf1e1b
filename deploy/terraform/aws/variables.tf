# ---------------------------------------------------------------------------------------------------
# Naming and image
# ---------------------------------------------------------------------------------------------------

variable "name" {
  description = "Deployment name, the prefix of every resource (3-22 characters: lowercase letters, digits, single hyphens; starts with a letter). Also validated by ../modules/naming."
  type        = string
  default     = "tracklight"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-22 characters of lowercase letters, digits and single hyphens, start with a letter and end with a letter or digit."
  }
}

variable "image_tag" {
  description = "Tag of the image in this module's ECR repository to run (e.g. \"0.1.0\" or a git SHA). The repository is IMMUTABLE, so \"latest\" is rejected."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && lower(var.image_tag) != "latest"
    error_message = "image_tag must be a valid, pinned tag (letters, digits, \"_\", \".\", \"-\"; at most 128 characters) and not \"latest\"."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of app/deployment/managed-by)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC to deploy into."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two, in different AZs) for the tasks and the database. They need a route to ECR, S3, Secrets Manager and CloudWatch Logs: a NAT gateway or VPC endpoints."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "private_subnet_ids must hold at least two subnet ids (subnet-...) in different availability zones."
  }
}

variable "alb_subnet_ids" {
  description = "Subnets for the load balancer (at least two): public subnets for an internet-facing ALB, private ones with alb_internal = true."
  type        = list(string)

  validation {
    condition     = length(var.alb_subnet_ids) >= 2 && alltrue([for s in var.alb_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "alb_subnet_ids must hold at least two subnet ids (subnet-...) in different availability zones."
  }
}

variable "alb_internal" {
  description = "Make the load balancer internal (reachable only from the VPC, a VPN or peered networks)."
  type        = bool
  default     = false
}

variable "allowed_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on 443 (and 80, which only redirects). Narrow this to your office/VPN ranges unless OIDC authentication is on."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.allowed_cidr_blocks) > 0 && alltrue([for c in var.allowed_cidr_blocks : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "allowed_cidr_blocks must be a non-empty list of IPv4 CIDR blocks such as 203.0.113.0/24."
  }
}

# ---------------------------------------------------------------------------------------------------
# Load balancer, TLS, authentication
# ---------------------------------------------------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (in the same region), covering domain_name."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)."
  }
}

variable "domain_name" {
  description = "Public host name of the server (e.g. tracking.example.com). It makes the tracking URI, the allowed Host header and, with route53_zone_id, an alias record. Null: the ALB's DNS name (the certificate will not match it)."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as tracking.example.com."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone to create an alias record for domain_name in. Null: manage DNS yourself (point domain_name at the alb_dns_name output)."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^Z[0-9A-Z]{4,32}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone id such as Z0123456789ABCDEFGHIJ."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener. Only TLS 1.3 (+1.2) policies are accepted."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-")
    error_message = "ssl_policy must be a TLS 1.3 policy (ELBSecurityPolicy-TLS13-...)."
  }
}

variable "alb_deletion_protection" {
  description = "Deletion protection on the load balancer."
  type        = bool
  default     = true
}

variable "alb_idle_timeout" {
  description = "Seconds the ALB keeps an idle connection. Artifact uploads and downloads go through the server, so keep this generous."
  type        = number
  default     = 300

  validation {
    condition     = var.alb_idle_timeout >= 60 && var.alb_idle_timeout <= 4000
    error_message = "alb_idle_timeout must be between 60 and 4000 seconds."
  }
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket for ALB access logs (its policy must allow the ELB log delivery). Null: no access logs."
  type        = string
  default     = null
}

variable "alb_access_logs_prefix" {
  description = "Key prefix for ALB access logs."
  type        = string
  default     = "alb"
}

variable "auth_enabled" {
  description = "Tracklight's own authentication (TRACKLIGHT_AUTH): every route but /health, /ready and server-info needs a password or a personal access token. The first admin's password is generated into Secrets Manager (admin_password_secret_arn). Turn it off only behind another gate (internal ALB, VPN, OIDC for browsers only). With oidc set it also takes the ALB's verified user (proxy_identity.tf)."
  type        = bool
  default     = true
}

variable "admin_username" {
  description = "Username of the first admin (TRACKLIGHT_ADMIN_USERNAME), created with the generated password on the first start."
  type        = string
  default     = "admin"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", var.admin_username))
    error_message = "admin_username must be 1-64 characters: letters, digits, '.', '_', '@' or '-', starting with a letter or digit."
  }
}

variable "oidc" {
  description = <<-EOT
    Optional OIDC authentication on the HTTPS listener (the ALB `authenticate-oidc` action), for the web UI.
    With auth_enabled, Tracklight signs people in as the user the ALB's signed x-amzn-oidc-data header names
    (its `user_claim`, default email), creating them on their first request (proxy_identity.tf).
    Note: SDK clients (mlflow) cannot follow the browser login; with this on, they need a path that bypasses the
    ALB (an internal ALB / VPN), where they use a Tracklight token.
  EOT
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    scope                  = optional(string, "openid email")
    session_timeout        = optional(number, 28800)
    user_claim             = optional(string, "email")
  })
  default = null

  validation {
    condition     = var.oidc == null || alltrue([for u in try([var.oidc.issuer, var.oidc.authorization_endpoint, var.oidc.token_endpoint, var.oidc.user_info_endpoint], []) : startswith(u, "https://")])
    error_message = "oidc issuer and endpoints must be https:// URLs."
  }

  validation {
    condition     = var.oidc == null || can(regex("^[A-Za-z0-9_:.-]{1,64}$", try(var.oidc.user_claim, "")))
    error_message = "oidc.user_claim must be a claim name such as email or preferred_username."
  }
}

variable "oidc_client_secret" {
  description = "OIDC client secret for the authenticate-oidc action (required when oidc is set). It is stored in the Terraform state like every ALB attribute: keep the state encrypted."
  type        = string
  default     = null
  sensitive   = true
}

# ---------------------------------------------------------------------------------------------------
# Service
# ---------------------------------------------------------------------------------------------------

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Fargate task memory (MiB), between 2x and 8x cpu."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && floor(var.memory) == var.memory
    error_message = "memory must be a whole number of MiB between 512 and 122880."
  }
}

variable "workers" {
  description = "Server worker processes per task (TRACKLIGHT_WORKERS)."
  type        = number
  default     = 2

  validation {
    condition     = var.workers >= 1 && var.workers <= 32 && floor(var.workers) == var.workers
    error_message = "workers must be a whole number between 1 and 32."
  }
}

variable "desired_count" {
  description = "Tasks to start with (autoscaling moves it between min_count and max_count afterwards)."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1 && var.desired_count <= 100 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number between 1 and 100."
  }
}

variable "min_count" {
  description = "Autoscaling minimum number of tasks (at least 1: the UI and the SDK need a running server)."
  type        = number
  default     = 2

  validation {
    condition     = var.min_count >= 1 && var.min_count <= 100 && floor(var.min_count) == var.min_count
    error_message = "min_count must be a whole number between 1 and 100."
  }
}

variable "max_count" {
  description = "Autoscaling maximum number of tasks."
  type        = number
  default     = 6

  validation {
    condition     = var.max_count >= 1 && var.max_count <= 100 && floor(var.max_count) == var.max_count
    error_message = "max_count must be a whole number between 1 and 100."
  }
}

variable "autoscaling_cpu_target" {
  description = "Target average CPU utilisation (%) for target-tracking autoscaling."
  type        = number
  default     = 60

  validation {
    condition     = var.autoscaling_cpu_target >= 10 && var.autoscaling_cpu_target <= 90
    error_message = "autoscaling_cpu_target must be between 10 and 90 percent."
  }
}

variable "autoscaling_requests_per_target" {
  description = "Target ALB requests per task per minute for a second target-tracking policy. 0 turns it off."
  type        = number
  default     = 0

  validation {
    condition     = var.autoscaling_requests_per_target >= 0 && floor(var.autoscaling_requests_per_target) == var.autoscaling_requests_per_target
    error_message = "autoscaling_requests_per_target must be a whole number >= 0."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the server, migration and database logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "extra_environment" {
  description = "Extra non-secret environment variables for the server (e.g. TRACKLIGHT_CORS_ALLOWED_ORIGINS). Secret values go in extra_secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !can(regex("(?i)(password|passwd|secret|token|credential|private|api_?key|access_?key|store_uri)", k))])
    error_message = "extra_environment must not carry secrets (names with PASSWORD, SECRET, TOKEN, CREDENTIAL, KEY, ...): put them in extra_secrets as Secrets Manager ARNs."
  }
}

variable "extra_secrets" {
  description = "Extra secret environment variables: name => Secrets Manager secret ARN (optionally with :json-key:: suffix). The execution role may read exactly these."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.extra_secrets) : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", v))])
    error_message = "extra_secrets values must be Secrets Manager secret ARNs."
  }
}

# ---------------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------------

variable "db_engine_version" {
  description = "RDS MySQL version: a major (\"8.4\", \"8.0\") or a full version (\"8.4.6\"). 8.4 is the LTS release; RDS ended standard support for 8.0 on 2026-07-31."
  type        = string
  default     = "8.4"

  validation {
    condition     = can(regex("^8\\.(0|4)(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be MySQL 8.0 or 8.4 (e.g. \"8.4\" or \"8.4.6\")."
  }
}

variable "db_instance_class" {
  description = "RDS instance class (e.g. db.t4g.small, db.m7g.large)."
  type        = string
  default     = "db.t4g.small"

  validation {
    condition     = can(regex("^db\\.(t3|t4g|m5|m5d|m6g|m6gd|m6i|m6id|m7g|m7gd|m7i|m8g|r5|r6g|r6gd|r6i|r7g|r7i|r8g|x2g)\\.(micro|small|medium|large|[0-9]*xlarge)$", var.db_instance_class))
    error_message = "db_instance_class must be an RDS MySQL instance class such as db.t4g.small or db.m7g.large."
  }
}

variable "db_allocated_storage" {
  description = "Initial storage (GiB)."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 65536
    error_message = "db_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB); must be >= db_allocated_storage."
  type        = number
  default     = 200

  validation {
    condition     = var.db_max_allocated_storage >= 20 && var.db_max_allocated_storage <= 65536
    error_message = "db_max_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_multi_az" {
  description = "Multi-AZ standby for the database."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backup retention (days), at least 7."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager; it never appears in Terraform."
  type        = string
  default     = "tracklight"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,15}$", var.db_username)) && !contains(["admin", "root", "rdsadmin"], lower(var.db_username))
    error_message = "db_username must be 1-16 letters, digits or underscores, start with a letter, and not be a reserved name."
  }
}

variable "db_iam_authentication" {
  description = "Enable IAM database authentication on the instance (and grant the task role rds-db:connect as db_iam_username)."
  type        = bool
  default     = false
}

variable "db_iam_username" {
  description = "Database user the task role may connect as with IAM authentication (create it with AWSAuthenticationPlugin)."
  type        = string
  default     = "tracklight_iam"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,31}$", var.db_iam_username))
    error_message = "db_iam_username must be 1-32 letters, digits or underscores and start with a letter."
  }
}

variable "db_tls_ca_file" {
  description = "Path, inside the image, of a CA bundle holding the RDS root certificates (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem). Set it to verify the database certificate; null: TLS is still required by the server but the certificate is not verified."
  type        = string
  default     = null

  validation {
    condition     = var.db_tls_ca_file == null || can(regex("^/[A-Za-z0-9_./-]+$", var.db_tls_ca_file))
    error_message = "db_tls_ca_file must be an absolute path."
  }
}

variable "db_performance_insights" {
  description = "Performance Insights (KMS-encrypted with the module's key). Not available on the smallest instance classes."
  type        = bool
  default     = false
}

variable "db_monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (0 turns it off)."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.db_monitoring_interval)
    error_message = "db_monitoring_interval must be 0, 1, 5, 10, 15, 30 or 60."
  }
}

# ---------------------------------------------------------------------------------------------------
# Artifacts
# ---------------------------------------------------------------------------------------------------

variable "artifacts_prefix" {
  description = "Key prefix for artifacts in the bucket (TRACKLIGHT_ARTIFACTS_DESTINATION = s3://<bucket>/<prefix>)."
  type        = string
  default     = "artifacts"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$", var.artifacts_prefix))
    error_message = "artifacts_prefix must be a relative key prefix without leading or trailing slashes."
  }
}

variable "bucket_force_destroy" {
  description = "Allow terraform destroy to delete a non-empty artifact bucket. Keep false in production."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten/deleted artifact versions are removed."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}
