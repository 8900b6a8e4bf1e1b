"""The dashboard's pages, one module per area; ROUTES lists (method, path template, handler)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from tracklight.dashboard.pages import (
    account,
    admin_grants,
    admin_tokens,
    admin_users,
    artifacts,
    charts,
    compare,
    experiments,
    logged_models,
    models,
    run,
    runs,
    traces,
)

ROUTES: list[tuple[str, str, Callable[..., Response]]] = [
    *experiments.ROUTES,
    *runs.ROUTES,
    *run.ROUTES,
    *traces.ROUTES,
    *artifacts.ROUTES,
    *charts.ROUTES,
    *compare.ROUTES,
    *models.ROUTES,
    *logged_models.ROUTES,
    *account.ROUTES,
    *admin_users.ROUTES,
    *admin_grants.ROUTES,
    *admin_tokens.ROUTES,
]
