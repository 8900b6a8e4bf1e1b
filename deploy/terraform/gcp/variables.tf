# ---------------------------------------------------------------------------------------------------------------------
# Where, and what to call it
# ---------------------------------------------------------------------------------------------------------------------

variable "project_id" {
  description = "Google Cloud project that holds everything this module creates."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 characters: lowercase letters, digits, hyphens), not a project number or name."
  }
}

variable "region" {
  description = "Region for Cloud Run, Cloud SQL, Artifact Registry and the subnet, e.g. europe-west1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1 (not a zone)."
  }
}

variable "name" {
  description = "Deployment name, the prefix of every resource name (service, job, instance, repository, service account, secret, bucket). Also checked by ../modules/naming."
  type        = string
  default     = "tracklight"

  validation {
    # The service account ID "<name>-run" must fit in 30 characters, and Cloud SQL/Cloud Run names must start with a letter.
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-22 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "labels keys must start with a lowercase letter; keys and values may hold lowercase letters, digits, '_' and '-' (at most 63)."
  }
}

variable "enable_apis" {
  description = "Enable the Google APIs the module needs (left enabled on destroy). Turn off when a platform team manages APIs."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the Cloud SQL instance, the Cloud Run service and the migration job from terraform destroy (and the instance from deletion in the console)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------------------------
# Image
# ---------------------------------------------------------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of the image pushed to the module's Artifact Registry repository, e.g. a release (0.4.0) or a git SHA. Tags are immutable, so 'latest' is refused."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && lower(var.image_tag) != "latest"
    error_message = "image_tag must be a Docker tag (letters, digits, '_', '.', '-'; at most 128) other than 'latest': the repository's tags are immutable."
  }
}

variable "image" {
  description = "Full image reference to run instead of <repository>/tracklight:<image_tag>, e.g. the same image pinned by digest (…@sha256:…)."
  type        = string
  default     = null

  validation {
    condition     = var.image == null || can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^ ]+(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$", coalesce(var.image, "x")))
    error_message = "image must be a full reference with a registry host and a tag or digest, e.g. europe-west1-docker.pkg.dev/p/tracklight/tracklight@sha256:…"
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Cloud Run service
# ---------------------------------------------------------------------------------------------------------------------

variable "container_port" {
  description = "Port the server listens on inside the container; passed to it as TRACKLIGHT_PORT (the server does not read Cloud Run's PORT)."
  type        = number
  default     = 5000

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be an unprivileged port (1024-65535): the image runs as a non-root user."
  }
}

variable "http2_end_to_end" {
  description = "Name the container port h2c and run the server with TRACKLIGHT_H2C=true: Cloud Run then speaks cleartext HTTP/2 to it, with no 32 MiB limit on request bodies (artifact uploads through the server). false: HTTP/1 and that limit."
  type        = bool
  default     = true
}

variable "cpu" {
  description = "CPU limit of each instance (Cloud Run syntax: \"1\", \"2\", \"4\", \"8\", or millicores such as \"1000m\")."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^([1-9][0-9]*|[0-9]+m)$", var.cpu))
    error_message = "cpu must be a whole number of CPUs (\"1\", \"2\", …) or millicores (\"1000m\")."
  }
}

variable "memory" {
  description = "Memory limit of each instance, e.g. \"1Gi\" or \"512Mi\"."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory must be a quantity in Mi or Gi, e.g. \"512Mi\" or \"2Gi\"."
  }
}

variable "workers" {
  description = "Server worker processes per instance (TRACKLIGHT_WORKERS). One per CPU is a good start."
  type        = number
  default     = 1

  validation {
    condition     = var.workers >= 1 && var.workers <= 16 && floor(var.workers) == var.workers
    error_message = "workers must be a whole number from 1 to 16."
  }
}

variable "min_instance_count" {
  description = "Instances kept warm. 0 lets the service scale to zero (a cold start on the first request); 1 keeps the UI responsive."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instance_count >= 0 && var.min_instance_count <= 100 && floor(var.min_instance_count) == var.min_instance_count
    error_message = "min_instance_count must be a whole number from 0 to 100."
  }
}

variable "max_instance_count" {
  description = "Upper bound on instances. Each holds up to workers x TRACKLIGHT_DB_POOL_SIZE x 2 database connections: keep the product under the instance's max_connections."
  type        = number
  default     = 4

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 100 && floor(var.max_instance_count) == var.max_instance_count
    error_message = "max_instance_count must be a whole number from 1 to 100."
  }
}

