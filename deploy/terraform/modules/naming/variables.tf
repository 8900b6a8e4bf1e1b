variable "name" {
  description = "Deployment name, the prefix of every resource name (e.g. \"tracklight\" or \"tracklight-prod\"). 3-22 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name))
    error_message = "name must be 3-22 characters of lowercase letters, digits and hyphens, start with a letter and end with a letter or digit."
  }

  validation {
    condition     = !strcontains(var.name, "--")
    error_message = "name must not contain \"--\" (not allowed in GCP service account ids and Cloud SQL instance names)."
  }

  validation {
    condition     = !startswith(var.name, "goog") && !startswith(var.name, "aws")
    error_message = "name must not start with \"goog\" or \"aws\" (reserved prefixes for bucket names)."
  }
}

variable "bucket_suffix" {
  description = "Appended to the artifact bucket name for global uniqueness (e.g. the AWS account id or the GCP project id). Empty for none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9-]{0,28}[a-z0-9])?$", var.bucket_suffix))
    error_message = "bucket_suffix must be empty or 2-30 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "image_tag" {
  description = "Container image tag to deploy. An immutable, versioned tag (e.g. \"0.1.0\" or a git SHA); \"latest\" is rejected because a moving tag makes deployments unrepeatable and cannot be pushed twice to an IMMUTABLE registry."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid tag: 1-128 characters of letters, digits, \"_\", \".\" and \"-\", not starting with \".\" or \"-\"."
  }

  validation {
    condition     = lower(var.image_tag) != "latest"
    error_message = "image_tag must not be \"latest\": pin a version or a git SHA."
  }
}

variable "labels" {
  description = "Extra tags/labels merged into the common set. Keys and values must be valid GCP labels too (lowercase letters, digits, \"_\" and \"-\"; keys start with a letter; at most 63 characters)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "labels keys must match ^[a-z][a-z0-9_-]{0,62}$ and values ^[a-z0-9_-]{0,63}$ (GCP label rules, also valid AWS tags)."
  }
}
