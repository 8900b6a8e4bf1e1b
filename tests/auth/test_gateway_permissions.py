"""The AI gateway's configuration holds provider credentials and is server-wide, so with auth on only admins
may see or change any of it (MLflow's finer per-resource gateway grants are not kept). The catalogue routes
the gateway pages read (providers, models, provider settings) are open to every signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from harness.server import ServerProcess

from .conftest import ADMIN, ADMIN_PASSWORD, new_user, start_auth_server

ADMIN_AUTH = (ADMIN, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def keyed_auth_server(auth_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("gateway-auth")
    server = start_auth_server(
        auth_db, workdir, env={"TRACKLIGHT_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode()}
    )
    try:
        yield server
    finally:
        server.stop()


def _call(
    server: ServerProcess, method: str, path: str, body: dict, auth: tuple[str, str]
) -> requests.Response:
    url = server.api("gateway/" + path, "3.0")
    if method == "GET":
        return requests.get(url, params=body, auth=auth, timeout=30)
    return requests.request(method, url, json=body, auth=auth, timeout=30)


def _admin(server: ServerProcess, method: str, path: str, body: dict) -> dict:
    got = _call(server, method, path, body, ADMIN_AUTH)
    assert got.status_code == 200, got.text
    return got.json()


def test_only_admins_configure_the_gateway(keyed_auth_server: ServerProcess) -> None:
    server = keyed_auth_server
    secret = _admin(
        server, "POST", "secrets/create", {"secret_name": "admin-key", "secret_value": {"api_key": "k"}}
    )
    secret_id = secret["secret"]["secret_id"]
    definition = _admin(
        server,
        "POST",
        "model-definitions/create",
        {"name": "admin-def", "secret_id": secret_id, "provider": "openai", "model_name": "gpt-4o"},
    )["model_definition"]["model_definition_id"]
    config = {"model_definition_id": definition, "linkage_type": "PRIMARY"}
    endpoint = _admin(server, "POST", "endpoints/create", {"name": "admin-ep", "model_configs": [config]})
    endpoint_id = endpoint["endpoint"]["endpoint_id"]
    binding = {"endpoint_id": endpoint_id, "resource_type": "scorer", "resource_id": "job"}

    user = new_user(server)
    calls = [
        ("POST", "secrets/create", {"secret_name": "mine", "secret_value": {"api_key": "k"}}),
        ("GET", "secrets/get", {"secret_id": secret_id}),
        ("POST", "secrets/update", {"secret_id": secret_id, "secret_value": {"api_key": "stolen"}}),
        ("GET", "secrets/list", {}),
        ("DELETE", "secrets/delete", {"secret_id": secret_id}),
        (
            "POST",
            "model-definitions/create",
            {"name": "d", "secret_id": secret_id, "provider": "o", "model_name": "m"},
        ),
        ("GET", "model-definitions/get", {"model_definition_id": definition}),
        ("GET", "model-definitions/list", {}),
        ("POST", "model-definitions/update", {"model_definition_id": definition, "model_name": "x"}),
        ("DELETE", "model-definitions/delete", {"model_definition_id": definition}),
        ("POST", "endpoints/create", {"name": "mine", "model_configs": [config]}),
        ("GET", "endpoints/get", {"endpoint_id": endpoint_id}),
        ("GET", "endpoints/list", {}),
        ("POST", "endpoints/update", {"endpoint_id": endpoint_id, "name": "renamed"}),
        ("POST", "endpoints/models/attach", {"endpoint_id": endpoint_id, "model_config": config}),
        ("POST", "endpoints/models/detach", {"endpoint_id": endpoint_id, "model_definition_id": definition}),
        ("POST", "endpoints/bindings/create", binding),
        ("GET", "endpoints/bindings/list", {}),
        ("DELETE", "endpoints/bindings/delete", binding),
        ("POST", "endpoints/set-tag", {"endpoint_id": endpoint_id, "key": "k", "value": "v"}),
        ("DELETE", "endpoints/delete-tag", {"endpoint_id": endpoint_id, "key": "k"}),
        ("DELETE", "endpoints/delete", {"endpoint_id": endpoint_id}),
    ]
    for method, path, body in calls:
        got = _call(server, method, path, body, user)
        assert got.status_code == 403, (method, path, got.text)
        assert got.json()["error_code"] == "PERMISSION_DENIED"
    # Nothing changed: the admin still finds everything as it was.
    assert (
        _admin(server, "GET", "endpoints/get", {"endpoint_id": endpoint_id})["endpoint"]["name"] == "admin-ep"
    )
    assert _admin(server, "GET", "secrets/get", {"secret_id": secret_id})["secret"]["masked_values"] == {
        "api_key": "***"
    }

    for path, params in (
        ("supported-providers", {}),
        ("supported-models", {"provider": "openai"}),
        ("provider-config", {"provider": "bedrock"}),
        ("secrets/config", {}),
    ):
        url = f"{server.url}/ajax-api/3.0/mlflow/gateway/{path}"
        got = requests.get(url, params=params, auth=user, timeout=30)
        assert got.status_code == 200, (path, got.text)
