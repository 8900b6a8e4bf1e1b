# Cloud SQL gets a private IP only. Cloud Run reaches it through Direct VPC egress (no connector VMs), and the
# server talks to it through the Cloud Run Cloud SQL connection: a unix socket whose tunnel is TLS-encrypted and
# authorized by the service account's IAM role, not by network position alone.

resource "google_compute_network" "vpc" {
  count = var.network_id == null ? 1 : 0

  project                 = var.project_id
  name                    = local.network_name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.apis]
}

# Nothing in this VPC accepts connections from outside it: Cloud Run only sends (Direct VPC egress) and Cloud SQL
# sits in Google's peered network. The implied rules already deny ingress; this rule makes it explicit and logged.
resource "google_compute_firewall" "deny_all_ingress" {
  count = var.network_id == null ? 1 : 0

  project       = var.project_id
  name          = "${local.network_name}-deny-all-ingress"
  network       = google_compute_network.vpc[0].id
  direction     = "INGRESS"
  priority      = 65534
  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "run" {
  count = var.subnetwork_id == null ? 1 : 0

  project       = var.project_id
  name          = local.subnet_name
  region        = var.region
  network       = local.network_id
  ip_cidr_range = var.subnet_cidr

  # Google APIs (Cloud Storage, Secret Manager, the Cloud SQL Admin API) stay reachable on internal routes.
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Private service access: a reserved internal range peered with the network Google runs Cloud SQL in.
resource "google_compute_global_address" "private_service_access" {
  count = var.manage_private_service_access ? 1 : 0

  project       = var.project_id
  name          = local.psa_range_name
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_service_access_prefix_length
  network       = local.network_id
}

resource "google_service_networking_connection" "private_service_access" {
  count = var.manage_private_service_access ? 1 : 0

  network                 = local.network_id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_service_access[0].name]
}
