"""The web dashboard: server-rendered pages over the services, mounted at the server's root."""

from tracklight.dashboard.router import Dashboard, dashboard_routes

__all__ = ["Dashboard", "dashboard_routes"]
