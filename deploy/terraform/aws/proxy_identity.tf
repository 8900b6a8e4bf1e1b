# Who the ALB's OIDC login says is calling. With `oidc` set and Tracklight's own login on (auth_enabled), the
# server signs people in as the user named by the ALB's signed x-amzn-oidc-data header: ES256, verified
# with the key this load balancer's region publishes, and accepted only when its `signer` is this load
# balancer. Users are created on their first request; requests without the header (SDK clients, which
# alb.tf's credentials_skip_oidc rule lets past the login) use their Tracklight token as before. Without
# `oidc`, the setting is explicitly off.
#
# Only variables and this ALB's ARN go in: tests/deploy evaluates this file offline, with the ARN replaced.

locals {
  proxy_identity = var.oidc != null && var.auth_enabled

  proxy_environment = concat(
    [{ name = "TRACKLIGHT_AUTH_PROXY", value = local.proxy_identity ? "alb" : "none" }],
    local.proxy_identity ? [
      { name = "TRACKLIGHT_AUTH_PROXY_ALB_ARN", value = aws_lb.this.arn },
      { name = "TRACKLIGHT_AUTH_PROXY_ALB_CLAIM", value = var.oidc.user_claim },
    ] : [],
  )
}
