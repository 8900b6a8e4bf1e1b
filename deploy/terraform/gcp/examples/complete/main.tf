# A complete Tracklight deployment on Google Cloud. Walkthrough: ../../README.md.
#
#   cp terraform.tfvars.example terraform.tfvars   # then edit it
#   terraform init
#   terraform apply -target=module.tracklight.google_artifact_registry_repository.images   # once: the repository
#   docker build -t "$(terraform output -raw image_repository)/tracklight:0.1.0" ../../../../..
#   docker push "$(terraform output -raw image_repository)/tracklight:0.1.0"
#   terraform apply

terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.31"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Keep the state in a bucket with versioning and restricted access: it holds the generated database
  # password (as every Terraform-managed password does).
  # backend "gcs" {
  #   bucket = "my-terraform-state"
  #   prefix = "tracklight"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "tracklight" {
  source = "../.."

  project_id = var.project_id
  region     = var.region
  name       = "tracklight"
  image_tag  = var.image_tag

  # Who may use the tracking server (Google identity tokens; see the README).
  invoker_members = var.invoker_members

  # Keep one instance warm for the UI; allow bursts from parallel training jobs.
  min_instance_count = 1
  max_instance_count = 4
  cpu                = "1"
  memory             = "1Gi"

  # Optional: Identity-Aware Proxy on the service for browser sign-in.
  iap_enabled = var.iap_enabled
  iap_members = var.iap_members

  labels = {
    team = "ml-platform"
  }
}
