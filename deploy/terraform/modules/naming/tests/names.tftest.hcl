# Offline: this module has no providers, so `terraform init && terraform test` needs no registry.

variables {
  name      = "tracklight"
  image_tag = "0.1.0"
}

run "derives_names" {
  command = plan

  assert {
    condition     = output.aws.alb == "tracklight" && output.aws.target_group == "tracklight-tg"
    error_message = "unexpected ALB / target group names"
  }

  assert {
    condition     = output.aws.db_identifier == "tracklight-db" && output.aws.migrate_task_family == "tracklight-migrate"
    error_message = "unexpected DB identifier / migration task family"
  }

  assert {
    condition     = output.aws.log_group == "/ecs/tracklight" && output.aws.kms_alias == "alias/tracklight"
    error_message = "unexpected log group / KMS alias"
  }

  assert {
    condition     = output.gcp.service_account_id == "tracklight-run" && output.gcp.migrate_job == "tracklight-migrate"
    error_message = "unexpected GCP names"
  }

  assert {
    condition     = output.bucket == "tracklight-artifacts"
    error_message = "bucket without suffix should be <name>-artifacts"
  }

  assert {
    condition     = output.labels == { app = "tracklight", deployment = "tracklight", "managed-by" = "terraform" }
    error_message = "unexpected common labels"
  }
}

run "hyphens_become_underscores_in_db_name" {
  command = plan

  variables {
    name          = "tracklight-prod"
    bucket_suffix = "123456789012"
  }

  assert {
    condition     = output.db_name == "tracklight_prod"
    error_message = "MySQL database names take underscores"
  }

  assert {
    condition     = output.bucket == "tracklight-prod-artifacts-123456789012"
    error_message = "bucket suffix not appended"
  }
}

run "longest_name_fits_every_limit" {
  command = plan

  variables {
    name          = "abcdefghijklmnopqrstu1"         # 22 characters
    bucket_suffix = "abcdefghijklmnopqrstuvwxyz0123" # 30 characters
  }

  assert {
    condition     = length(output.aws.target_group) <= 32 && length(output.bucket) <= 63 && length(output.gcp.service_account_id) <= 30
    error_message = "the longest valid inputs must fit the provider limits"
  }
}

run "extra_labels_are_merged" {
  command = plan

  variables {
    labels = { team = "ml-platform", app = "ignored" }
  }

  assert {
    condition     = output.labels.team == "ml-platform" && output.labels.app == "tracklight"
    error_message = "extra labels are merged and cannot override app"
  }
}

run "rejects_uppercase_name" {
  command = plan
  variables {
    name = "Tracklight"
  }
  expect_failures = [var.name]
}

run "rejects_too_long_name" {
  command = plan
  variables {
    name = "abcdefghijklmnopqrstuvw" # 23 characters
  }
  expect_failures = [var.name]
}

run "rejects_too_short_name" {
  command = plan
  variables {
    name = "ab"
  }
  expect_failures = [var.name]
}

run "rejects_trailing_hyphen" {
  command = plan
  variables {
    name = "tracklight-"
  }
  expect_failures = [var.name]
}

run "rejects_double_hyphen" {
  command = plan
  variables {
    name = "track--light"
  }
  expect_failures = [var.name]
}

run "rejects_reserved_prefix" {
  command = plan
  variables {
    name = "google-tracking"
  }
  expect_failures = [var.name]
}

run "rejects_latest_tag" {
  command = plan
  variables {
    image_tag = "latest"
  }
  expect_failures = [var.image_tag]
}

run "rejects_latest_tag_any_case" {
  command = plan
  variables {
    image_tag = "LATEST"
  }
  expect_failures = [var.image_tag]
}

run "rejects_invalid_tag" {
  command = plan
  variables {
    image_tag = "-bad:tag"
  }
  expect_failures = [var.image_tag]
}

run "accepts_git_sha_tag" {
  command = plan
  variables {
    image_tag = "3f9c2ab"
  }
  assert {
    condition     = output.image_tag == "3f9c2ab"
    error_message = "a git SHA is a valid tag"
  }
}

run "rejects_uppercase_bucket_suffix" {
  command = plan
  variables {
    bucket_suffix = "MyProject"
  }
  expect_failures = [var.bucket_suffix]
}

run "rejects_invalid_label_key" {
  command = plan
  variables {
    labels = { Team = "x" }
  }
  expect_failures = [var.labels]
}
