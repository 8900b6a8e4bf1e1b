# Provider-free on purpose: this module only derives and validates names, so `terraform init` and
# `terraform test` run offline (no registry access) and CI can test it.
terraform {
  required_version = ">= 1.6"
}
