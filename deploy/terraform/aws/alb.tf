resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is account policy (rules, cost, logging); attach yours with aws_wafv2_web_acl_association to the alb_arn output.
  #checkov:skip=CKV_AWS_91:Access logs need a bucket with an ELB delivery policy; they are optional (alb_access_logs_bucket).
  name                       = local.names.alb
  load_balancer_type         = "application"
  internal                   = var.alb_internal
  subnets                    = var.alb_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = var.alb_idle_timeout

  dynamic "access_logs" {
    for_each = var.alb_access_logs_bucket == null ? [] : [var.alb_access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.alb_access_logs_prefix
      enabled = true
    }
  }

  tags = local.tags
}

resource "aws_lb_target_group" "server" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; ALB-to-task traffic stays inside the VPC on the server port, allowed only from the ALB security group.
  name                 = local.names.target_group
  port                 = local.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = "/health"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:This listener only redirects to HTTPS (301); it serves nothing.
  #checkov:skip=CKV_AWS_103:No TLS on a redirect-only HTTP listener; the HTTPS listener uses a TLS 1.3 policy.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  dynamic "default_action" {
    for_each = var.oidc == null ? [] : [var.oidc]
    content {
      type  = "authenticate-oidc"
      order = 1
      authenticate_oidc {
        issuer                     = default_action.value.issuer
        authorization_endpoint     = default_action.value.authorization_endpoint
        token_endpoint             = default_action.value.token_endpoint
        user_info_endpoint         = default_action.value.user_info_endpoint
        client_id                  = default_action.value.client_id
        client_secret              = var.oidc_client_secret
        scope                      = default_action.value.scope
        session_timeout            = default_action.value.session_timeout
        on_unauthenticated_request = "authenticate"
      }
    }
  }

  default_action {
    type             = "forward"
    order            = var.oidc == null ? 1 : 2
    target_group_arn = aws_lb_target_group.server.arn
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.oidc == null || var.oidc_client_secret != null
      error_message = "oidc_client_secret is required when oidc is set."
    }
  }
}

# With the ALB's OIDC login on the default action, the stock mlflow client (which cannot follow a browser
# login) would never reach the server. Requests that carry credentials of their own skip that login:
# Tracklight checks them itself when auth_enabled, so nothing gets in unchecked. Without Tracklight's own
# auth, the ALB login is the only gate and there is no such bypass.
resource "aws_lb_listener_rule" "credentials_skip_oidc" {
  count        = var.oidc != null && var.auth_enabled ? 1 : 0
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    http_header {
      http_header_name = "Authorization"
      values           = ["Bearer *", "Basic *"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.server.arn
  }

  tags = local.tags
}

resource "aws_route53_record" "server" {
  count   = var.route53_zone_id != null && var.domain_name != null ? 1 : 0
  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
