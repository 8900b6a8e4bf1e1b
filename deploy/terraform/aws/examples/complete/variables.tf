variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Deployment name."
  type        = string
  default     = "tracklight"
}

variable "image_tag" {
  description = "Image tag pushed to the module's ECR repository (see README step 2)."
  type        = string
}

variable "domain_name" {
  description = "Host name for the server, e.g. tracking.example.com, in route53_zone_id."
  type        = string
}

variable "route53_zone_id" {
  description = "Public hosted zone that holds domain_name (for the certificate validation and the alias record)."
  type        = string
}

variable "allowed_cidr_blocks" {
  description = "Who may reach the server (your office / VPN egress ranges)."
  type        = list(string)
}
