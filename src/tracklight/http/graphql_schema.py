"""The GraphQL schema MLflow's web UI queries, answered by the REST handlers' own code.

Objects resolve from the REST API's JSON (snake_case keys); a field the JSON leaves out reads as the
protobuf default MLflow's server answers with ("" for strings, "0" for longs, [] for lists, an empty
object for messages), never as null, since the UI relies on that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLScalarType,
    Undefined,
    build_schema,
    get_named_type,
    is_enum_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.language import IntValueNode, StringValueNode, ValueNode

from tracklight.http import tracking
from tracklight.http.artifacts import list_run_artifacts
from tracklight.http.encode import experiment as encode_experiment
from tracklight.http.registry import model_version, search_model_versions
from tracklight.http.request import Fields

# Type and field names are MLflow's (the UI's queries and Apollo's cache key on them).
SDL = """
directive @component(name: String!) on QUERY | MUTATION

"A 64-bit integer, written as a string so that JavaScript does not round it."
scalar LongString

enum MlflowRunStatus { RUNNING SCHEDULED FINISHED FAILED KILLED }
enum MlflowViewType { ACTIVE_ONLY DELETED_ONLY ALL }
enum MlflowModelVersionStatus { PENDING_REGISTRATION FAILED_REGISTRATION READY }
enum MlflowDeploymentJobConnectionState {
  DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED NOT_SET_UP CONNECTED NOT_FOUND REQUIRED_PARAMETERS_CHANGED
}
enum MlflowModelVersionDeploymentJobStateDeploymentJobRunState {
  DEPLOYMENT_JOB_RUN_STATE_UNSPECIFIED NO_VALID_DEPLOYMENT_JOB_FOUND RUNNING SUCCEEDED FAILED PENDING APPROVAL
}

type ErrorDetail { field: String message: String }
type ApiError { code: String message: String helpUrl: String traceId: String errorDetails: [ErrorDetail] }

type Test { output: String }
type TestMutation { output: String }

type MlflowExperimentTag { key: String value: String }
type MlflowExperiment {
  experimentId: String name: String artifactLocation: String lifecycleStage: String
  lastUpdateTime: LongString creationTime: LongString tags: [MlflowExperimentTag!]
  effectiveTraceArchivalRetention: String workspace: String
}
type MlflowGetExperimentResponse { experiment: MlflowExperiment apiError: ApiError }

type MlflowRunInfo {
  runId: String runUuid: String runName: String experimentId: String userId: String
  status: MlflowRunStatus startTime: LongString endTime: LongString artifactUri: String lifecycleStage: String
}
type MlflowMetricExtension {
  key: String value: Float timestamp: LongString step: LongString
  datasetName: String datasetDigest: String modelId: String runId: String
}
type MlflowParam { key: String value: String }
type MlflowRunTag { key: String value: String }
type MlflowRunData { metrics: [MlflowMetricExtension!] params: [MlflowParam!] tags: [MlflowRunTag!] }
type MlflowDataset {
  name: String digest: String sourceType: String source: String schema: String profile: String
}
type MlflowInputTag { key: String value: String }
type MlflowDatasetInput { tags: [MlflowInputTag!] dataset: MlflowDataset }
type MlflowModelInput { modelId: String }
type MlflowRunInputs { datasetInputs: [MlflowDatasetInput!] modelInputs: [MlflowModelInput!] }
type MlflowModelOutput { modelId: String step: LongString }
type MlflowRunOutputs { modelOutputs: [MlflowModelOutput!] }
type MlflowRunExtension {
  info: MlflowRunInfo data: MlflowRunData inputs: MlflowRunInputs outputs: MlflowRunOutputs
  experiment: MlflowExperiment modelVersions: [MlflowModelVersion!]
}
type MlflowGetRunResponse { run: MlflowRunExtension apiError: ApiError }
type MlflowSearchRunsResponse { runs: [MlflowRunExtension!] nextPageToken: String apiError: ApiError }

type MlflowMetricWithRunId { key: String value: Float timestamp: LongString step: LongString runId: String }
type MlflowGetMetricHistoryBulkIntervalResponse { metrics: [MlflowMetricWithRunId!] apiError: ApiError }

type MlflowFileInfo { path: String isDir: Boolean fileSize: LongString }
type MlflowListArtifactsResponse {
  rootUri: String files: [MlflowFileInfo!] nextPageToken: String apiError: ApiError
}

