"""Hypothesis strategies for request field values: ids of things that exist and don't, and hostile values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

OMIT = object()  # the field is left out of the request

HUGE = 99999999999999999999999

# Values that have broken servers before: out-of-range and special numbers, odd strings, wrong JSON types.
_EDGE_SCALARS: list[Any] = [
    HUGE,
    -HUGE,
    2**63,
    2**63 - 1,
    -(2**63),
    -(2**63) - 1,
    2**31,
    -1,
    0,
    1.5,
    -0.0,
    1e308,
    str(HUGE),
    "-" + str(HUGE),
    str(2**63),
    "-1",
    "0",
    "1.5",
    "1e400",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "",
    " ",
    "\x00",
    "a\x00b",
    "null",
    "true",
    "../../../../etc/passwd",
    "..",
    "/",
    "//",
    "%2e%2e%2f%2e%2e%2fetc",
    "..\\..\\windows",
    "C:\\temp",
    "file:///etc/passwd",
    "s3://other-bucket/x",
    "x" * 300,
    "x" * 70_000,
    "ünïcødé ✓ 🚀",
    "\u202e\ufeff",
    "' OR 1=1 --",
    'name = "x" AND',
    True,
    False,
    None,
]
_JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    _JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(_EDGE_SCALARS),
    st.integers(),
    st.floats(),
    st.text(),
    st.just({}),
    st.just([]),
    JSON_VALUES,
)


@dataclass
class World:
    """Ids and names of the state seeded before fuzzing, so that requests also hit things that exist."""

    experiment_ids: list[str] = field(default_factory=list)
    experiment_names: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    model_names: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=lambda: ["1"])
    model_ids: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    artifact_paths: list[str] = field(default_factory=list)
    dataset_ids: list[str] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    model_files: list[str] = field(default_factory=list)  # paths inside the logged model's artifacts
    scorer_names: list[str] = field(default_factory=list)
    scorer_ids: list[str] = field(default_factory=list)
    issue_ids: list[str] = field(default_factory=list)
    secret_ids: list[str] = field(default_factory=list)
    secret_names: list[str] = field(default_factory=list)
    model_definition_ids: list[str] = field(default_factory=list)
    endpoint_ids: list[str] = field(default_factory=list)
    endpoint_names: list[str] = field(default_factory=list)


def _json(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


def _pick(items: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(items) if items else st.text(max_size=10)


def good(kind: str, w: World) -> st.SearchStrategy[Any]:
    """Plausible values of a kind: what a client would send, including ids that exist."""
    text = st.text(max_size=30)
    ints = st.one_of(st.integers(-(2**64), 2**64), st.integers(0, 100))
    numbers = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["NaN", "Infinity", "-Infinity"])
    )
    key = st.one_of(_pick(w.keys), st.from_regex(r"\A[a-z][a-z0-9_./ -]{0,20}\Z"), text)
    tag = st.fixed_dictionaries({"key": key}, optional={"value": text})
    webhook_event = st.fixed_dictionaries(
        {},
        optional={
            "entity": st.sampled_from(["REGISTERED_MODEL", "MODEL_VERSION_ALIAS", "PROMPT", "BOGUS", 2, 0]),
            "action": st.sampled_from(["CREATED", "DELETED", "SET", "EXCEEDED", "x", 1]),
        },
    )
    model_config = st.fixed_dictionaries(
        {},
        optional={
            "model_definition_id": st.one_of(_pick(w.model_definition_ids), text),
            "linkage_type": st.sampled_from(
                ["PRIMARY", "FALLBACK", "LINKAGE_TYPE_UNSPECIFIED", 1, 2, 0, "x"]
            ),
            "weight": numbers,
            "fallback_order": ints,
        },
    )
    kinds: dict[str, st.SearchStrategy[Any]] = {
        "text": text,
        "int": ints | ints.map(str),
        "number": numbers,
        "bool": st.sampled_from([True, False, "true", "false", "TRUE", "yes"]),
        "key": key,
        "new_name": st.one_of(text, st.uuids().map(lambda u: f"fuzz-{u.hex[:8]}")),
        "experiment_id": st.one_of(_pick(w.experiment_ids), st.sampled_from(["0", str(HUGE), "-1", "12345"])),
        "experiment_ids": st.lists(
            st.one_of(_pick(w.experiment_ids), st.sampled_from([str(HUGE), "-1", "x"])), max_size=3
        ),
        "experiment_name": st.one_of(_pick(w.experiment_names), text),
        "run_id": st.one_of(_pick(w.run_ids), st.sampled_from(["0" * 32, "not-a-run"])),
        "run_ids": st.lists(_pick(w.run_ids), max_size=3),
        "model_id": st.one_of(_pick(w.model_ids), st.sampled_from(["m-" + "0" * 32, "m-x"])),
        "model_name": st.one_of(_pick(w.model_names), text),
        "version": st.one_of(
            _pick(w.versions), st.sampled_from(["0", "-1", "2", str(HUGE), str(2**31), "1.0", "one"])
        ),
        "alias": st.one_of(_pick(w.aliases), st.sampled_from(["latest", "v1", "V2"]), text),
        "stage": st.sampled_from(["None", "Staging", "Production", "Archived", "staging", "Bogus"]),
        "stages": st.lists(
            st.sampled_from(["None", "Staging", "Production", "Archived", "Bogus"]), max_size=3
        ),
        "run_status": st.sampled_from(
            ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED", "running", "x"]
        ),
        "model_status": st.sampled_from(
            [
                "LOGGED_MODEL_READY",
                "LOGGED_MODEL_UPLOAD_FAILED",
                "LOGGED_MODEL_PENDING",
                "READY",
                1,
                2,
                3,
                0,
                99,
                "2",
            ]
        ),
        "view_type": st.sampled_from(["ACTIVE_ONLY", "DELETED_ONLY", "ALL", "all", "1", "NONE"]),
        "page_token": st.one_of(text, st.sampled_from(["eyJ4IjogMX0=", "bm90IGpzb24=", "=="])),
        "order_by": st.lists(
            st.sampled_from(
                [
                    "name",
                    "name DESC",
                    "creation_time ASC",
                    "metrics.loss DESC",
                    "params.alpha",
                    "tags.team",
                    "attributes.start_time",
                    "last_updated_timestamp DESC",
                    "version_number",
                    "bogus",
                    "name ASCENDING",
                    "",
                ]
            ),
            max_size=3,
        ),
        "experiment_filter": st.one_of(
            text,
            st.sampled_from(
                [
                    "name = 'Default'",
                    "name LIKE 'fuzz%'",
                    "tags.team = 'a'",
                    f"experiment_id = '{HUGE}'",
                    "experiment_id IN ('0', '1')",
                    "creation_time > 99999999999999999999999",
                    "attribute.name ILIKE '%'",
                    "name =",
                ]
            ),
        ),
        "run_filter": st.one_of(
            text,
            st.sampled_from(
                [
                    "metrics.loss < 0.5",
                    f"metrics.loss > {HUGE}",
                    "metrics.loss = NaN",
                    "params.alpha = '0.5'",
                    "tags.team != 'x'",
                    f"attributes.start_time > {HUGE}",
                    f"attributes.start_time < -{HUGE}",
                    "attributes.status = 'FINISHED'",
                    "run_name LIKE '%'",
                    "attributes.run_id IN ('a', 'b')",
                    "datasets.name = 'd'",
                    "metrics.loss < 1e400",
                    "metrics.loss <",
                ]
            ),
        ),
        "model_filter": st.one_of(
            text,
            st.sampled_from(
                [
                    "name = 'm'",
                    "metrics.acc > 0.5",
                    f"metrics.acc > {HUGE}",
                    "params.alpha = '1'",
                    f"creation_time > {HUGE}",
                    "status = 'READY'",
                    "bogus = 1",
                ]
            ),
        ),
        "registry_filter": st.one_of(
            text,
            st.sampled_from(
                [
                    "name = 'fuzz-model'",
                    "name LIKE '%'",
                    "name ILIKE 'F%'",
                    f"version_number = {HUGE}",
                    "version_number > 0",
                    "run_id = 'x'",
                    "tags.k = 'v'",
                    "source_path = 'x'",
                    "name = ",
                ]
            ),
        ),
        "artifact_uri": st.one_of(
            text,
            st.sampled_from(
                [
                    "mlflow-artifacts:/x",
                    "s3://bucket/p",
                    "file:///tmp/x",
                    "/abs/path",
                    "runs:/abc/model",
                    "models:/m/1",
                    "http://evil/x",
                ]
            ),
        ),
        "artifact_path": st.one_of(
            _pick(w.artifact_paths),
            st.sampled_from(["", ".", "..", "a/../../b", "/etc", "dir/", "hello.txt", "%2e%2e"]),
            text,
        ),
        "tags": st.lists(tag, max_size=3),
        "metrics": st.lists(
            st.fixed_dictionaries(
                {"key": key, "value": numbers, "timestamp": ints},
                optional={"step": ints, "model_id": _pick(w.model_ids)},
            ),
            max_size=3,
        ),
        "dataset_inputs": st.lists(
            st.fixed_dictionaries(
                {
                    "dataset": st.fixed_dictionaries(
                        {"name": text, "digest": text},
                        optional={"source_type": text, "source": text, "schema": text, "profile": text},
                    )
                },
                optional={"tags": st.lists(tag, max_size=2)},
            ),
            max_size=2,
        ),
        "model_refs": st.lists(
            st.fixed_dictionaries({"model_id": _pick(w.model_ids)}, optional={"step": ints}), max_size=2
        ),
        "model_json": st.one_of(
            text,
            st.sampled_from(
                [
                    "{}",
                    "[]",
                    '{"artifact_path": "model", "flavors": {}}',
                    '{"run_id": "x", "artifact_path": "m", "utc_time_created": "2024", "flavors": {"a": 1}}',
                    "{",
                ]
            ),
        ),
        "dataset_scopes": st.lists(
            st.fixed_dictionaries({}, optional={"dataset_name": text, "dataset_digest": text}), max_size=2
        ),
        "model_order": st.lists(
            st.fixed_dictionaries(
                {"field_name": st.sampled_from(["name", "creation_timestamp", "metrics.acc", "bogus", ""])},
                optional={"ascending": st.booleans(), "dataset_name": text, "dataset_digest": text},
            ),
            max_size=2,
        ),
        "graphql_document": _graphql_documents(w),
        "graphql_variables": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": st.one_of(_pick(w.run_ids), HOSTILE),
                    "ids": st.one_of(st.lists(_pick(w.run_ids), max_size=2), HOSTILE),
                    "max": HOSTILE,
                    "skip": HOSTILE,
                    "input": st.one_of(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "experimentIds": st.one_of(
                                    st.lists(_pick(w.experiment_ids), max_size=2), HOSTILE
                                ),
                                "filter": st.one_of(st.just("metrics.loss < 1"), HOSTILE),
                                "maxResults": HOSTILE,
                                "runViewType": st.sampled_from(["ALL", "all", "x", 1]),
                                "orderBy": HOSTILE,
                            },
                        ),
                        HOSTILE,
                    ),
                },
            ),
            st.sampled_from(["{}", '{"id": 1}', "[]", "{", "null"]),
        ),
        "dataset_id": st.one_of(_pick(w.dataset_ids), st.sampled_from(["d-" + "0" * 32, "d-x", "0", "m-x"])),
        "dataset_tags": st.one_of(
            st.dictionaries(key, st.one_of(text, st.integers(), st.none(), JSON_VALUES), max_size=3).map(
                _json
            ),
            st.sampled_from(
                ["{", "[]", "null", '"x"', "{}", '{"k": {"nested": [1]}}', '{"k": "' + "v" * 6000 + '"}']
            ),
        ),
        "records": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "inputs": st.one_of(st.dictionaries(key, JSON_VALUES, max_size=2), HOSTILE),
                        "outputs": JSON_VALUES,
                        "expectations": st.one_of(st.dictionaries(key, JSON_VALUES, max_size=2), HOSTILE),
                        "tags": st.one_of(st.dictionaries(key, text, max_size=2), HOSTILE),
                        "source": st.one_of(
                            st.fixed_dictionaries(
                                {"source_type": st.sampled_from(["HUMAN", "trace", "CODE", "BOGUS", 1])},
                                optional={
                                    "source_data": st.one_of(st.dictionaries(key, text, max_size=2), HOSTILE)
                                },
                            ),
                            HOSTILE,
                        ),
                    },
                ),
                max_size=3,
            ).map(_json),
            st.sampled_from(
                ["[", "{}", "null", "[1]", '[{"inputs": {"q": "seeded"}}]', "[" + "{}," * 500 + "{}]"]
            ),
        ),
        "record_ids": st.lists(st.one_of(_pick(w.record_ids), st.sampled_from(["dr-x", ""])), max_size=3),
        "dataset_filter": st.one_of(
            text,
            st.sampled_from(
                [
                    "name = 'fuzz-ds'",
                    "name LIKE '%'",
                    "tags.team = 'a'",
                    f"created_time > {HUGE}",
                    "last_update_time < 0",
                    "digest = 'x'",
                    "created_by = 'x'",
                    "bogus = 1",
                    "name =",
                ]
            ),
        ),
        "dataset_order": st.lists(
            st.sampled_from(
                ["name", "name DESC", "created_time ASC", "last_update_time", "bogus", "name UP", ""]
            ),
            max_size=3,
        ),
        "stringified_pairs": st.lists(
            st.fixed_dictionaries(
                {"key": key}, optional={"value": st.one_of(text, ints, numbers, st.none())}
            ),
            max_size=3,
        ),
        "model_file": st.one_of(
            _pick(w.model_files), st.sampled_from(["", "../x", "/etc/passwd", "MLmodel", "dir/"])
        ),
        "preview_path": st.one_of(
            _pick(w.artifact_paths),
            st.sampled_from(
                ["hello.txt", "a.json", "a.csv", "a.tsv", "a.html", "MLmodel", "a.png", "../a.txt", ""]
            ),
            text,
        ),
        "static_path": st.sampled_from(
            [
                "app.css",
                "app.js",
                "vendor/htmx/htmx.min.js",
                "vendor/README.txt",
                "../__init__.py",
                "nope.js",
                "",
            ]
        ),
        "return_to": st.sampled_from(
            [
                "/experiments",
                "/experiments?q=x",
                "//evil.example/",
                "/\\evil.example",
                "http://evil.example/",
                "/\t/evil.example",
                "javascript:alert(1)",
                "",
                "/%2f%2fevil.example",
            ]
        ),
        "experiments_view": st.sampled_from(["active", "deleted", "all", "ALL", "x", ""]),
        "sort_column": st.sampled_from(
            [
                "attributes.start_time",
                "attributes.run_name",
                "attributes.duration",
                "params.alpha",
                "metrics.loss",
                "tags.team",
                "metrics.",
                "params.`x`",
                "bogus",
                "",
            ]
        ),
        "direction": st.sampled_from(["asc", "desc", "ASC", "x"]),
        "lifecycle": st.sampled_from(["active", "deleted", "all", "ALL", "x"]),
        "page_size": st.sampled_from(["25", "50", "100", "250", "0", "-1", "x", str(HUGE), "２５"]),
        "keys": st.lists(key, max_size=3),
        "parts": st.lists(
            st.fixed_dictionaries({"part_number": ints}, optional={"etag": text, "url": text}), max_size=2
        ),
        "scorer_name": st.one_of(_pick(w.scorer_names), text),
        "serialized_scorer": st.one_of(
            text,
            st.dictionaries(key, JSON_VALUES, max_size=3).map(_json),
            st.sampled_from(
                [
                    "{}",
                    "[]",
                    "{",
                    '{"name": "s", "instructions_judge_pydantic_data": {"model": "openai:/gpt-4o"}}',
                    '{"name": "s", "instructions_judge_pydantic_data": {"model": "gateway:/e"}}',
                    '{"name": "s", "builtin_scorer_pydantic_data": {"model": 1}}',
                    '{"name": "s", "call_source": "return 1"}',
                    '{"memory_augmented_judge_data": {"base_judge": {"third_party_scorer_data": {"model": ""}}}}',
                ]
            ),
        ),
        "scorer_ids": st.lists(st.one_of(_pick(w.scorer_ids), text), max_size=3),
        "issue_id": st.one_of(_pick(w.issue_ids), st.sampled_from(["iss-" + "0" * 32, "iss-x", "0"])),
        "issue_status": st.sampled_from(["pending", "rejected", "resolved", "PENDING", "open", ""]),
        "issue_severity": st.sampled_from(["not_an_issue", "low", "medium", "high", "HIGH", "critical", ""]),
        "issue_filter": st.one_of(
            text,
            st.sampled_from(
                [
                    "status = 'pending'",
                    "source_run_id != 'x'",
                    "status = 'resolved' AND source_run_id = 'y'",
                    "attributes.status != 'rejected'",
                    "severity = 'high'",
                    "status > 'a'",
                    "status IN ('pending')",
                    "status =",
                ]
            ),
        ),
        # Webhook URLs that need no DNS: a public literal (accepted), loopback and metadata addresses
        # (refused unless private addresses are allowed), and malformed ones.
        "webhook_url": st.one_of(
            st.sampled_from(
                [
                    "https://8.8.8.8/hook",
                    "http://127.0.0.1:9/hook",
                    "http://169.254.169.254/latest",
                    "ftp://8.8.8.8/x",
                    "http://[invalid",
                    "https://",
                    "   ",
                ]
            ),
            text,
        ),
        "webhook_event": webhook_event,
        "webhook_events": st.lists(webhook_event, max_size=3),
        "webhook_status": st.sampled_from(["ACTIVE", "DISABLED", "disabled", 1, 2, 0, "PAUSED"]),
        "webhook_id": st.one_of(st.uuids().map(str), text),
        "secret_id": st.one_of(_pick(w.secret_ids), st.sampled_from(["s-" + "0" * 32, "", "s-x"])),
        "secret_name": st.one_of(_pick(w.secret_names), text),
        "model_definition_id": st.one_of(
            _pick(w.model_definition_ids), st.sampled_from(["d-" + "0" * 32, "d-"])
        ),
        "endpoint_id": st.one_of(_pick(w.endpoint_ids), st.sampled_from(["e-" + "0" * 32, "e-"])),
        "endpoint_name": st.one_of(
            _pick(w.endpoint_names), st.uuids().map(lambda u: f"fuzz-ep-{u.hex[:8]}"), text
        ),
        "provider": st.sampled_from(["openai", "anthropic", "bedrock", "azure", "unknown", "", "OPENAI"]),
        "secret_value": st.one_of(
            st.dictionaries(key, text, max_size=3),
            st.sampled_from(
                [{"api_key": "sk-0123456789"}, {"api_base": "https://x"}, {"api_key": 1}, "sk-x"]
            ),
        ),
        "auth_config": st.one_of(
            st.dictionaries(key, text, max_size=3),
            st.sampled_from(
                [
                    {"api_base": "https://llm.example/v1"},
                    {"api_base": "   "},
                    {"api_base": "file:///etc/passwd"},
                    {"base_url": "https://x"},
                    {"auth_mode": "access_keys", "aws_region_name": "us-east-1"},
                ]
            ),
        ),
        "model_config": model_config,
        "model_configs": st.lists(model_config, max_size=3),
        "routing_strategy": st.sampled_from(
            ["REQUEST_BASED_TRAFFIC_SPLIT", "ROUTING_STRATEGY_UNSPECIFIED", 1, 0, 2, "FALLBACK"]
        ),
        "fallback_config": st.fixed_dictionaries(
            {},
            optional={
                "strategy": st.sampled_from(["SEQUENTIAL", "FALLBACK_STRATEGY_UNSPECIFIED", 1, 0, 7, "X"]),
                "max_attempts": ints,
            },
        ),
        "resource_type": st.sampled_from(["scorer", "SCORER", "experiment", ""]),
    }
    return kinds[kind]


def _graphql_documents(w: World) -> st.SearchStrategy[str]:
    """GraphQL documents: the UI's kind of query on seeded ids, ones that take variables, and hostile ones
    (deep nesting, past every bound, broken syntax, odd literals)."""
    run = _pick(w.run_ids)
    eid = _pick(w.experiment_ids)
    literal = st.one_of(
        st.sampled_from(
            ['"x"', "1", "-1", "1.5", str(HUGE), f'"{HUGE}"', "null", "true", "[]", "{}", '"\\uD800"', '""']
        ),
        st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
    )
    info = "{ run { info { runId runUuid status startTime experimentId } data { metrics { key value step } "
    info += (
        "params { key value } tags { key value } } inputs { datasetInputs { dataset { name digest } } } } }"
    )
    valid = st.one_of(
        run.map(lambda r: f'{{ mlflowGetRun(input: {{runId: "{r}"}}) {info} }}'),
        eid.map(
            lambda e: (
                f'{{ mlflowGetExperiment(input: {{experimentId: "{e}"}}) {{ experiment {{ name tags {{ key }} }} }} }}'
            )
        ),
        st.tuples(eid, literal).map(
            lambda t: (
                f'mutation {{ mlflowSearchRuns(input: {{experimentIds: ["{t[0]}"], maxResults: {t[1]}}}) '
                "{ runs { info { runId } } nextPageToken } }"
            )
        ),
        st.tuples(run, literal).map(
            lambda t: (
                f'{{ mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{t[0]}"], metricKey: "loss", '
                f"maxResults: {t[1]}}}) {{ metrics {{ key value step runId }} }} }}"
            )
        ),
        st.tuples(run, literal).map(
            lambda t: (
                f'{{ mlflowListArtifacts(input: {{runId: "{t[0]}", path: {t[1]}}}) {{ rootUri files {{ path isDir }} }} }}'
            )
        ),
        literal.map(
            lambda v: (
                f"{{ mlflowSearchModelVersions(input: {{maxResults: {v}}}) {{ modelVersions {{ name version }} }} }}"
            )
        ),
        eid.map(
            lambda e: (
                f'mutation {{ mlflowSearchDatasets(input: {{experimentIds: ["{e}"]}}) {{ datasetSummaries {{ name }} }} }}'
            )
        ),
        literal.map(lambda v: f"{{ test(inputString: {v}) {{ output }} }}"),
        st.sampled_from(
            [
                f"query Q($id: String) {{ mlflowGetRun(input: {{runId: $id}}) {info} }}",
                "query Q($input: MlflowSearchRunsInput) { mlflowSearchRuns(input: $input) { runs { info { runId } } } }",
                "query Q($ids: [String], $max: Int) { mlflowGetMetricHistoryBulkInterval(input: "
                '{runIds: $ids, metricKey: "loss", maxResults: $max}) { metrics { value } } }',
                "query Q($max: LongString) { mlflowSearchModelVersions(input: {maxResults: $max}) "
                "{ modelVersions { version } } }",
                "query Q($skip: Boolean!) { test { output @skip(if: $skip) } }",
                "query A { test { output } } query B { test { output } }",
                "{ __schema { types { name fields { name type { name ofType { name } } } } } }",
                '{ test @component(name: "x") { output } }',
                "{ test { output @bogus } }",
                "{ nope }",
                "subscription { test { output } }",
            ]
        ),
    )
    hostile = st.sampled_from(
        [
            "",
            " ",
            "{",
            "}",
            "query {",
            '{ test(inputString: "abc) { output } }',
            "\x00",
            "{ a" * 600 + " }" * 600,
            "{ test { output } }" + " " * 2_000_000,
            "{ " + " ".join(f"a{i}: test {{ output }}" for i in range(40)) + " }",
            "{ " + " ".join("test { output }" for _ in range(40)) + " }",
            "{ test { " + "output " * 3000 + "} }",
            "fragment F on Query { ...F } { ...F }",
            "fragment F on Query { test { output } ...G } fragment G on Query { ...F } { ...F }",
            "{ " + "...on Query { " * 300 + "test { output }" + " }" * 300 + " }",
            "{ test(inputString: " + "[" * 400 + "]" * 400 + ") { output } }",
            "{ mlflowGetRun(input: {runId: "
            + "{a: " * 300
            + "1"
            + "}" * 300
            + "}) { run { info { runId } } } }",
        ]
    )
    return st.one_of(valid, valid, hostile, st.text(max_size=40))


def field_value(kind: str, w: World) -> st.SearchStrategy[Any]:
    """A field's value: left out, plausible, or hostile."""
    return st.one_of(st.just(OMIT), good(kind, w), good(kind, w), HOSTILE)


def query_value(value: Any) -> list[str]:
    """How a value goes into a query string: lists as repeated keys, everything else as its text."""
    if isinstance(value, list):
        return [v if isinstance(v, str) else repr(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [value if isinstance(value, str) else repr(value)]