variable "max_request_concurrency" {
  description = "Requests one instance takes at once before Cloud Run starts another."
  type        = number
  default     = 80

  validation {
    condition     = var.max_request_concurrency >= 1 && var.max_request_concurrency <= 1000
    error_message = "max_request_concurrency must be between 1 and 1000."
  }
}

variable "request_timeout_seconds" {
  description = "How long one request may take. Proxied artifact transfers are long requests, hence the generous default (Cloud Run's maximum)."
  type        = number
  default     = 3600

  validation {
    condition     = var.request_timeout_seconds >= 60 && var.request_timeout_seconds <= 3600
    error_message = "request_timeout_seconds must be between 60 and 3600 (Cloud Run's maximum)."
  }
}

variable "ingress" {
  description = "Who can reach the service over the network: INGRESS_TRAFFIC_ALL (the run.app URL; still behind IAM or IAP), INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "auth_enabled" {
  description = "Tracklight's own authentication (TRACKLIGHT_AUTH): every route but /health, /ready and server-info needs a password or a personal access token. The first admin's password is generated into Secret Manager (admin_password_secret)."
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

variable "invoker_iam_check" {
  description = "Cloud Run's IAM check (roles/run.invoker with a Google identity token) in front of the service. Default (null): off when auth_enabled, because that check takes the Authorization header the mlflow client sends its Tracklight token in; on otherwise. Both off is refused."
  type        = bool
  default     = null
}

variable "invoker_members" {
  description = "Principals allowed to call the service with a Google identity token (roles/run.invoker) when invoker_iam_check is on, e.g. [\"group:ml-team@example.com\", \"serviceAccount:trainer@p.iam.gserviceaccount.com\"]. Never public: allUsers is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):[^*]+$", m))])
    error_message = "invoker_members must be IAM principals such as user:…, group:…, serviceAccount:…, domain:…; allUsers, allAuthenticatedUsers and wildcards are refused."
  }
}

variable "extra_env" {
  description = "More plain environment variables for the server, e.g. { TRACKLIGHT_DB_POOL_SIZE = \"5\" }. Secrets do not belong here: the database password always comes from Secret Manager, and the module sets the database URI."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue(concat(
      [for k in keys(var.extra_env) : can(regex("^[A-Z_][A-Z0-9_]*$", k))],
      [for k in keys(var.extra_env) : !can(regex("(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|BACKEND_STORE_URI)", k))],
      [for k in keys(var.extra_env) : !contains(["TRACKLIGHT_HOST", "TRACKLIGHT_PORT", "TRACKLIGHT_ARTIFACTS_DESTINATION", "TRACKLIGHT_WORKERS", "TRACKLIGHT_DB_USER", "TRACKLIGHT_AUTH", "TRACKLIGHT_ADMIN_USERNAME", "TRACKLIGHT_AUTH_PROXY", "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE", "PORT"], k)],
    ))
    error_message = "extra_env keys must be UPPER_SNAKE_CASE, must not look like secrets (PASSWORD, SECRET, TOKEN, CREDENTIAL, PRIVATE_KEY, BACKEND_STORE_URI) and must not override the variables the module sets."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Identity-Aware Proxy (optional)
# ---------------------------------------------------------------------------------------------------------------------

variable "iap_enabled" {
  description = "Put Identity-Aware Proxy directly on the Cloud Run service (no load balancer, Google-managed OAuth client). Browser users sign in with Google and, with auth_enabled, Tracklight takes the user IAP's signed header names (created on first sign-in; proxy_identity.tf); see the README for SDK clients."
  type        = bool
  default     = false
}

variable "iap_members" {
  description = "Principals granted roles/iap.httpsResourceAccessor on the service when iap_enabled, e.g. [\"group:ml-team@example.com\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.iap_members : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):[^*]+$", m))])
    error_message = "iap_members must be IAM principals such as user:…, group:…, serviceAccount:…, domain:…; allUsers, allAuthenticatedUsers and wildcards are refused."
  }
}

