"""Every route the server answers, read from its own tables, and the request fields each one takes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tracklight.application import assemble
from tracklight.config import load_settings
from tracklight.http.app import TracklightApp

Route = tuple[str, str]  # (method, path template without a leading slash)


def server_routes() -> list[Route]:
    """(method, path template) of every route the built app answers (TracklightApp.route_templates), in
    the /api form: the /ajax-api mirrors are drawn at random in its place. The app is built on a throwaway
    SQLite file and artifact directory."""
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'routes.db'}"
        settings = load_settings(backend_store_uri=uri, artifacts_destination=tmp, log_format="text")
        application = assemble(settings)
        try:
            templates = TracklightApp(application).route_templates()
        finally:
            if application.db is not None:
                application.db.engine.dispose()
    return sorted({(m, p.lstrip("/")) for m, p in templates if not p.startswith("/ajax-api/")})


# The request fields of each route and what kind of value each one is (see fuzz.values.KINDS).
FIELDS: dict[Route, dict[str, str]] = {
    ("POST", "api/2.0/mlflow/experiments/create"): {
        "name": "new_name",
        "artifact_location": "artifact_uri",
        "tags": "tags",
    },
    ("GET", "api/2.0/mlflow/experiments/get"): {"experiment_id": "experiment_id"},
    ("GET", "api/2.0/mlflow/experiments/get-by-name"): {"experiment_name": "experiment_name"},
    ("GET", "api/2.0/mlflow/experiments/search"): {
        "filter": "experiment_filter",
        "view_type": "view_type",
        "order_by": "order_by",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("POST", "api/2.0/mlflow/experiments/search"): {
        "filter": "experiment_filter",
        "view_type": "view_type",
        "order_by": "order_by",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("POST", "api/2.0/mlflow/experiments/update"): {"experiment_id": "experiment_id", "new_name": "new_name"},
    ("POST", "api/2.0/mlflow/experiments/delete"): {"experiment_id": "experiment_id"},
    ("POST", "api/2.0/mlflow/experiments/restore"): {"experiment_id": "experiment_id"},
    ("POST", "api/2.0/mlflow/experiments/set-experiment-tag"): {
        "experiment_id": "experiment_id",
        "key": "key",
        "value": "text",
    },
    ("POST", "api/2.0/mlflow/experiments/delete-experiment-tag"): {
        "experiment_id": "experiment_id",
        "key": "key",
    },
    ("POST", "api/2.0/mlflow/runs/create"): {
        "experiment_id": "experiment_id",
        "user_id": "text",
        "run_name": "text",
        "start_time": "int",
        "tags": "tags",
    },
    ("GET", "api/2.0/mlflow/runs/get"): {"run_id": "run_id", "run_uuid": "run_id"},
    ("POST", "api/2.0/mlflow/runs/update"): {
        "run_id": "run_id",
        "status": "run_status",
        "end_time": "int",
        "run_name": "text",
    },
    ("POST", "api/2.0/mlflow/runs/delete"): {"run_id": "run_id"},
    ("POST", "api/2.0/mlflow/runs/restore"): {"run_id": "run_id"},
    ("POST", "api/2.0/mlflow/runs/search"): {
        "experiment_ids": "experiment_ids",
        "filter": "run_filter",
        "run_view_type": "view_type",
        "order_by": "order_by",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("POST", "api/2.0/mlflow/runs/set-tag"): {"run_id": "run_id", "key": "key", "value": "text"},
    ("POST", "api/2.0/mlflow/runs/delete-tag"): {"run_id": "run_id", "key": "key"},
    ("POST", "api/2.0/mlflow/runs/log-metric"): {
        "run_id": "run_id",
        "key": "key",
        "value": "number",
        "timestamp": "int",
        "step": "int",
        "model_id": "model_id",
        "dataset_name": "text",
        "dataset_digest": "text",
    },
    ("POST", "api/2.0/mlflow/runs/log-parameter"): {"run_id": "run_id", "key": "key", "value": "text"},
    ("POST", "api/2.0/mlflow/runs/log-batch"): {
        "run_id": "run_id",
        "metrics": "metrics",
        "params": "tags",
        "tags": "tags",
    },
    ("POST", "api/2.0/mlflow/runs/log-inputs"): {
        "run_id": "run_id",
        "datasets": "dataset_inputs",
        "models": "model_refs",
    },
    ("POST", "api/2.0/mlflow/runs/outputs"): {"run_id": "run_id", "models": "model_refs"},
    ("POST", "api/2.0/mlflow/runs/log-model"): {"run_id": "run_id", "model_json": "model_json"},
    ("GET", "api/2.0/mlflow/metrics/get-history"): {
        "run_id": "run_id",
        "metric_key": "key",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("GET", "api/2.0/mlflow/metrics/get-history-bulk-interval"): {
        "run_ids": "run_ids",
        "metric_key": "key",
        "max_results": "int",
        "start_step": "int",
        "end_step": "int",
    },
    ("GET", "api/2.0/mlflow/artifacts/list"): {"run_id": "run_id", "path": "artifact_path"},
    ("GET", "api/2.0/mlflow/metrics/get-history-bulk"): {
        "run_id": "run_ids",
        "metric_key": "key",
        "max_results": "int",
    },
    ("POST", "api/2.0/mlflow/experiments/search-datasets"): {"experiment_ids": "experiment_ids"},
    ("POST", "api/2.0/mlflow/runs/create-promptlab-run"): {
        "experiment_id": "experiment_id",
        "run_name": "text",
        "user_id": "text",
        "start_time": "int",
        "tags": "tags",
        "prompt_template": "text",
        "prompt_parameters": "stringified_pairs",
        "model_route": "text",
        "model_parameters": "stringified_pairs",
        "model_input": "text",
        "model_output": "text",
        "model_output_parameters": "stringified_pairs",
        "mlflow_version": "text",
    },
    # the web UI's raw routes: GraphQL, a small upload (fields in the query, the body raw), a model's file
    **{
        (method, path): {
            "query": "graphql_document",
            "variables": "graphql_variables",
            "operationName": "text",
        }
        for method in ("GET", "POST")
        for path in ("graphql", "api/2.0/mlflow/graphql")
    },
    ("POST", "api/2.0/mlflow/upload-artifact"): {"run_uuid": "run_id", "path": "artifact_path"},
    ("GET", "api/2.0/mlflow/logged-models/{model_id}/artifacts/files"): {"artifact_file_path": "model_file"},
    # MLflow traces: the legacy v2 API, the v3 API, the streamed reads and OTLP ingest
    ("POST", "api/2.0/mlflow/traces"): {
        "experiment_id": "experiment_id",
        "timestamp_ms": "int",
        "request_metadata": "tags",
        "tags": "tags",
    },
    ("GET", "api/2.0/mlflow/traces"): {
        "experiment_ids": "experiment_ids",
        "filter": "text",
        "max_results": "int",
        "order_by": "order_by",
        "page_token": "page_token",
    },
    ("PATCH", "api/2.0/mlflow/traces/{request_id}"): {
        "timestamp_ms": "int",
        "status": "text",
        "request_metadata": "tags",
        "tags": "tags",
    },
    ("GET", "api/2.0/mlflow/traces/{request_id}/info"): {},
    ("PATCH", "api/2.0/mlflow/traces/{request_id}/tags"): {"key": "key", "value": "text"},
    ("DELETE", "api/2.0/mlflow/traces/{request_id}/tags"): {"key": "key"},
    **{
        (method, f"api/{v}/mlflow/traces/delete-traces"): {
            "experiment_id": "experiment_id",
            "max_timestamp_millis": "int",
            "max_traces": "int",
            "request_ids": "keys",
        }
        for v in ("2.0", "3.0")
        for method in ("POST",)
    },
    **{
        ("POST", f"api/{v}/mlflow/traces/link-to-run"): {"trace_ids": "keys", "run_id": "run_id"}
        for v in ("2.0", "3.0")
    },
    ("POST", "api/2.0/mlflow/traces/link-prompts"): {"trace_id": "text", "prompt_versions": "model_json"},
    ("POST", "api/3.0/mlflow/traces"): {"trace": "model_json"},
    ("GET", "api/3.0/mlflow/traces/{trace_id}"): {},
    ("GET", "api/3.0/mlflow/traces/get"): {"trace_id": "text", "allow_partial": "bool"},
    ("GET", "api/3.0/mlflow/traces/batchGet"): {"trace_ids": "keys"},
    ("POST", "api/3.0/mlflow/traces/batchGetInfos"): {
        "trace_ids": "keys",
        "experiment_ids": "experiment_ids",
    },
    ("POST", "api/3.0/mlflow/traces/search"): {
        "locations": "model_json",
        "filter": "text",
        "max_results": "int",
        "order_by": "order_by",
        "page_token": "page_token",
    },
    ("PATCH", "api/3.0/mlflow/traces/{trace_id}/tags"): {"key": "key", "value": "text"},
    ("DELETE", "api/3.0/mlflow/traces/{trace_id}/tags"): {"key": "key"},
    ("POST", "api/3.0/mlflow/traces/metrics"): {
        "experiment_ids": "experiment_ids",
        "view_type": "text",
        "metric_name": "text",
        "aggregations": "model_json",
        "dimensions": "keys",
        "filters": "keys",
        "time_interval_seconds": "int",
        "start_time_ms": "int",
        "end_time_ms": "int",
        "max_results": "int",
    },
    ("POST", "api/3.0/mlflow/traces/calculate-filter-correlation"): {
        "experiment_ids": "experiment_ids",
        "filter_string1": "text",
        "filter_string2": "text",
        "base_filter": "text",
    },
    ("POST", "api/3.0/mlflow/traces/{trace_id}/assessments"): {"assessment": "model_json"},
    ("GET", "api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}"): {},
    ("PATCH", "api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}"): {
        "assessment": "model_json",
        "update_mask": "text",
    },
    ("DELETE", "api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}"): {},
    **{("GET", f"api/{v}/mlflow/get-trace-artifact"): {"request_id": "text"} for v in ("2.0", "3.0")},
    ("POST", "v1/traces"): {"resourceSpans": "model_json"},
    # MLflow 3 evaluation datasets (API 3.0 only)
    ("POST", "api/3.0/mlflow/datasets/create"): {
        "name": "new_name",
        "experiment_ids": "experiment_ids",
        "tags": "dataset_tags",
    },
    **{
        (method, "api/3.0/mlflow/datasets/search"): {
            "experiment_ids": "experiment_ids",
            "filter_string": "dataset_filter",
            "order_by": "dataset_order",
            "max_results": "int",
            "page_token": "page_token",
        }
        for method in ("GET", "POST")
    },
    ("GET", "api/3.0/mlflow/datasets/{dataset_id}"): {},
    ("DELETE", "api/3.0/mlflow/datasets/{dataset_id}"): {},
    ("PATCH", "api/3.0/mlflow/datasets/{dataset_id}/tags"): {"tags": "dataset_tags"},
    ("DELETE", "api/3.0/mlflow/datasets/{dataset_id}/tags/{key:path}"): {},
    ("POST", "api/3.0/mlflow/datasets/{dataset_id}/records"): {"records": "records"},
    ("GET", "api/3.0/mlflow/datasets/{dataset_id}/records"): {
        "max_results": "int",
        "page_token": "page_token",
    },
    ("DELETE", "api/3.0/mlflow/datasets/{dataset_id}/records"): {"dataset_record_ids": "record_ids"},
    ("GET", "api/3.0/mlflow/datasets/{dataset_id}/experiment-ids"): {},
    ("POST", "api/3.0/mlflow/datasets/{dataset_id}/add-experiments"): {"experiment_ids": "experiment_ids"},
    ("POST", "api/3.0/mlflow/datasets/{dataset_id}/remove-experiments"): {"experiment_ids": "experiment_ids"},
    # MLflow 3 registered scorers and issues (API 3.0 only)
    ("POST", "api/3.0/mlflow/scorers/register"): {
        "experiment_id": "experiment_id",
        "name": "scorer_name",
        "serialized_scorer": "serialized_scorer",
    },
    ("GET", "api/3.0/mlflow/scorers/list"): {"experiment_id": "experiment_id"},
    ("GET", "api/3.0/mlflow/scorers/versions"): {"experiment_id": "experiment_id", "name": "scorer_name"},
    ("GET", "api/3.0/mlflow/scorers/get"): {
        "experiment_id": "experiment_id",
        "name": "scorer_name",
        "version": "version",
    },
    ("DELETE", "api/3.0/mlflow/scorers/delete"): {
        "experiment_id": "experiment_id",
        "name": "scorer_name",
        "version": "version",
    },
    ("PUT", "api/3.0/mlflow/scorers/online-config"): {
        "experiment_id": "experiment_id",
        "name": "scorer_name",
        "sample_rate": "number",
        "filter_string": "text",
    },
    ("GET", "api/3.0/mlflow/scorers/online-configs"): {"scorer_ids": "scorer_ids"},
    ("POST", "api/3.0/mlflow/issues"): {
        "experiment_id": "experiment_id",
        "name": "text",
        "description": "text",
        "status": "issue_status",
        "severity": "issue_severity",
        "root_causes": "keys",
        "categories": "keys",
        "source_run_id": "run_id",
        "created_by": "text",
    },
    ("POST", "api/3.0/mlflow/issues/search"): {
        "experiment_id": "experiment_id",
        "filter_string": "issue_filter",
        "max_results": "int",
        "page_token": "page_token",
        "include_trace_count": "bool",
    },
    ("GET", "api/3.0/mlflow/issues/{issue_id}"): {},
    ("PATCH", "api/3.0/mlflow/issues/{issue_id}"): {
        "name": "text",
        "description": "text",
        "status": "issue_status",
        "severity": "issue_severity",
    },
    # MLflow 3 logged models
    ("POST", "api/2.0/mlflow/logged-models"): {
        "experiment_id": "experiment_id",
        "name": "text",
        "model_type": "text",
        "source_run_id": "run_id",
        "params": "tags",
        "tags": "tags",
    },
    ("POST", "api/2.0/mlflow/logged-models/search"): {
        "experiment_ids": "experiment_ids",
        "filter": "model_filter",
        "datasets": "dataset_scopes",
        "order_by": "model_order",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("GET", "api/2.0/mlflow/logged-models/{model_id}"): {"allow_deleted": "bool"},
    ("PATCH", "api/2.0/mlflow/logged-models/{model_id}"): {"status": "model_status"},
    ("DELETE", "api/2.0/mlflow/logged-models/{model_id}"): {},
    ("PATCH", "api/2.0/mlflow/logged-models/{model_id}/tags"): {"tags": "tags"},
    ("DELETE", "api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key:path}"): {},
    ("POST", "api/2.0/mlflow/logged-models/{model_id}/params"): {"params": "tags"},
    ("GET", "api/2.0/mlflow/logged-models/{model_id}/artifacts/directories"): {
        "artifact_directory_path": "artifact_path"
    },
    # the model registry
    ("POST", "api/2.0/mlflow/registered-models/create"): {
        "name": "model_name",
        "description": "text",
        "tags": "tags",
    },
    ("GET", "api/2.0/mlflow/registered-models/get"): {"name": "model_name"},
    ("POST", "api/2.0/mlflow/registered-models/rename"): {"name": "model_name", "new_name": "model_name"},
    ("PATCH", "api/2.0/mlflow/registered-models/update"): {"name": "model_name", "description": "text"},
    ("DELETE", "api/2.0/mlflow/registered-models/delete"): {"name": "model_name"},
    ("GET", "api/2.0/mlflow/registered-models/search"): {
        "filter": "registry_filter",
        "order_by": "order_by",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("GET", "api/2.0/mlflow/registered-models/get-latest-versions"): {
        "name": "model_name",
        "stages": "stages",
    },
    ("POST", "api/2.0/mlflow/registered-models/get-latest-versions"): {
        "name": "model_name",
        "stages": "stages",
    },
    ("POST", "api/2.0/mlflow/registered-models/set-tag"): {
        "name": "model_name",
        "key": "key",
        "value": "text",
    },
    ("DELETE", "api/2.0/mlflow/registered-models/delete-tag"): {"name": "model_name", "key": "key"},
    ("POST", "api/2.0/mlflow/registered-models/alias"): {
        "name": "model_name",
        "alias": "alias",
        "version": "version",
    },
    ("DELETE", "api/2.0/mlflow/registered-models/alias"): {"name": "model_name", "alias": "alias"},
    ("GET", "api/2.0/mlflow/registered-models/alias"): {"name": "model_name", "alias": "alias"},
    ("POST", "api/2.0/mlflow/model-versions/create"): {
        "name": "model_name",
        "source": "artifact_uri",
        "run_id": "run_id",
        "model_id": "model_id",
        "run_link": "text",
        "description": "text",
        "tags": "tags",
    },
    ("GET", "api/2.0/mlflow/model-versions/get"): {"name": "model_name", "version": "version"},
    ("PATCH", "api/2.0/mlflow/model-versions/update"): {
        "name": "model_name",
        "version": "version",
        "description": "text",
    },
    ("DELETE", "api/2.0/mlflow/model-versions/delete"): {"name": "model_name", "version": "version"},
    ("GET", "api/2.0/mlflow/model-versions/search"): {
        "filter": "registry_filter",
        "order_by": "order_by",
        "max_results": "int",
        "page_token": "page_token",
    },
    ("GET", "api/2.0/mlflow/model-versions/get-download-uri"): {"name": "model_name", "version": "version"},
    ("POST", "api/2.0/mlflow/model-versions/transition-stage"): {
        "name": "model_name",
        "version": "version",
        "stage": "stage",
        "archive_existing_versions": "bool",
    },
    ("POST", "api/2.0/mlflow/model-versions/set-tag"): {
        "name": "model_name",
        "version": "version",
        "key": "key",
        "value": "text",
    },
    ("POST", "api/2.0/mlflow/webhooks"): {
        "name": "new_name",
        "url": "webhook_url",
        "events": "webhook_events",
        "description": "text",
        "secret": "text",
        "status": "webhook_status",
    },
    ("GET", "api/2.0/mlflow/webhooks"): {"max_results": "int", "page_token": "page_token"},
    ("GET", "api/2.0/mlflow/webhooks/{webhook_id}"): {},
    ("PATCH", "api/2.0/mlflow/webhooks/{webhook_id}"): {
        "name": "new_name",
        "url": "webhook_url",
        "events": "webhook_events",
        "description": "text",
        "secret": "text",
        "status": "webhook_status",
    },
    ("DELETE", "api/2.0/mlflow/webhooks/{webhook_id}"): {},
    ("POST", "api/2.0/mlflow/webhooks/{webhook_id}/test"): {"event": "webhook_event"},
    ("DELETE", "api/2.0/mlflow/model-versions/delete-tag"): {
        "name": "model_name",
        "version": "version",
        "key": "key",
    },
    # the AI gateway's configuration (API 3.0 only) and the catalogue its pages read
    ("POST", "api/3.0/mlflow/gateway/secrets/create"): {
        "secret_name": "new_name",
        "secret_value": "secret_value",
        "provider": "provider",
        "auth_config": "auth_config",
        "created_by": "text",
    },
    ("GET", "api/3.0/mlflow/gateway/secrets/get"): {"secret_id": "secret_id", "secret_name": "secret_name"},
    ("POST", "api/3.0/mlflow/gateway/secrets/update"): {
        "secret_id": "secret_id",
        "secret_value": "secret_value",
        "auth_config": "auth_config",
        "updated_by": "text",
    },
    ("DELETE", "api/3.0/mlflow/gateway/secrets/delete"): {"secret_id": "secret_id"},
    ("GET", "api/3.0/mlflow/gateway/secrets/list"): {"provider": "provider"},
    ("GET", "api/3.0/mlflow/gateway/secrets/config"): {},
    ("POST", "api/3.0/mlflow/gateway/model-definitions/create"): {
        "name": "new_name",
        "secret_id": "secret_id",
        "provider": "provider",
        "model_name": "text",
        "created_by": "text",
    },
    ("GET", "api/3.0/mlflow/gateway/model-definitions/get"): {"model_definition_id": "model_definition_id"},
    ("GET", "api/3.0/mlflow/gateway/model-definitions/list"): {
        "provider": "provider",
        "secret_id": "secret_id",
    },
    ("POST", "api/3.0/mlflow/gateway/model-definitions/update"): {
        "model_definition_id": "model_definition_id",
        "name": "new_name",
        "secret_id": "secret_id",
        "model_name": "text",
        "provider": "provider",
        "updated_by": "text",
    },
    ("DELETE", "api/3.0/mlflow/gateway/model-definitions/delete"): {
        "model_definition_id": "model_definition_id"
    },
    ("POST", "api/3.0/mlflow/gateway/endpoints/create"): {
        "name": "endpoint_name",
        "model_configs": "model_configs",
        "created_by": "text",
        "routing_strategy": "routing_strategy",
        "fallback_config": "fallback_config",
        "experiment_id": "experiment_id",
        "usage_tracking": "bool",
    },
    ("GET", "api/3.0/mlflow/gateway/endpoints/get"): {"endpoint_id": "endpoint_id", "name": "endpoint_name"},
    ("POST", "api/3.0/mlflow/gateway/endpoints/update"): {
        "endpoint_id": "endpoint_id",
        "name": "endpoint_name",
        "model_configs": "model_configs",
        "updated_by": "text",
        "routing_strategy": "routing_strategy",
        "fallback_config": "fallback_config",
        "experiment_id": "experiment_id",
        "usage_tracking": "bool",
    },
    ("DELETE", "api/3.0/mlflow/gateway/endpoints/delete"): {"endpoint_id": "endpoint_id"},
    ("GET", "api/3.0/mlflow/gateway/endpoints/list"): {"provider": "provider", "secret_id": "secret_id"},
    ("POST", "api/3.0/mlflow/gateway/endpoints/models/attach"): {
        "endpoint_id": "endpoint_id",
        "model_config": "model_config",
        "created_by": "text",
    },
    ("POST", "api/3.0/mlflow/gateway/endpoints/models/detach"): {
        "endpoint_id": "endpoint_id",
        "model_definition_id": "model_definition_id",
    },
    ("POST", "api/3.0/mlflow/gateway/endpoints/bindings/create"): {
        "endpoint_id": "endpoint_id",
        "resource_type": "resource_type",
        "resource_id": "text",
        "created_by": "text",
    },
    ("DELETE", "api/3.0/mlflow/gateway/endpoints/bindings/delete"): {
        "endpoint_id": "endpoint_id",
        "resource_type": "resource_type",
        "resource_id": "text",
    },
    ("GET", "api/3.0/mlflow/gateway/endpoints/bindings/list"): {
        "endpoint_id": "endpoint_id",
        "resource_type": "resource_type",
        "resource_id": "text",
    },
    ("POST", "api/3.0/mlflow/gateway/endpoints/set-tag"): {
        "endpoint_id": "endpoint_id",
        "key": "key",
        "value": "text",
    },
    ("DELETE", "api/3.0/mlflow/gateway/endpoints/delete-tag"): {"endpoint_id": "endpoint_id", "key": "key"},
    ("GET", "api/3.0/mlflow/gateway/supported-providers"): {},
    ("GET", "api/3.0/mlflow/gateway/supported-models"): {"provider": "provider"},
    ("GET", "api/3.0/mlflow/gateway/provider-config"): {"provider": "provider"},
    # the mlflow-artifacts protocol: the part of the path after the route name is fuzzed too
    ("GET", "api/2.0/mlflow-artifacts/artifacts"): {"path": "artifact_path"},
    ("PUT", "api/2.0/mlflow-artifacts/artifacts"): {},
    ("DELETE", "api/2.0/mlflow-artifacts/artifacts"): {},
    ("POST", "api/2.0/mlflow-artifacts/mpu/create"): {"path": "artifact_path", "num_parts": "int"},
    ("POST", "api/2.0/mlflow-artifacts/mpu/complete"): {
        "path": "artifact_path",
        "upload_id": "text",
        "parts": "parts",
    },
    ("POST", "api/2.0/mlflow-artifacts/mpu/abort"): {"path": "artifact_path", "upload_id": "text"},
    ("GET", "api/2.0/mlflow-artifacts/presigned"): {},
    # the UI's downloads and the plain endpoints
    ("GET", "get-artifact"): {"run_id": "run_id", "path": "artifact_path"},
    ("GET", "model-versions/get-artifact"): {
        "name": "model_name",
        "version": "version",
        "path": "artifact_path",
    },
    ("GET", "api/3.0/mlflow/server-info"): {},
    ("GET", "health"): {},
    ("GET", "version"): {},
    ("GET", "metrics"): {},
    ("GET", "ready"): {},
}

# The web dashboard: pages and a JSON data route (GET, query strings), static files, and form posts.
_EXPERIMENTS_LIST = {"q": "text", "view": "experiments_view", "page": "page_token"}
_RUN_FILE = {"path": "preview_path"}
_GRANT = {"resource_type": "text", "resource": "text", "resource_id": "text", "permission": "text"}
DASHBOARD: dict[Route, dict[str, str]] = {
    ("GET", ""): _EXPERIMENTS_LIST,
    ("GET", "experiments"): _EXPERIMENTS_LIST,
    ("GET", "experiments/{experiment_id}"): {
        "filter": "run_filter",
        "sort": "sort_column",
        "dir": "direction",
        "lifecycle": "lifecycle",
        "size": "page_size",
        "page": "page_token",
        "param": "keys",
        "metric": "keys",
        "tag": "keys",
        "cols": "bool",
    },
    ("GET", "runs"): {
        "experiment": "experiment_ids",
        "filter": "run_filter",
        "sort": "sort_column",
        "dir": "direction",
        "lifecycle": "lifecycle",
        "size": "page_size",
        "page": "page_token",
        "back": "page_token",
    },
    ("GET", "dashboard-data/run-keys"): {"experiment": "experiment_ids"},
    ("GET", "experiments/{experiment_id}/traces"): {
        "filter": "text",
        "sort": "sort_column",
        "dir": "direction",
        "size": "page_size",
        "page": "page_token",
        "back": "page_token",
    },
    ("GET", "experiments/{experiment_id}/traces/{trace_id}"): {"span": "text", "spans": "int"},
    ("GET", "experiments/{experiment_id}/traces/{trace_id}/spans/{span_id}"): {},
    ("GET", "experiments/{experiment_id}/runs/{run_id}"): {},
    ("GET", "experiments/{experiment_id}/runs/{run_id}/live"): {},
    ("GET", "logged-models/{model_id}"): {},
    ("GET", "logged-models/{model_id}/artifacts"): {"path": "artifact_path"},
    ("GET", "logged-models/{model_id}/artifact"): _RUN_FILE,
    ("GET", "logged-models/{model_id}/artifact-raw"): _RUN_FILE,
    ("GET", "experiments/{experiment_id}/runs/{run_id}/artifacts"): {"path": "artifact_path"},
    ("GET", "experiments/{experiment_id}/runs/{run_id}/artifact"): _RUN_FILE,
    ("GET", "experiments/{experiment_id}/runs/{run_id}/artifact-raw"): _RUN_FILE,
    ("GET", "dashboard-data/metric-series"): {"key": "key", "run": "run_ids", "points": "int"},
    ("GET", "compare"): {"run": "run_ids"},
    ("GET", "models"): {"q": "text", "page": "page_token"},
    ("GET", "models/{name}"): {},
    ("GET", "models/{name}/versions/{version}"): {},
    ("GET", "static/{path:path}"): {},
    ("POST", "experiments/create"): {"name": "new_name", "return_to": "return_to"},
    ("POST", "experiments/{experiment_id}/rename"): {"name": "new_name", "return_to": "return_to"},
    ("POST", "experiments/{experiment_id}/delete"): {"return_to": "return_to"},
    ("POST", "experiments/{experiment_id}/restore"): {"return_to": "return_to"},
    ("POST", "experiments/{experiment_id}/runs/{run_id}/tags"): {"key": "key", "value": "text"},
    ("POST", "experiments/{experiment_id}/runs/{run_id}/tags/delete"): {"key": "key"},
    ("POST", "models/{name}/versions/{version}/alias"): {"alias": "alias"},
    ("POST", "models/{name}/versions/{version}/alias/delete"): {"alias": "alias"},
    ("POST", "models/{name}/versions/{version}/stage"): {"stage": "stage", "archive_existing": "bool"},
    ("POST", "models/{name}/versions/{version}/tags"): {"key": "key", "value": "text"},
    ("POST", "models/{name}/versions/{version}/tags/delete"): {"key": "key"},
    # Account and admin pages: the fuzzed server runs without auth, so they answer that auth is off.
    ("GET", "account"): {},
    ("POST", "account/tokens"): {"name": "text", "expires_days": "int"},
    ("POST", "account/tokens/{token}/revoke"): {},
    ("POST", "account/password"): {"current_password": "text", "password": "text", "repeat": "text"},
    ("GET", "admin"): {},
    ("GET", "admin/users"): {},
    ("POST", "admin/users/create"): {"username": "text", "password": "text", "is_admin": "bool"},
    ("GET", "admin/users/{user_id}"): {},
    ("POST", "admin/users/{user_id}/password"): {"password": "text"},
    ("POST", "admin/users/{user_id}/admin"): {"is_admin": "bool"},
    ("POST", "admin/users/{user_id}/delete"): {},
    ("POST", "admin/users/{user_id}/grants"): _GRANT,
    ("POST", "admin/users/{user_id}/grants/revoke"): _GRANT,
    ("GET", "admin/tokens"): {},
    ("POST", "admin/tokens/{token}/revoke"): {"user": "int"},
}
FIELDS.update(DASHBOARD)
# Dashboard routes that answer JSON (errors included); the others answer HTML pages.
DASHBOARD_JSON = {("GET", "dashboard-data/metric-series"), ("GET", "dashboard-data/run-keys")}

# Routes whose requests cost the most (each success writes a run and a file, or renders a page of runs):
# fewer examples in CI (see fuzz.conftest.route_settings).
SLOW_ROUTES = {
    ("POST", "api/2.0/mlflow/runs/create-promptlab-run"),
    ("GET", ""),
    ("GET", "experiments"),
    ("GET", "experiments/{experiment_id}"),
    ("GET", "dashboard-data/metric-series"),
    ("GET", "compare"),
    ("GET", "runs"),
    ("GET", "dashboard-data/run-keys"),
    ("GET", "experiments/{experiment_id}/traces"),
}

# Routes whose path goes on past the route's name (an artifact path), and what that suffix is.
PATH_SUFFIX: dict[Route, str] = {
    route: "artifact_path" for route in FIELDS if route[1].startswith("api/2.0/mlflow-artifacts/")
}
