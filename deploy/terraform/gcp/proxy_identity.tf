# Who IAP says is calling. With iap_enabled and Tracklight's own login on (auth_enabled), the server signs
# people in as the user named by IAP's signed x-goog-iap-jwt-assertion header: ES256, verified with IAP's
# published keys, accepted only for the audience of IAP on this Cloud Run service. Users are created on
# their first request; requests without a valid assertion use their Tracklight token or password as before.
# Without IAP, the setting is explicitly off.
#
# Only variables, the project number and the service name go in: tests/deploy evaluates this file offline,
# with those two replaced.

locals {
  proxy_identity = var.iap_enabled && var.auth_enabled

  # IAP directly on a Cloud Run service signs for /projects/NUMBER/locations/REGION/services/NAME.
  iap_audience = "/projects/${data.google_project.this.number}/locations/${var.region}/services/${local.service_name}"

  proxy_env = merge(
    { TRACKLIGHT_AUTH_PROXY = local.proxy_identity ? "iap" : "none" },
    local.proxy_identity ? { TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE = local.iap_audience } : {},
  )
}