variable "launch_stage" {
  description = "Cloud Run launch stage of the service. Set BETA if your organization still sees IAP on Cloud Run as a pre-GA feature."
  type        = string
  default     = "GA"

  validation {
    condition     = contains(["GA", "BETA"], var.launch_stage)
    error_message = "launch_stage must be GA or BETA."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------------------------------------------------

variable "run_migrations_on_apply" {
  description = "Run the migration job (gcloud run jobs execute --wait, on the machine running terraform) whenever the image or the database secret changes, before the service rolls out. Needs gcloud; turn off to run the job yourself."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------------------------
# Network (private IP for Cloud SQL)
# ---------------------------------------------------------------------------------------------------------------------

variable "network_id" {
  description = "Existing VPC network (projects/P/global/networks/N) to use. Null creates a dedicated VPC."
  type        = string
  default     = null

  validation {
    condition     = var.network_id == null || can(regex("^projects/[^/]+/global/networks/[^/]+$", coalesce(var.network_id, "x")))
    error_message = "network_id must look like projects/PROJECT/global/networks/NAME."
  }
}

variable "subnetwork_id" {
  description = "Existing subnet (projects/P/regions/R/subnetworks/S, in var.region and network_id) for Cloud Run's Direct VPC egress. Null creates one from subnet_cidr."
  type        = string
  default     = null

  validation {
    condition     = var.subnetwork_id == null || can(regex("^projects/[^/]+/regions/[^/]+/subnetworks/[^/]+$", coalesce(var.subnetwork_id, "x")))
    error_message = "subnetwork_id must look like projects/PROJECT/regions/REGION/subnetworks/NAME."
  }
}

variable "subnet_cidr" {
  description = "CIDR of the subnet created for Direct VPC egress (used when subnetwork_id is null). Cloud Run takes about two addresses per instance; /26 is the smallest allowed."
  type        = string
  default     = "10.8.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && tonumber(split("/", var.subnet_cidr)[1]) <= 26
    error_message = "subnet_cidr must be an IPv4 CIDR block of /26 or larger."
  }
}

variable "manage_private_service_access" {
  description = "Reserve an internal range and peer the network with Google's service producer network (private service access) so Cloud SQL gets a private IP. Turn off if the network already has private service access."
  type        = bool
  default     = true
}

variable "private_service_access_prefix_length" {
  description = "Size of the range reserved for private service access (Cloud SQL and other Google-managed services)."
  type        = number
  default     = 20

  validation {
    condition     = var.private_service_access_prefix_length >= 8 && var.private_service_access_prefix_length <= 24
    error_message = "private_service_access_prefix_length must be between 8 and 24."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Cloud SQL for MySQL
# ---------------------------------------------------------------------------------------------------------------------

variable "database_version" {
  description = "Cloud SQL MySQL 8 version."
  type        = string
  default     = "MYSQL_8_0"

  validation {
    condition     = can(regex("^MYSQL_8_[0-9](_[0-9]+)?$", var.database_version))
    error_message = "database_version must be a MySQL 8 version, e.g. MYSQL_8_0 or MYSQL_8_4."
  }
}

variable "database_edition" {
  description = "Cloud SQL edition. MySQL 8.4 instances default to ENTERPRISE_PLUS, which needs db-perf-optimized-* tiers."
  type        = string
  default     = "ENTERPRISE"

  validation {
    condition     = contains(["ENTERPRISE", "ENTERPRISE_PLUS"], var.database_edition)
    error_message = "database_edition must be ENTERPRISE or ENTERPRISE_PLUS."
  }
}

variable "database_ssl_mode" {
  description = "Which connections Cloud SQL accepts. TRUSTED_CLIENT_CERTIFICATE_REQUIRED admits only the Cloud SQL Auth Proxy and connectors (mutual TLS, IAM-authorized); ENCRYPTED_ONLY also admits plain TLS clients inside the VPC. Unencrypted connections are never allowed."
  type        = string
  default     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"

  validation {
    condition     = contains(["TRUSTED_CLIENT_CERTIFICATE_REQUIRED", "ENCRYPTED_ONLY"], var.database_ssl_mode)
    error_message = "database_ssl_mode must be TRUSTED_CLIENT_CERTIFICATE_REQUIRED or ENCRYPTED_ONLY (ALLOW_UNENCRYPTED_AND_ENCRYPTED is refused)."
  }
}

variable "database_tier" {
  description = "Cloud SQL machine tier, e.g. db-custom-1-3840 (1 vCPU, 3.75 GB) or db-g1-small for a trial."
  type        = string
  default     = "db-custom-1-3840"

  validation {
    condition     = can(regex("^db-[a-z0-9-]+$", var.database_tier))
    error_message = "database_tier must be a Cloud SQL tier such as db-custom-1-3840."
  }
}

variable "database_availability_type" {
  description = "REGIONAL keeps a standby in a second zone with automatic failover; ZONAL costs half."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.database_availability_type)
    error_message = "database_availability_type must be REGIONAL or ZONAL."
  }
}

variable "database_disk_size_gb" {
  description = "Initial disk size; it grows automatically."
  type        = number
  default     = 10

  validation {
    condition     = var.database_disk_size_gb >= 10
    error_message = "database_disk_size_gb must be at least 10."
  }
}

variable "backup_start_time" {
  description = "Daily backup window start (HH:MM, UTC)."
  type        = string
  default     = "03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_start_time))
    error_message = "backup_start_time must be HH:MM in 24-hour UTC."
  }
}

variable "backup_retained_count" {
  description = "Automated backups kept."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retained_count >= 1 && var.backup_retained_count <= 365
    error_message = "backup_retained_count must be between 1 and 365."
  }
}

