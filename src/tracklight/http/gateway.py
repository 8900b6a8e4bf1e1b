"""The AI gateway's configuration API on the wire (/api/3.0/mlflow/gateway/...), and the pages' catalogue
routes. Secrets are answered masked: their values are write-only."""

from __future__ import annotations

import json
from typing import Any

from tracklight.errors import InvalidParameter
from tracklight.http.request import Fields
from tracklight.services import gateway_catalogue as catalogue
from tracklight.services.gateway import Gateway
from tracklight.services.gateway_endpoints import (
    FALLBACK_STRATEGIES,
    ROUTING_STRATEGIES,
    GatewayEndpoints,
    ModelConfig,
    check_enum,
    check_model_config,
)
from tracklight.store.gateway import BindingRow, EndpointRow, MappingRow, ModelDefinitionRow, SecretRow

Json = dict[str, Any]


def _put(out: Json, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def encode_secret(row: SecretRow) -> Json:
    """A GatewaySecretInfo: the masked values, never the sealed ones."""
    out: Json = {
        "secret_id": row.secret_id,
        "secret_name": row.name,
        "masked_values": json.loads(row.masked_value),
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
    }
    _put(out, "provider", row.provider)
    _put(out, "created_by", row.created_by)
    _put(out, "last_updated_by", row.last_updated_by)
    if row.auth_config:
        out["auth_config"] = json.loads(row.auth_config)
    return out


def encode_model_definition(row: ModelDefinitionRow) -> Json:
    out: Json = {"model_definition_id": row.model_definition_id, "name": row.name}
    _put(out, "secret_id", row.secret_id)
    _put(out, "secret_name", row.secret_name)
    out.update(provider=row.provider, model_name=row.model_name)
    out.update(created_at=row.created_at, last_updated_at=row.last_updated_at)
    _put(out, "created_by", row.created_by)
    _put(out, "last_updated_by", row.last_updated_by)
    return out


def encode_mapping(row: MappingRow) -> Json:
    out: Json = {
        "mapping_id": row.mapping_id,
        "endpoint_id": row.endpoint_id,
        "model_definition_id": row.model_definition_id,
    }
    if row.model_definition is not None:
        out["model_definition"] = encode_model_definition(row.model_definition)
    out.update(weight=row.weight, created_at=row.created_at, linkage_type=row.linkage_type)
    _put(out, "created_by", row.created_by)
    _put(out, "fallback_order", row.fallback_order)
    return out


def encode_endpoint(row: EndpointRow) -> Json:
    out: Json = {
        "endpoint_id": row.endpoint_id,
        "name": row.name,
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
        "model_mappings": [encode_mapping(m) for m in row.mappings],
        "tags": [{"key": k, "value": v} if v else {"key": k} for k, v in row.tags],
    }
    _put(out, "created_by", row.created_by)
    _put(out, "last_updated_by", row.last_updated_by)
    _put(out, "routing_strategy", row.routing_strategy)
    if row.fallback_config is not None:
        stored = json.loads(row.fallback_config)
        out["fallback_config"] = {k: v for k, v in stored.items() if v is not None}
    if row.experiment_id is not None:
        out["experiment_id"] = str(row.experiment_id)
    out["usage_tracking"] = row.usage_tracking
    return out


def encode_binding(row: BindingRow) -> Json:
    out: Json = {
        "endpoint_id": row.endpoint_id,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
    }
    _put(out, "created_by", row.created_by)
    _put(out, "last_updated_by", row.last_updated_by)
    _put(out, "display_name", row.display_name)
    return out


def _model_config(f: Fields, where: str) -> ModelConfig:
    return check_model_config(
        f.str("model_definition_id"), f.raw("linkage_type"), f.float("weight"), f.int("fallback_order"), where
    )


def _model_configs(f: Fields) -> list[ModelConfig]:
    return [_model_config(item, f"model_configs[{i}]") for i, item in enumerate(f.objects("model_configs"))]


def _object(f: Fields, name: str) -> Fields | None:
    value = f.raw(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid value for parameter '{name}': expected an object.")
    return Fields(value, path=name)


def _fallback(f: Fields) -> tuple[str | None, int | None] | None:
    given = _object(f, "fallback_config")
    if given is None:
        return None
    attempts = given.int("max_attempts")
    if attempts is not None and not 0 <= attempts < 2**31:
        raise InvalidParameter("fallback_config.max_attempts must be a non-negative 32-bit integer.")
    return check_enum(given.raw("strategy"), "fallback_config.strategy", FALLBACK_STRATEGIES), attempts


def _routing(f: Fields) -> str | None:
    return check_enum(f.raw("routing_strategy"), "routing_strategy", ROUTING_STRATEGIES)


# -- secrets -------------------------------------------------------------------------------------


def create_secret(f: Fields, gateway: Gateway) -> Json:
    row = gateway.create_secret(
        name=f.str("secret_name"),
        value=f.raw("secret_value"),
        provider=f.str("provider"),
        auth_config=f.raw("auth_config"),
        created_by=f.str("created_by"),
    )
    return {"secret": encode_secret(row)}


def get_secret(f: Fields, gateway: Gateway) -> Json:
    return {"secret": encode_secret(gateway.get_secret(f.str("secret_id"), f.str("secret_name")))}


def update_secret(f: Fields, gateway: Gateway) -> Json:
    row = gateway.update_secret(
        f.str("secret_id"),
        value=f.raw("secret_value"),
        auth_config=f.raw("auth_config"),
        updated_by=f.str("updated_by"),
    )
    return {"secret": encode_secret(row)}


def delete_secret(f: Fields, gateway: Gateway) -> Json:
    gateway.delete_secret(f.str("secret_id"))
    return {}


def list_secrets(f: Fields, gateway: Gateway) -> Json:
    rows = gateway.list_secrets(f.str("provider"))
    return {"secrets": [encode_secret(r) for r in rows]} if rows else {}


# -- model definitions ---------------------------------------------------------------------------


def create_model_definition(f: Fields, gateway: Gateway) -> Json:
    row = gateway.create_model_definition(
        name=f.str("name"),
        secret_id=f.str("secret_id"),
        provider=f.str("provider"),
        model_name=f.str("model_name"),
        created_by=f.str("created_by"),
    )
    return {"model_definition": encode_model_definition(row)}


def get_model_definition(f: Fields, gateway: Gateway) -> Json:
    return {
        "model_definition": encode_model_definition(
            gateway.get_model_definition(f.str("model_definition_id"))
        )
    }


def list_model_definitions(f: Fields, gateway: Gateway) -> Json:
    rows = gateway.list_model_definitions(f.str("provider"), f.str("secret_id"))
    return {"model_definitions": [encode_model_definition(r) for r in rows]} if rows else {}


def update_model_definition(f: Fields, gateway: Gateway) -> Json:
    row = gateway.update_model_definition(
        f.str("model_definition_id"),
        name=f.str("name"),
        secret_id=f.str("secret_id"),
        model_name=f.str("model_name"),
        provider=f.str("provider"),
        updated_by=f.str("updated_by"),
    )
    return {"model_definition": encode_model_definition(row)}


def delete_model_definition(f: Fields, gateway: Gateway) -> Json:
    gateway.delete_model_definition(f.str("model_definition_id"))
    return {}


# -- endpoints -----------------------------------------------------------------------------------


def create_endpoint(f: Fields, endpoints: GatewayEndpoints) -> Json:
    usage_tracking = f.bool("usage_tracking")
    row = endpoints.create_endpoint(
        name=f.str("name"),
        configs=_model_configs(f),
        created_by=f.str("created_by"),
        routing_strategy=_routing(f),
        fallback=_fallback(f),
        experiment_id=f.str("experiment_id"),
        usage_tracking=True if usage_tracking is None else usage_tracking,
    )
    return {"endpoint": encode_endpoint(row)}


def get_endpoint(f: Fields, endpoints: GatewayEndpoints) -> Json:
    return {"endpoint": encode_endpoint(endpoints.get_endpoint(f.str("endpoint_id"), f.str("name")))}


def update_endpoint(f: Fields, endpoints: GatewayEndpoints) -> Json:
    row = endpoints.update_endpoint(
        f.str("endpoint_id"),
        name=f.str("name"),
        configs=_model_configs(f) or None,  # none given: the models stay as they are
        updated_by=f.str("updated_by"),
        routing_strategy=_routing(f),
        fallback=_fallback(f),
        experiment_id=f.str("experiment_id"),
        usage_tracking=f.bool("usage_tracking"),
    )
    return {"endpoint": encode_endpoint(row)}


def delete_endpoint(f: Fields, endpoints: GatewayEndpoints) -> Json:
    endpoints.delete_endpoint(f.str("endpoint_id"))
    return {}


def list_endpoints(f: Fields, endpoints: GatewayEndpoints) -> Json:
    rows = endpoints.list_endpoints(f.str("provider"), f.str("secret_id"))
    return {"endpoints": [encode_endpoint(r) for r in rows]} if rows else {}


def attach_model(f: Fields, endpoints: GatewayEndpoints) -> Json:
    given = _object(f, "model_config")
    if given is None:
        raise InvalidParameter(
            "Missing value for required parameter 'model_config'. See the API docs for more information."
        )
    mapping = endpoints.attach_model(
        f.str("endpoint_id"), _model_config(given, "model_config"), f.str("created_by")
    )
    return {"mapping": encode_mapping(mapping)}


def detach_model(f: Fields, endpoints: GatewayEndpoints) -> Json:
    endpoints.detach_model(f.str("endpoint_id"), f.str("model_definition_id"))
    return {}


def create_binding(f: Fields, endpoints: GatewayEndpoints) -> Json:
    row = endpoints.create_binding(
        f.str("endpoint_id"), f.str("resource_type"), f.str("resource_id"), f.str("created_by")
    )
    return {"binding": encode_binding(row)}


def delete_binding(f: Fields, endpoints: GatewayEndpoints) -> Json:
    endpoints.delete_binding(f.str("endpoint_id"), f.str("resource_type"), f.str("resource_id"))
    return {}


def list_bindings(f: Fields, endpoints: GatewayEndpoints) -> Json:
    rows = endpoints.list_bindings(f.str("endpoint_id"), f.str("resource_type"), f.str("resource_id"))
    return {"bindings": [encode_binding(r) for r in rows]} if rows else {}


def set_endpoint_tag(f: Fields, endpoints: GatewayEndpoints) -> Json:
    endpoints.set_tag(f.str("endpoint_id"), f.str("key"), f.str("value"))
    return {}


def delete_endpoint_tag(f: Fields, endpoints: GatewayEndpoints) -> Json:
    endpoints.delete_tag(f.str("endpoint_id"), f.str("key"))
    return {}


# -- the pages' catalogue ------------------------------------------------------------------------


def supported_providers(f: Fields, gateway: Gateway) -> Json:
    return {"providers": catalogue.providers()}


def supported_models(f: Fields, gateway: Gateway) -> Json:
    return {"models": catalogue.models(f.str("provider") or None)}


def provider_config(f: Fields, gateway: Gateway) -> Json:
    return catalogue.provider_config(f.str("provider"))


def secrets_config(f: Fields, gateway: Gateway) -> Json:
    # No built-in default key: secrets can be stored exactly when a key is configured.
    return {"secrets_available": gateway.secrets.available, "using_default_passphrase": False}


_G, _E = "gateway", "gateway_endpoints"
# (methods, path under /mlflow/, handler, service name), as in tracklight.http.routes (API 3.0).
GATEWAY_ROUTES: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("POST",), "gateway/secrets/create", create_secret, _G),
    (("GET",), "gateway/secrets/get", get_secret, _G),
    (("POST",), "gateway/secrets/update", update_secret, _G),
    (("DELETE",), "gateway/secrets/delete", delete_secret, _G),
    (("GET",), "gateway/secrets/list", list_secrets, _G),
    (("POST",), "gateway/endpoints/create", create_endpoint, _E),
    (("GET",), "gateway/endpoints/get", get_endpoint, _E),
    (("POST",), "gateway/endpoints/update", update_endpoint, _E),
    (("DELETE",), "gateway/endpoints/delete", delete_endpoint, _E),
    (("GET",), "gateway/endpoints/list", list_endpoints, _E),
    (("POST",), "gateway/model-definitions/create", create_model_definition, _G),
    (("GET",), "gateway/model-definitions/get", get_model_definition, _G),
    (("GET",), "gateway/model-definitions/list", list_model_definitions, _G),
    (("POST",), "gateway/model-definitions/update", update_model_definition, _G),
    (("DELETE",), "gateway/model-definitions/delete", delete_model_definition, _G),
    (("POST",), "gateway/endpoints/models/attach", attach_model, _E),
    (("POST",), "gateway/endpoints/models/detach", detach_model, _E),
    (("POST",), "gateway/endpoints/bindings/create", create_binding, _E),
    (("DELETE",), "gateway/endpoints/bindings/delete", delete_binding, _E),
    (("GET",), "gateway/endpoints/bindings/list", list_bindings, _E),
    (("POST",), "gateway/endpoints/set-tag", set_endpoint_tag, _E),
    (("DELETE",), "gateway/endpoints/delete-tag", delete_endpoint_tag, _E),
    (("GET",), "gateway/supported-providers", supported_providers, _G),
    (("GET",), "gateway/supported-models", supported_models, _G),
    (("GET",), "gateway/provider-config", provider_config, _G),
    (("GET",), "gateway/secrets/config", secrets_config, _G),
]
