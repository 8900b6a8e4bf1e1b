"""The AI gateway's configuration API: secrets, model definitions, endpoints, their models, bindings and
tags, through the stock client's REST store and the raw wire. Secrets must be stored encrypted and answered
masked. A second server on the session's database holds the encryption key; the session's own has none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy
from cryptography.fernet import Fernet
from harness.api import assert_error, get, is_mlflow3, ok, post, raises_code
from harness.databases import BackendURI
from harness.mlflow_servers import mlflow_store_uri
from harness.plugin import Tracking
from harness.server import ServerProcess

needs_gateway_api = pytest.mark.skipif(
    not is_mlflow3(), reason="the AI gateway store API is an MLflow 3 client API"
)
KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def keyed_server(
    tracking_server: ServerProcess, session_backend: BackendURI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server with TRACKLIGHT_WEBHOOK_SECRET_KEY on the session's (already upgraded) database."""
    workdir = tmp_path_factory.mktemp(f"gateway-{session_backend.backend}")
    server = ServerProcess(
        session_backend,
        tracking_server.artifacts_dir,
        workdir / "server.log",
        env={"TRACKLIGHT_WEBHOOK_SECRET_KEY": KEY},
        name=f"tracklight-gateway-{session_backend.backend}",
    )
    server.start(timeout=90)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(keyed_server: ServerProcess, tracking: Tracking) -> Any:
    """The stock client's REST store, pointed at the keyed server."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=keyed_server.url)._tracking_client.store


def _name(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _api(server: ServerProcess, path: str) -> str:
    return server.api("gateway/" + path, "3.0")


def _config(definition_id: str, linkage: str = "PRIMARY", **extra: Any) -> Any:
    from mlflow.entities import GatewayEndpointModelConfig, GatewayModelLinkageType

    return GatewayEndpointModelConfig(
        model_definition_id=definition_id, linkage_type=GatewayModelLinkageType(linkage), **extra
    )


def _definition(store: Any, provider: str = "openai", model: str = "gpt-4o") -> Any:
    secret = store.create_gateway_secret(
        secret_name=_name("key"), secret_value={"api_key": "sk-" + uuid.uuid4().hex}, provider=provider
    )
    return store.create_gateway_model_definition(
        name=_name("def"), secret_id=secret.secret_id, provider=provider, model_name=model
    )


def _wire_definitions(server: ServerProcess, *models: str) -> list[str]:
    """Model definitions made over the raw wire, one a model name given, all on one new secret: their ids."""
    secret = ok(post(_api(server, "secrets/create"), {"secret_name": _name("k"), "secret_value": {"a": "b"}}))
    body = {"secret_id": secret["secret"]["secret_id"], "provider": "openai"}
    create = _api(server, "model-definitions/create")
    made = [ok(post(create, {**body, "name": _name("d"), "model_name": model})) for model in models]
    return [m["model_definition"]["model_definition_id"] for m in made]


# -- secrets ---------------------------------------------------------------------------------------------


@needs_gateway_api
def test_secrets_are_answered_masked_and_stored_encrypted(
    store: Any, keyed_server: ServerProcess, session_backend: BackendURI
) -> None:
    name = _name("aws")
    plain = {"aws_access_key_id": "AKIAORIGINAL1234", "aws_secret_access_key": "original-secret-key-1234"}
    secret = store.create_gateway_secret(
        secret_name=name,
        secret_value=plain,
        provider="bedrock",
        auth_config={"auth_mode": "access_keys", "aws_region_name": "us-east-1"},
        created_by="alice",
    )
    assert secret.secret_id.startswith("s-") and secret.secret_name == name and secret.provider == "bedrock"
    assert secret.masked_values == {"aws_access_key_id": "AKI...1234", "aws_secret_access_key": "ori...1234"}
    assert secret.auth_config == {"auth_mode": "access_keys", "aws_region_name": "us-east-1"}
    assert secret.created_by == "alice"
    assert store.get_secret_info(secret_id=secret.secret_id) == secret
    assert store.get_secret_info(secret_name=name) == secret

    # The database row holds neither value in clear, nor anything but a Fernet token of them.
    engine = sqlalchemy.create_engine(mlflow_store_uri(session_backend.uri))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sqlalchemy.text("SELECT * FROM gateway_secrets WHERE secret_id = :id"),
                {"id": secret.secret_id},
            ).one()
    finally:
        engine.dispose()
    stored = " ".join(str(v) for v in row)
    for value in plain.values():
        assert value not in stored
    assert (
        Fernet(KEY.encode()).decrypt(row.sealed_value.encode()).decode().count("original-secret-key-1234")
        == 1
    )

    # Rotation: new masks, a later update time; the raw answer never carries a value either.
    rotated = store.update_gateway_secret(
        secret_id=secret.secret_id,
        secret_value={
            "aws_access_key_id": "AKIAROTATED5678",
            "aws_secret_access_key": "rotated-secret-key-5678",
        },
        updated_by="bob",
    )
    assert rotated.masked_values == {"aws_access_key_id": "AKI...5678", "aws_secret_access_key": "rot...5678"}
    assert rotated.last_updated_at > secret.created_at and rotated.last_updated_by == "bob"
    assert rotated.auth_config == secret.auth_config  # not given: unchanged
    raw = requests.get(_api(keyed_server, "secrets/get"), params={"secret_id": secret.secret_id}, timeout=30)
    assert "rotated-secret-key" not in raw.text and "AKIAROTATED" not in raw.text
    # Short values are not even partly shown.
    short = store.create_gateway_secret(secret_name=_name("short"), secret_value={"api_key": "abc1234"})
    assert short.masked_values == {"api_key": "***"}


@needs_gateway_api
def test_secret_listing_filtering_and_deletion(store: Any) -> None:
    provider = _name("prov")
    one = store.create_gateway_secret(
        secret_name=_name("a"), secret_value={"api_key": "sk-aaaaaaaa"}, provider=provider
    )
    two = store.create_gateway_secret(
        secret_name=_name("b"), secret_value={"api_key": "sk-bbbbbbbb"}, provider=provider
    )
    assert [s.secret_id for s in store.list_secret_infos(provider=provider)] == [one.secret_id, two.secret_id]
    assert {one.secret_id, two.secret_id} <= {s.secret_id for s in store.list_secret_infos()}
    store.delete_gateway_secret(one.secret_id)
    assert [s.secret_id for s in store.list_secret_infos(provider=provider)] == [two.secret_id]
    assert raises_code(lambda: store.get_secret_info(secret_id=one.secret_id), "RESOURCE_DOES_NOT_EXIST")
    assert raises_code(lambda: store.delete_gateway_secret(one.secret_id), "RESOURCE_DOES_NOT_EXIST")


def test_secret_errors_on_the_wire(keyed_server: ServerProcess, tracking: Tracking) -> None:
    create = _api(keyed_server, "secrets/create")
    name = _name("dup")
    ok(post(create, {"secret_name": name, "secret_value": {"api_key": "sk-12345678"}}))
    assert_error(
        post(create, {"secret_name": name, "secret_value": {"api_key": "x"}}), 400, "RESOURCE_ALREADY_EXISTS"
    )
    for bad in (
        {"secret_value": {"api_key": "sk-1"}},
        {"secret_name": _name("x")},
        {"secret_name": _name("x"), "secret_value": {}},
        {"secret_name": _name("x"), "secret_value": "sk-plain"},
        {"secret_name": _name("x"), "secret_value": {"api_key": 5}},
        {"secret_name": _name("x"), "secret_value": {"api_key": "k", "api_base": "https://evil.example"}},
        {
            "secret_name": _name("x"),
            "secret_value": {"api_key": "k"},
            "auth_config": {"base_url": "https://x"},
        },
        {"secret_name": _name("x"), "secret_value": {"api_key": "k"}, "auth_config": {"api_base": "ftp://x"}},
        {"secret_name": "x" * 256, "secret_value": {"api_key": "k"}},
    ):
        assert_error(post(create, bad), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(_api(keyed_server, "secrets/get"), {}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(
        get(_api(keyed_server, "secrets/get"), {"secret_id": "s-nope"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    update = _api(keyed_server, "secrets/update")
    assert_error(
        post(update, {"secret_id": "s-nope", "secret_value": {"k": "v"}}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    # A blank api_base is dropped, a given one kept trimmed; an empty auth_config leaves it as it was.
    made = ok(
        post(
            create,
            {
                "secret_name": _name("base"),
                "secret_value": {"api_key": "sk-1"},
                "auth_config": {"api_base": " "},
            },
        )
    )["secret"]
    assert "auth_config" not in made
    changed = ok(
        post(
            update, {"secret_id": made["secret_id"], "auth_config": {"api_base": " https://llm.example/v1 "}}
        )
    )
    assert changed["secret"]["auth_config"] == {"api_base": "https://llm.example/v1"}
    kept = ok(post(update, {"secret_id": made["secret_id"], "auth_config": {}}))
    assert kept["secret"]["auth_config"] == {"api_base": "https://llm.example/v1"}


def test_a_server_without_a_key_refuses_secrets_and_says_so(tracking: Tracking) -> None:
    refused = assert_error(
        post(
            tracking.api("gateway/secrets/create", "3.0"),
            {"secret_name": _name("k"), "secret_value": {"a": "b"}},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "TRACKLIGHT_WEBHOOK_SECRET_KEY" in refused["message"]
    config = ok(get(tracking.ajax("gateway/secrets/config", "3.0")))
    assert config == {"secrets_available": False, "using_default_passphrase": False}


# -- model definitions -------------------------------------------------------------------------------------


@needs_gateway_api
def test_model_definitions(store: Any) -> None:
    secret = store.create_gateway_secret(secret_name=_name("k"), secret_value={"api_key": "sk-123456789"})
    other = store.create_gateway_secret(secret_name=_name("k2"), secret_value={"api_key": "sk-987654321"})
    name = _name("def")
    made = store.create_gateway_model_definition(
        name=name, secret_id=secret.secret_id, provider="openai", model_name="gpt-4"
    )
    assert made.model_definition_id.startswith("d-") and made.secret_name == secret.secret_name
    assert store.get_gateway_model_definition(made.model_definition_id) == made
    updated = store.update_gateway_model_definition(
        model_definition_id=made.model_definition_id,
        provider="anthropic",
        model_name="claude-3-5-haiku-latest",
        secret_id=other.secret_id,
    )
    assert (updated.provider, updated.model_name, updated.name) == (
        "anthropic",
        "claude-3-5-haiku-latest",
        name,
    )
    assert (updated.secret_id, updated.secret_name) == (other.secret_id, other.secret_name)
    assert updated.last_updated_at > made.last_updated_at
    listed = store.list_gateway_model_definitions(secret_id=other.secret_id)
    assert [d.model_definition_id for d in listed] == [made.model_definition_id]
    assert raises_code(
        lambda: store.create_gateway_model_definition(
            name=name, secret_id=secret.secret_id, provider="openai", model_name="gpt-4"
        ),
        "RESOURCE_ALREADY_EXISTS",
    )
    assert raises_code(
        lambda: store.create_gateway_model_definition(
            name=_name("d"), secret_id="s-missing", provider="openai", model_name="gpt-4"
        ),
        "RESOURCE_DOES_NOT_EXIST",
    )
    # Deleting the secret orphans the definition rather than deleting it.
    store.delete_gateway_secret(other.secret_id)
    orphan = store.get_gateway_model_definition(made.model_definition_id)
    assert orphan.secret_id is None and orphan.secret_name is None
    store.delete_gateway_model_definition(made.model_definition_id)
    assert raises_code(
        lambda: store.get_gateway_model_definition(made.model_definition_id), "RESOURCE_DOES_NOT_EXIST"
    )


# -- endpoints ---------------------------------------------------------------------------------------------


@needs_gateway_api
def test_endpoint_lifecycle(store: Any, keyed_server: ServerProcess) -> None:
    from mlflow.entities import FallbackConfig, FallbackStrategy, RoutingStrategy
    from mlflow.tracking import MlflowClient

    primary, fallback = (
        _definition(store, model="gpt-4"),
        _definition(store, "anthropic", "claude-3-5-sonnet"),
    )
    name = _name("ep")
    endpoint = store.create_gateway_endpoint(
        name=name,
        model_configs=[_config(primary.model_definition_id, weight=1.0)],
        created_by="alice",
    )
    assert endpoint.endpoint_id.startswith("e-") and endpoint.name == name
    assert endpoint.routing_strategy is None and endpoint.fallback_config is None
    assert [m.model_definition.model_name for m in endpoint.model_mappings] == ["gpt-4"]
    assert endpoint.usage_tracking is True
    experiment = MlflowClient(tracking_uri=keyed_server.url).get_experiment(endpoint.experiment_id)
    assert experiment.name == f"gateway/{name}"
    assert experiment.tags["mlflow.experiment.sourceId"] == endpoint.endpoint_id

    renamed = _name("ep2")
    updated = store.update_gateway_endpoint(
        endpoint_id=endpoint.endpoint_id,
        name=renamed,
        model_configs=[
            _config(primary.model_definition_id),
            _config(fallback.model_definition_id, "FALLBACK", fallback_order=0),
        ],
        routing_strategy=RoutingStrategy.REQUEST_BASED_TRAFFIC_SPLIT,
        fallback_config=FallbackConfig(strategy=FallbackStrategy.SEQUENTIAL, max_attempts=3),
    )
    assert updated.name == renamed and updated.routing_strategy == RoutingStrategy.REQUEST_BASED_TRAFFIC_SPLIT
    assert updated.fallback_config == FallbackConfig(strategy=FallbackStrategy.SEQUENTIAL, max_attempts=3)
    assert [(m.linkage_type.value, m.fallback_order) for m in updated.model_mappings] == [
        ("PRIMARY", None),
        ("FALLBACK", 0),
    ]
    assert store.get_gateway_endpoint(name=renamed) == updated
    assert updated.endpoint_id in {e.endpoint_id for e in store.list_gateway_endpoints(provider="anthropic")}

    # A definition in use cannot be deleted; detached, it can.
    assert raises_code(
        lambda: store.delete_gateway_model_definition(fallback.model_definition_id), "INVALID_STATE"
    )
    store.detach_model_from_endpoint(
        endpoint_id=endpoint.endpoint_id, model_definition_id=fallback.model_definition_id
    )
    store.delete_gateway_model_definition(fallback.model_definition_id)
    mapping = store.attach_model_to_endpoint(
        endpoint_id=endpoint.endpoint_id, model_config=_config(primary.model_definition_id, "FALLBACK")
    )
    assert mapping.endpoint_id == endpoint.endpoint_id and mapping.model_definition.name == primary.name
    assert raises_code(
        lambda: store.attach_model_to_endpoint(
            endpoint_id=endpoint.endpoint_id, model_config=_config(primary.model_definition_id, "FALLBACK")
        ),
        "RESOURCE_ALREADY_EXISTS",
    )
    assert len(store.get_gateway_endpoint(endpoint.endpoint_id).model_mappings) == 2

    store.delete_gateway_endpoint(endpoint.endpoint_id)
    assert raises_code(lambda: store.get_gateway_endpoint(endpoint.endpoint_id), "RESOURCE_DOES_NOT_EXIST")
    assert endpoint.endpoint_id not in {e.endpoint_id for e in store.list_gateway_endpoints()}
    store.delete_gateway_model_definition(primary.model_definition_id)  # no longer in use


@needs_gateway_api
def test_bindings_and_tags(store: Any) -> None:
    from mlflow.entities import GatewayEndpointTag, GatewayResourceType

    definition = _definition(store)
    endpoint = store.create_gateway_endpoint(
        name=_name("ep"), model_configs=[_config(definition.model_definition_id)], usage_tracking=False
    )
    assert endpoint.usage_tracking is False and endpoint.experiment_id is None
    job = _name("job")
    binding = store.create_endpoint_binding(
        endpoint_id=endpoint.endpoint_id, resource_type=GatewayResourceType.SCORER, resource_id=job
    )
    assert (binding.endpoint_id, binding.resource_type, binding.resource_id) == (
        endpoint.endpoint_id,
        GatewayResourceType.SCORER,
        job,
    )
    assert [b.resource_id for b in store.list_endpoint_bindings(resource_id=job)] == [job]
    assert [b.resource_id for b in store.list_endpoint_bindings(endpoint_id=endpoint.endpoint_id)] == [job]
    store.delete_endpoint_binding(endpoint_id=endpoint.endpoint_id, resource_type="scorer", resource_id=job)
    assert store.list_endpoint_bindings(resource_id=job) == []
    assert raises_code(
        lambda: store.delete_endpoint_binding(
            endpoint_id=endpoint.endpoint_id, resource_type="scorer", resource_id=job
        ),
        "RESOURCE_DOES_NOT_EXIST",
    )

    store.set_gateway_endpoint_tag(endpoint.endpoint_id, GatewayEndpointTag("team", "search"))
    store.set_gateway_endpoint_tag(endpoint.endpoint_id, GatewayEndpointTag("team", "ranking"))
    store.set_gateway_endpoint_tag(endpoint.endpoint_id, GatewayEndpointTag("env", "prod"))
    tags = {t.key: t.value for t in store.get_gateway_endpoint(endpoint.endpoint_id).tags}
    assert tags == {"env": "prod", "team": "ranking"}
    store.delete_gateway_endpoint_tag(endpoint.endpoint_id, "env")
    assert [t.key for t in store.get_gateway_endpoint(endpoint.endpoint_id).tags] == ["team"]
    assert raises_code(
        lambda: store.set_gateway_endpoint_tag("e-missing", GatewayEndpointTag("k", "v")),
        "RESOURCE_DOES_NOT_EXIST",
    )
    store.delete_gateway_endpoint(endpoint.endpoint_id)  # takes its tags along


def test_endpoint_errors_on_the_wire(keyed_server: ServerProcess, tracking: Tracking) -> None:
    (definition,) = _wire_definitions(keyed_server, "m")
    create = _api(keyed_server, "endpoints/create")
    good = {"model_definition_id": definition, "linkage_type": "PRIMARY"}
    name = _name("ep")
    made = ok(post(create, {"name": name, "model_configs": [good], "usage_tracking": False}))["endpoint"]
    assert made["model_mappings"][0]["linkage_type"] == "PRIMARY" and made["usage_tracking"] is False
    assert_error(post(create, {"name": name, "model_configs": [good]}), 400, "RESOURCE_ALREADY_EXISTS")
    for bad in (
        {"model_configs": [good]},
        {"name": _name("ep"), "model_configs": []},
        {"name": "has space", "model_configs": [good]},
        {"name": _name("ep"), "model_configs": [{"model_definition_id": definition}]},
        {"name": _name("ep"), "model_configs": [{**good, "linkage_type": "SIDEWAYS"}]},
        {"name": _name("ep"), "model_configs": [good], "routing_strategy": "RANDOM"},
        {"name": _name("ep"), "model_configs": [good], "fallback_config": "SEQUENTIAL"},
        {"name": _name("ep"), "model_configs": [good], "experiment_id": "abc"},
    ):
        assert_error(post(create, bad), 400, "INVALID_PARAMETER_VALUE")
    missing = {"name": _name("ep"), "model_configs": [{**good, "model_definition_id": "d-missing"}]}
    assert_error(post(create, missing), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(get(_api(keyed_server, "endpoints/get"), {}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(get(_api(keyed_server, "endpoints/get"), {"name": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")
    binding = {"endpoint_id": made["endpoint_id"], "resource_type": "experiment", "resource_id": "1"}
    assert_error(
        post(_api(keyed_server, "endpoints/bindings/create"), binding), 400, "INVALID_PARAMETER_VALUE"
    )
    detach = {"endpoint_id": made["endpoint_id"], "model_definition_id": "d-other"}
    assert_error(post(_api(keyed_server, "endpoints/models/detach"), detach), 404, "RESOURCE_DOES_NOT_EXIST")


# -- scorers on gateway endpoints, and the pages' catalogue ---------------------------------------------------


@needs_gateway_api
def test_online_scoring_on_a_gateway_endpoint(store: Any, keyed_server: ServerProcess) -> None:
    import json

    from mlflow.tracking import MlflowClient

    endpoint = store.create_gateway_endpoint(
        name=_name("judge"), model_configs=[_config(_definition(store).model_definition_id)]
    )
    experiment_id = MlflowClient(tracking_uri=keyed_server.url).create_experiment(_name("online"))
    judge = json.dumps({"instructions_judge_pydantic_data": {"model": f"gateway:/{endpoint.name}"}})
    version = store.register_scorer(experiment_id, "judge", judge)
    config = store.upsert_online_scoring_config(
        experiment_id=experiment_id, scorer_name="judge", sample_rate=0.5, filter_string=None
    )
    assert config.scorer_id == version.scorer_id and config.sample_rate == 0.5
    # The scorer is bound to the endpoint it calls; a new version replaces the binding, not adds one.
    store.register_scorer(experiment_id, "judge", judge)
    bindings = store.list_endpoint_bindings(endpoint_id=endpoint.endpoint_id)
    assert [(b.resource_type.value, b.resource_id, b.display_name) for b in bindings] == [
        ("scorer", version.scorer_id, "judge")
    ]
    unknown = json.dumps({"instructions_judge_pydantic_data": {"model": "gateway:/no-such-endpoint"}})
    assert raises_code(
        lambda: store.register_scorer(experiment_id, "other", unknown), "RESOURCE_DOES_NOT_EXIST"
    )


def test_catalogue_routes(tracking: Tracking) -> None:
    providers = ok(get(tracking.ajax("gateway/supported-providers", "3.0")))["providers"]
    assert "openai" in providers and providers == sorted(providers)
    models = ok(get(tracking.ajax("gateway/supported-models", "3.0"), {"provider": "openai"}))["models"]
    assert models and all(m["provider"] == "openai" and m["mode"] for m in models)
    config_url = tracking.ajax("gateway/provider-config", "3.0")
    bedrock = ok(get(config_url, {"provider": "bedrock"}))
    assert bedrock["default_mode"] == "api_key"
    access = next(m for m in bedrock["auth_modes"] if m["mode"] == "access_keys")
    assert {f["name"] for f in access["secret_fields"]} == {"aws_access_key_id", "aws_secret_access_key"}
    other = ok(get(config_url, {"provider": "somebody"}))
    assert other["auth_modes"][0]["config_fields"][0]["name"] == "api_base"
    assert_error(get(config_url), 400, "INVALID_PARAMETER_VALUE")


def test_usage_experiment_is_reused_by_name(
    keyed_server: ServerProcess, tmp_path: Path, tracking: Tracking
) -> None:
    """An endpoint named like a deleted one finds its usage experiment again rather than failing."""
    (definition,) = _wire_definitions(keyed_server, "m")
    body = {"name": _name("ep"), "model_configs": [{"model_definition_id": definition, "linkage_type": 1}]}
    first = ok(post(_api(keyed_server, "endpoints/create"), body))["endpoint"]
    requests.delete(
        _api(keyed_server, "endpoints/delete"), json={"endpoint_id": first["endpoint_id"]}, timeout=30
    )
    second = ok(post(_api(keyed_server, "endpoints/create"), body))["endpoint"]
    assert second["experiment_id"] == first["experiment_id"]


def test_an_endpoints_models_keep_the_order_given(keyed_server: ServerProcess, tracking: Tracking) -> None:
    definitions = _wire_definitions(keyed_server, *(f"model-{i}" for i in range(4)))
    configs = [{"model_definition_id": d, "linkage_type": "PRIMARY"} for d in definitions[2::-1]]
    body = {"name": _name("ep"), "model_configs": configs, "usage_tracking": False}
    endpoint = ok(post(_api(keyed_server, "endpoints/create"), body))["endpoint"]
    assert [m["model_definition_id"] for m in endpoint["model_mappings"]] == definitions[2::-1]
    attach = {
        "endpoint_id": endpoint["endpoint_id"],
        "model_config": configs[0] | {"model_definition_id": definitions[3]},
    }
    ok(post(_api(keyed_server, "endpoints/models/attach"), attach))
    got = ok(get(_api(keyed_server, "endpoints/get"), {"endpoint_id": endpoint["endpoint_id"]}))["endpoint"]
    assert [m["model_definition_id"] for m in got["model_mappings"]] == [*definitions[2::-1], definitions[3]]