variable "point_in_time_recovery_days" {
  description = "Days of binary logs kept for point-in-time recovery (1-7 on the Enterprise edition)."
  type        = number
  default     = 7

  validation {
    condition     = var.point_in_time_recovery_days >= 1 && var.point_in_time_recovery_days <= 35
    error_message = "point_in_time_recovery_days must be between 1 and 35 (at most 7 on the Enterprise edition)."
  }
}

variable "database_name" {
  description = "Name of the MySQL database. Null uses the deployment name with underscores for hyphens."
  type        = string
  default     = null

  validation {
    condition     = var.database_name == null || can(regex("^[a-z][a-z0-9_]{0,63}$", coalesce(var.database_name, "x")))
    error_message = "database_name must start with a lowercase letter and hold only lowercase letters, digits and underscores (at most 64)."
  }
}

variable "database_user" {
  description = "Name of the MySQL user the server connects as."
  type        = string
  default     = "tracklight"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.database_user)) && var.database_user != "root"
    error_message = "database_user must start with a lowercase letter, hold only lowercase letters, digits and underscores (at most 32), and not be root."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Artifacts bucket
# ---------------------------------------------------------------------------------------------------------------------

variable "artifacts_bucket_name" {
  description = "Name of the artifacts bucket. Null uses <name>-artifacts-<project_id>."
  type        = string
  default     = null

  validation {
    condition     = var.artifacts_bucket_name == null || can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", coalesce(var.artifacts_bucket_name, "x")))
    error_message = "artifacts_bucket_name must be 3-63 characters of lowercase letters, digits, '-' and '_' (no dots), starting and ending with a letter or digit."
  }
}

variable "artifacts_prefix" {
  description = "Folder inside the bucket that holds artifacts (TRACKLIGHT_ARTIFACTS_DESTINATION = gs://bucket/prefix). Empty uses the bucket root."
  type        = string
  default     = "artifacts"

  validation {
    condition     = var.artifacts_prefix == "" || can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.artifacts_prefix))
    error_message = "artifacts_prefix must be empty or a path without leading or trailing slashes, e.g. artifacts or ml/tracklight."
  }
}

variable "bucket_location" {
  description = "Bucket location. Null uses var.region (a single region next to Cloud Run)."
  type        = string
  default     = null
}

variable "upload_parts_retention_days" {
  description = "Age after which leftover parts of client-direct uploads (<prefix>/.tracklight-uploads/) are deleted. Completed and aborted uploads clean up after themselves; this catches crashed clients."
  type        = number
  default     = 7

  validation {
    condition     = var.upload_parts_retention_days >= 1 && var.upload_parts_retention_days <= 30
    error_message = "upload_parts_retention_days must be between 1 and 30."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted artifact version is kept (the bucket is versioned) before it is removed for good."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "force_destroy_bucket" {
  description = "Let terraform destroy delete a bucket that still holds artifacts. Keep false outside experiments."
  type        = bool
  default     = false
}

variable "allow_url_signing" {
  description = "Let the server's service account sign URLs as itself (roles/iam.serviceAccountTokenCreator on itself only), so clients download artifacts straight from the bucket through V4 signed URLs instead of through Cloud Run."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------------------------
# Artifact Registry
# ---------------------------------------------------------------------------------------------------------------------

variable "registry_keep_count" {
  description = "Most recent image versions the repository's cleanup policy always keeps."
  type        = number
  default     = 10

  validation {
    condition     = var.registry_keep_count >= 1
    error_message = "registry_keep_count must be at least 1."
  }
}

variable "registry_untagged_retention_days" {
  description = "Age after which untagged images (superseded layers and manifests) are deleted."
  type        = number
  default     = 14

  validation {
    condition     = var.registry_untagged_retention_days >= 1
    error_message = "registry_untagged_retention_days must be at least 1."
  }
}
