terraform {
  # terraform_data (the migration step) needs 1.4; 1.6 is the oldest release this module is tested with.
  required_version = ">= 1.6"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.30 added iap_enabled on google_cloud_run_v2_service, 6.31 google_iap_web_cloud_run_service_iam_member.
      version = "~> 6.31"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}