type MlflowModelVersionTag { key: String value: String }
type MlflowModelParam { name: String value: String }
type MlflowModelMetric {
  key: String value: Float timestamp: LongString step: LongString
  datasetName: String datasetDigest: String modelId: String runId: String
}
type MlflowModelVersionDeploymentJobState {
  jobId: String runId: String jobState: MlflowDeploymentJobConnectionState
  runState: MlflowModelVersionDeploymentJobStateDeploymentJobRunState currentTaskName: String
}
type MlflowModelVersion {
  name: String version: String creationTimestamp: LongString lastUpdatedTimestamp: LongString
  userId: String currentStage: String description: String source: String runId: String
  status: MlflowModelVersionStatus statusMessage: String tags: [MlflowModelVersionTag!] runLink: String
  aliases: [String] modelId: String modelParams: [MlflowModelParam!] modelMetrics: [MlflowModelMetric!]
  deploymentJobState: MlflowModelVersionDeploymentJobState
}
type MlflowSearchModelVersionsResponse {
  modelVersions: [MlflowModelVersion!] nextPageToken: String apiError: ApiError
}

type MlflowDatasetSummary { experimentId: String name: String digest: String context: String }
type MlflowSearchDatasetsResponse { datasetSummaries: [MlflowDatasetSummary!] apiError: ApiError }

input MlflowGetExperimentInput { experimentId: String }
input MlflowGetRunInput { runId: String runUuid: String }
input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String] metricKey: String startStep: Int endStep: Int maxResults: Int
}
input MlflowListArtifactsInput { runId: String runUuid: String path: String pageToken: String }
input MlflowSearchModelVersionsInput {
  filter: String maxResults: LongString orderBy: [String] pageToken: String
}
input MlflowSearchRunsInput {
  experimentIds: [String] filter: String runViewType: MlflowViewType maxResults: Int
  orderBy: [String] pageToken: String
}
input MlflowSearchDatasetsInput { experimentIds: [String] }

type Query {
  test(inputString: String): Test
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetMetricHistoryBulkInterval(
    input: MlflowGetMetricHistoryBulkIntervalInput
  ): MlflowGetMetricHistoryBulkIntervalResponse
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowListArtifacts(input: MlflowListArtifactsInput): MlflowListArtifactsResponse
  mlflowSearchModelVersions(input: MlflowSearchModelVersionsInput): MlflowSearchModelVersionsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
}

