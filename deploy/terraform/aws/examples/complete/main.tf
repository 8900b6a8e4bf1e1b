# A complete deployment: a VPC with private subnets and a NAT gateway, a DNS-validated certificate, and
# the Tracklight module. Copy this directory, fill in terraform.tfvars, and follow ../../README.md.

locals {
  # Two fixed zones, so the subnets never move when AWS adds a zone to the region.
  azs = ["${var.region}a", "${var.region}b"]
}

module "vpc" {
  #checkov:skip=CKV_TF_1:A Terraform Registry module pinned to an exact version; the registry serves immutable releases.
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.21.0"

  name = var.name
  cidr = "10.20.0.0/16"
  azs  = local.azs

  public_subnets  = ["10.20.0.0/24", "10.20.1.0/24"]
  private_subnets = ["10.20.10.0/24", "10.20.11.0/24"]

  enable_nat_gateway = true
  single_nat_gateway = true # one NAT for the example; one per AZ in production

  enable_flow_log                      = true
  create_flow_log_cloudwatch_log_group = true
  create_flow_log_cloudwatch_iam_role  = true
  flow_log_max_aggregation_interval    = 60
}

resource "aws_acm_certificate" "server" {
  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for o in aws_acm_certificate.server.domain_validation_options : o.domain_name => o
  }
  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "server" {
  certificate_arn         = aws_acm_certificate.server.arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

module "tracklight" {
  source = "../.."

  name      = var.name
  image_tag = var.image_tag

  vpc_id              = module.vpc.vpc_id
  private_subnet_ids  = module.vpc.private_subnets
  alb_subnet_ids      = module.vpc.public_subnets
  allowed_cidr_blocks = var.allowed_cidr_blocks

  certificate_arn = aws_acm_certificate_validation.server.certificate_arn
  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id

  # Optional: OIDC login in front of the UI (see the module README about SDK clients).
  # oidc = {
  #   issuer                 = "https://login.example.com"
  #   authorization_endpoint = "https://login.example.com/authorize"
  #   token_endpoint         = "https://login.example.com/oauth/token"
  #   user_info_endpoint     = "https://login.example.com/userinfo"
  #   client_id              = "tracklight"
  # }
  # oidc_client_secret = var.oidc_client_secret
}
