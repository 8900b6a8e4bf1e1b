"""Registry webhooks are server-wide, so with auth on only admins may see or change them (MLflow's auth app
says the same): every webhook route refuses any other user with PERMISSION_DENIED."""

from __future__ import annotations

import requests
from harness.server import ServerProcess

from .conftest import ADMIN, ADMIN_PASSWORD, new_user

EVENTS = [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]


def test_only_admins_use_webhooks(auth_server: ServerProcess) -> None:
    made = requests.post(
        auth_server.api("webhooks"),
        # A public address literal: nothing to resolve, and nothing is sent at creation.
        json={"name": "admin-hook", "url": "https://8.8.8.8/hook", "events": EVENTS},
        auth=(ADMIN, ADMIN_PASSWORD),
        timeout=30,
    )
    assert made.status_code == 200, made.text
    webhook_id = made.json()["webhook"]["webhook_id"]
    user = new_user(auth_server)
    calls = [
        ("POST", "webhooks", {"name": "mine", "url": "https://8.8.8.8/x", "events": EVENTS}),
        ("GET", "webhooks", None),
        ("GET", f"webhooks/{webhook_id}", None),
        ("PATCH", f"webhooks/{webhook_id}", {"name": "renamed"}),
        ("POST", f"webhooks/{webhook_id}/test", {}),
        ("DELETE", f"webhooks/{webhook_id}", None),
    ]
    for method, path, body in calls:
        got = requests.request(method, auth_server.api(path), json=body, auth=user, timeout=30)
        assert got.status_code == 403, (method, path, got.text)
        assert got.json()["error_code"] == "PERMISSION_DENIED"
    listed = requests.get(auth_server.api("webhooks"), auth=(ADMIN, ADMIN_PASSWORD), timeout=30)
    assert listed.status_code == 200, listed.text