type Mutation {
  testMutation(inputString: String): TestMutation
  mlflowSearchDatasets(input: MlflowSearchDatasetsInput): MlflowSearchDatasetsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
}
"""

Services = Mapping[str, Any]
Json = dict[str, Any]
_VERSION_BATCH = 100  # run ids per registry search when model versions are fetched for a page of runs


class QueryContext:
    """One request's services, and the experiments and model versions its runs link to, each fetched once.

    A page of runs asks for every run's experiment and model versions; runs mostly share experiments,
    and the versions of the whole page come in a few searches rather than one per run.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self._experiments: dict[str, Json] = {}
        self._versions: dict[str, list[Json]] = {}
        self._listed: list[str] = []

    def listed(self, runs: list[Json]) -> None:
        self._listed.extend(r["info"]["run_id"] for r in runs)

    def experiment(self, experiment_id: str) -> Json:
        if experiment_id not in self._experiments:
            found = self.services["experiments"].get(experiment_id)
            self._experiments[experiment_id] = encode_experiment(found)
        return self._experiments[experiment_id]

    def model_versions(self, run_id: str) -> list[Json]:
        if run_id not in self._versions:
            wanted = list(dict.fromkeys([run_id, *(r for r in self._listed if r not in self._versions)]))
            for start in range(0, len(wanted), _VERSION_BATCH):
                self._fetch_versions(wanted[start : start + _VERSION_BATCH])
        return self._versions[run_id]

    def _fetch_versions(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self._versions[run_id] = []
        # Run ids are hex digits the server issued, so they can stand in the filter as they are.
        quoted = ", ".join(f"'{r}'" for r in run_ids if r.isalnum())
        token = None
        while quoted:
            found, token = self.services["registry"].search_versions(
                filter_string=f"run_id IN ({quoted})", order_by=[], max_results=None, page_token=token
            )
            for mv in found:
                self._versions[mv.run_id].append(model_version(mv))
            if not token:
                break


def _long(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise GraphQLError(f"LongString cannot represent {value!r}")
    try:
        return int(value)
    except ValueError:
        raise GraphQLError(f"LongString cannot represent {value!r}") from None


def _long_literal(node: ValueNode, _variables: Any = None) -> Any:
    if isinstance(node, (IntValueNode, StringValueNode)):
        try:
            return int(node.value)
        except ValueError:
            return Undefined
    return Undefined


SCHEMA = build_schema(SDL)
_LONG = SCHEMA.type_map["LongString"]
assert isinstance(_LONG, GraphQLScalarType)
_LONG.serialize = lambda value: str(value)  # type: ignore[method-assign]
_LONG.parse_value = _long  # type: ignore[method-assign]
_LONG.parse_literal = _long_literal  # type: ignore[method-assign]

_SCALAR_DEFAULTS: dict[str, Any] = {"String": "", "LongString": 0, "Float": 0.0, "Int": 0, "Boolean": False}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _fields(args: dict[str, Any]) -> Fields:
    """A root field's `input` argument as the REST handlers read a request body."""
    given = args.get("input") or {}
    return Fields({_snake(k): v for k, v in given.items() if v is not None})


def _echo(context: QueryContext, args: dict[str, Any]) -> Json:
    return {"output": args.get("inputString")}


def _search_runs(context: QueryContext, args: dict[str, Any]) -> Json:
    page = tracking.search_runs(_fields(args), context.services["runs"])
    context.listed(page.get("runs", []))
    return page


# Root fields: (type, field) -> the REST handler it runs, given the request's context and the arguments.
_ROOTS: dict[tuple[str, str], Callable[[QueryContext, dict[str, Any]], Any]] = {
    ("Query", "test"): _echo,
    ("Mutation", "testMutation"): _echo,
    ("Query", "mlflowGetExperiment"): lambda c, a: tracking.get_experiment(
        _fields(a), c.services["experiments"]
    ),
    ("Query", "mlflowGetRun"): lambda c, a: tracking.get_run(_fields(a), c.services["runs"]),
    ("Query", "mlflowGetMetricHistoryBulkInterval"): lambda c, a: tracking.get_metric_history_bulk_interval(
        _fields(a), c.services["runs"]
    ),
    ("Query", "mlflowListArtifacts"): lambda c, a: list_run_artifacts(_fields(a), c.services["artifacts"]),
    ("Query", "mlflowSearchModelVersions"): lambda c, a: search_model_versions(
        _fields(a), c.services["registry"]
    ),
    ("Query", "mlflowSearchRuns"): _search_runs,
    ("Mutation", "mlflowSearchRuns"): _search_runs,
    ("Mutation", "mlflowSearchDatasets"): lambda c, a: tracking.search_datasets(
        _fields(a), c.services["experiments"]
    ),
}


# Fields MLflow adds to a run beyond its REST message.
_RUN_LINKS: dict[str, Callable[[QueryContext, Json], Any]] = {
    "experiment": lambda c, run: c.experiment(run["info"]["experiment_id"]),
    "modelVersions": lambda c, run: c.model_versions(run["info"]["run_id"]),
}


def _default(info: GraphQLResolveInfo) -> Any:
    """What MLflow answers for a field its message leaves unset: the protobuf default."""
    field_type = info.return_type
    if is_non_null_type(field_type):
        field_type = field_type.of_type  # type: ignore[union-attr]
    if is_list_type(field_type):
        return []
    if is_object_type(field_type):
        return None if info.field_name == "apiError" else {}
    if is_enum_type(field_type):
        return None
    return _SCALAR_DEFAULTS.get(get_named_type(field_type).name)


def resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """The one field resolver: root fields run their handler; others read the parent's JSON."""
    parent = info.parent_type.name
    name = info.field_name
    if parent in ("Query", "Mutation"):
        return _ROOTS[(parent, name)](info.context, args)
    if parent == "MlflowRunExtension" and name in _RUN_LINKS:
        return _RUN_LINKS[name](info.context, source)
    value = source.get(_snake(name)) if isinstance(source, dict) else None
    if value is None:
        return _default(info)
    if isinstance(value, str) and get_named_type(info.return_type).name == "Float":
        return None  # NaN and ±Infinity, which the REST encoding writes as strings, are not GraphQL floats
    return value
