variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region for every regional resource."
  type        = string
  default     = "europe-west1"
}

variable "image_tag" {
  description = "Tag of the image pushed (or about to be pushed) to the module's Artifact Registry repository, e.g. 0.1.0 or a git SHA."
  type        = string
}

variable "invoker_members" {
  description = "Principals allowed to call the tracking server with a Google identity token when the IAM check is on (invoker_iam_check; by default Tracklight's own login is the gate), e.g. [\"group:ml-team@example.com\"]."
  type        = list(string)
  default     = []
}

variable "iap_enabled" {
  description = "Put Identity-Aware Proxy on the service."
  type        = bool
  default     = false
}

variable "iap_members" {
  description = "Principals allowed through IAP when iap_enabled."
  type        = list(string)
  default     = []
}
