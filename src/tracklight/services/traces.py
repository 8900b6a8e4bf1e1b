"""MLflow traces: start and end them (v3 and the legacy v2 API), store their spans, search, tag, link, delete.

A trace's permission is its experiment's. Spans arrive over OTLP, usually before the trace info (the 3.x
client exports each span as it ends and the trace info when the root ends); whichever comes first creates
the trace row. Once spans are stored here the trace carries the tag mlflow.trace.spansLocation =
TRACKING_STORE, which tells the client not to upload traces.json as well.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from tracklight.artifacts.locations import child_uri
from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.services import validation as v
from tracklight.services.experiments import (
    active_location,
    parse_experiment_id,
    parse_experiment_ids,
    require_active,
)
from tracklight.store import experiments as experiment_store
from tracklight.store import runs as run_store
from tracklight.store import trace_metrics
from tracklight.store import traces as store
from tracklight.store.engine import Database
from tracklight.store.records import SearchArgs
from tracklight.store.schema import trace_metadata, trace_tags
from tracklight.store.search import traces as trace_search
from tracklight.store.traces import SpanKey, SpanOutline, SpanRow, TraceRecord
from tracklight.store.transactions import in_transaction

STATES = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")  # by their enum numbers
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
TRACKING_STORE = "TRACKING_STORE"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"
FINALIZED_METADATA = "mlflow.trace.infoFinalized"
SIZE_STATS_METADATA = "mlflow.trace.sizeStats"
SPAN_INPUTS, SPAN_OUTPUTS = "mlflow.spanInputs", "mlflow.spanOutputs"
# The tags only the server writes: a client setting or deleting them would detach the trace from its data.
_SERVER_TAGS = frozenset({SPANS_LOCATION_TAG, ARTIFACT_LOCATION_TAG})
PREVIEW_LENGTH = 1000  # what MLflow's own server keeps of the root span's inputs and outputs
DEFAULT_SEARCH_RESULTS = 100
MAX_SEARCH_RESULTS = 500
MAX_LINKED_TRACES = 100
MAX_TRACE_ID_LENGTH = 128
DEFAULT_METRIC_POINTS = 1000
MAX_METRIC_POINTS = 10_000
MAX_TIME_INTERVAL_S = 100 * 365 * 24 * 3600


def _now() -> int:
    return int(time.time() * 1000)


def parse_state(value: Any, what: str = "state") -> str:
    """A trace state by name or enum number; the v2 status names are the same words."""
    if isinstance(value, bool):
        raise InvalidParameter(f"Invalid trace {what} {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        if 0 <= number < len(STATES):
            return STATES[number]
    if value == "TRACE_STATUS_UNSPECIFIED":
        return "STATE_UNSPECIFIED"
    if isinstance(value, str) and value in STATES:
        return value
    raise InvalidParameter(f"Invalid trace {what} {value!r}: use one of {list(STATES[1:])}")


@dataclass(frozen=True, slots=True)
class TraceIn:
    """A trace info as a client sends it at the end of a trace (StartTraceV3)."""

    trace_id: str
    experiment_id: str
    request_time_ms: int
    execution_time_ms: int | None
    state: str
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanIn:
    """One span from an OTLP export, with the JSON it is stored and served as."""

    trace_id: str  # "tr-<32 hex>"
    span_id: str  # 16 hex digits
    parent_span_id: str | None
    name: str
    span_type: str | None
    status: str  # OK, ERROR or UNSET
    start_time_unix_nano: int
    end_time_unix_nano: int | None
    content: str
    attributes: dict[str, str]  # each value JSON text, as MLflow keeps span attributes
    trace_tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Correlation:
    npmi: float
    npmi_smoothed: float
    filter1_count: int
    filter2_count: int
    joint_count: int
    total_count: int


def _npmi(joint: float, first: float, second: float, total: float) -> float:
    """Normalised pointwise mutual information of two events from their counts; NaN when undefined."""
    if total <= 0 or first <= 0 or second <= 0:
        return math.nan
    if joint <= 0:
        return -1.0
    p_joint, p_first, p_second = joint / total, first / total, second / total
    if p_joint >= 1.0:
        return 1.0
    return math.log(p_joint / (p_first * p_second)) / -math.log(p_joint)


def _preview(raw_json: str | None) -> str | None:
    if raw_json is None:
        return None
    return raw_json if len(raw_json) <= PREVIEW_LENGTH else raw_json[: PREVIEW_LENGTH - 3] + "..."


def _tag(key: str, value: str) -> tuple[str, str]:
    return v.validate_key(key, "key"), v.truncate(value, v.MAX_TAG_VALUE_LENGTH)


def _active_location(experiment_id: int, state: tuple[str, str] | None) -> str:
    """active_location, given the experiment's (location, lifecycle stage) as looked up already."""
    if state is None:
        raise experiment_store.missing(experiment_id)
    require_active(experiment_id, state[1])
    return state[0]


def _artifact_tag(location: str, trace_id: str) -> tuple[str, str]:
    """The tag that says where a trace's artifacts go: under its experiment's artifact location."""
    return ARTIFACT_LOCATION_TAG, child_uri(location, "traces", trace_id, "artifacts")


class TraceNotExported(NotFound):
    """A trace whose spans have not all arrived; asked again shortly, it may be whole."""


@dataclass
class _ExportWrites:
    """The rows one span export writes, gathered per kind so that each kind is one statement.

    A trace new to the store is inserted whole (its range, and the state and previews its root
    gives); an existing one is widened and settled by UPDATEs that keep what it already has."""

    new_traces: list[dict[str, Any]] = field(default_factory=list)
    artifact_tags: list[dict[str, Any]] = field(default_factory=list)
    ranges: list[tuple[str, int, int | None]] = field(default_factory=list)
    roots: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    unsynced: list[str] = field(default_factory=list)  # traces whose tags need sync_tag_order

    def add(
        self, trace_id: str, batch: list[SpanIn], eid: int, location: str, exists: bool, finalized: bool
    ) -> None:
        start_ms = min(s.start_time_unix_nano for s in batch) // 1_000_000
        ends = [s.end_time_unix_nano for s in batch if s.end_time_unix_nano]
        end_ms = max(ends) // 1_000_000 if ends else None
        root = next((s for s in batch if s.parent_span_id is None), None)
        settled = None
        if root is not None:
            state = "ERROR" if root.status == "ERROR" else "OK"
            settled = (
                trace_id,
                state,
                _preview(root.attributes.get(SPAN_INPUTS)),
                _preview(root.attributes.get(SPAN_OUTPUTS)),
            )
        # A new trace's tags carry its experiment and start time (see schema.trace_tags); an existing
        # one's are brought in step after its time range is widened.
        order = {"experiment_id": eid, "timestamp_ms": start_ms}
        if exists:
            order = {"experiment_id": None, "timestamp_ms": None}
            self.unsynced.append(trace_id)
            if not finalized:  # a trace whose info the client has sent keeps the times it gave
                self.ranges.append((trace_id, start_ms, end_ms))
            if settled:
                self.roots.append(settled)
        else:
            self.new_traces.append(
                {
                    "id": trace_id,
                    "experiment_id": eid,
                    "timestamp_ms": start_ms,
                    "execution_time_ms": None if end_ms is None else end_ms - start_ms,
                    "state": settled[1] if settled else "IN_PROGRESS",
                    "request_preview": settled[2] if settled else None,
                    "response_preview": settled[3] if settled else None,
                }
            )
            key, value = _artifact_tag(location, trace_id)
            self.artifact_tags.append({"trace_id": trace_id, "key": key, "value": value, **order})
        self.spans += [
            {
                "trace_id": trace_id,
                "span_id": s.span_id,
                "parent_span_id": s.parent_span_id,
                "name": s.name,
                "type": s.span_type,
                "status": s.status,
                "start_time_unix_nano": s.start_time_unix_nano,
                "end_time_unix_nano": s.end_time_unix_nano,
                "content": s.content,
            }
            for s in batch
        ]
        tags = [(SPANS_LOCATION_TAG, TRACKING_STORE)]
        if root is not None:
            tags += [_tag(k, val) for k, val in root.trace_tags.items()]
        self.tags += [{"trace_id": trace_id, "key": k, "value": val, **order} for k, val in tags]

    def as_existing(self) -> None:
        """Write the traces taken for new as existing ones: widened, settled and their tags brought in
        step (another writer created some of them since they were looked up)."""
        for row in self.new_traces:
            start, took = row["timestamp_ms"], row["execution_time_ms"]
            self.ranges.append((row["id"], start, None if took is None else start + took))
            if row["state"] != "IN_PROGRESS":  # the batch had the root
                self.roots.append((row["id"], row["state"], row["request_preview"], row["response_preview"]))
            self.unsynced.append(row["id"])


class Traces:
    """Trace rules over the store; every call checks the caller's permission on the trace's experiment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- helpers --------------------------------------------------------------------------------------

    def _check_trace(self, trace_id: str, need: Permission) -> int:
        """The trace's experiment, after checking `need` on it; RESOURCE_DOES_NOT_EXIST if there is no trace."""
        experiment_id = in_transaction(self.db, lambda c: store.experiment_of(c, trace_id), write=False)
        if experiment_id is None:
            raise NotFound(f"Trace with ID '{trace_id}' not found.")
        gate.check(EXPERIMENT, experiment_id, need)
        return experiment_id

    def _load(self, conn: Connection, trace_id: str) -> TraceRecord:
        found = store.load_trace(conn, trace_id)
        if found is None:
            raise NotFound(f"Trace with ID '{trace_id}' not found.")
        return found

    # -- start and end ----------------------------------------------------------------------------------

    def start(self, info: TraceIn) -> TraceRecord:
        """StartTraceV3: record a finished (or in-progress) trace; its values win over what spans implied."""
        eid = parse_experiment_id(info.experiment_id)
        gate.check(EXPERIMENT, eid, Permission.EDIT)
        if not info.trace_id or len(info.trace_id) > MAX_TRACE_ID_LENGTH:
            raise InvalidParameter(
                f"Invalid trace_id {info.trace_id!r}: 1 to {MAX_TRACE_ID_LENGTH} characters"
            )
        tags = [_tag(k, val) for k, val in info.tags.items()]
        metadata = [_tag(k, val) for k, val in info.metadata.items()] + [(FINALIZED_METADATA, "true")]
        values = {
            "experiment_id": eid,
            "timestamp_ms": info.request_time_ms,
            "execution_time_ms": info.execution_time_ms,
            "state": info.state,
            "client_request_id": info.client_request_id,
        }

        def work(conn: Connection) -> TraceRecord:
            location = active_location(conn, eid)
            existing = store.experiment_of(conn, info.trace_id)
            if existing is not None and existing != eid:
                gate.check(EXPERIMENT, existing, Permission.EDIT)
            store.ensure_trace(conn, {"id": info.trace_id, **values})
            update = dict(values)
            # Previews the client left out keep what the spans gave.
            if info.request_preview is not None:
                update["request_preview"] = info.request_preview
            if info.response_preview is not None:
                update["response_preview"] = info.response_preview
            store.update_trace(conn, info.trace_id, update)
            # Setting the tags also brings their copy of the trace's time in step with the update.
            store.set_pairs(conn, trace_tags, info.trace_id, [*tags, _artifact_tag(location, info.trace_id)])
            store.set_pairs(conn, trace_metadata, info.trace_id, metadata)
            return self._load(conn, info.trace_id)

        return in_transaction(self.db, work)

    def start_v2(
        self, experiment_id: str, timestamp_ms: int, metadata: dict[str, str], tags: dict[str, str]
    ) -> TraceRecord:
        """The legacy StartTrace: a new in-progress trace with a server-made id."""
        eid = parse_experiment_id(experiment_id)
        gate.check(EXPERIMENT, eid, Permission.EDIT)
        trace_id = "tr-" + uuid.uuid4().hex
        tag_pairs = [_tag(k, val) for k, val in tags.items()]
        meta_pairs = [_tag(k, val) for k, val in metadata.items()]

        def work(conn: Connection) -> TraceRecord:
            location = active_location(conn, eid)
            store.ensure_trace(
                conn,
                {
                    "id": trace_id,
                    "experiment_id": eid,
                    "timestamp_ms": timestamp_ms,
                    "execution_time_ms": None,
                    "state": "IN_PROGRESS",
                },
            )
            store.set_pairs(conn, trace_tags, trace_id, [*tag_pairs, _artifact_tag(location, trace_id)])
            store.set_pairs(conn, trace_metadata, trace_id, meta_pairs)
            return self._load(conn, trace_id)

        return in_transaction(self.db, work)

    def end_v2(
        self, trace_id: str, timestamp_ms: int, state: str, metadata: dict[str, str], tags: dict[str, str]
    ) -> TraceRecord:
        """The legacy EndTrace: the duration from the start, the final state, metadata and tags merged in."""
        self._check_trace(trace_id, Permission.EDIT)
        tag_pairs = [_tag(k, val) for k, val in tags.items()]
        meta_pairs = [_tag(k, val) for k, val in metadata.items()]

        def work(conn: Connection) -> TraceRecord:
            trace = self._load(conn, trace_id)
            store.update_trace(
                conn,
                trace_id,
                {"execution_time_ms": max(0, timestamp_ms - trace.timestamp_ms), "state": state},
            )
            store.set_pairs(conn, trace_tags, trace_id, tag_pairs)
            store.set_pairs(conn, trace_metadata, trace_id, meta_pairs)
            return self._load(conn, trace_id)

        return in_transaction(self.db, work)

    # -- spans ------------------------------------------------------------------------------------------

    def log_spans(self, experiment_id: str, spans: Sequence[SpanIn]) -> None:
        """Store spans (an OTLP export). A trace not seen yet is created in `experiment_id`; spans of a
        trace that exists go to it, wherever it is."""
        eid = parse_experiment_id(experiment_id)
        gate.check(EXPERIMENT, eid, Permission.EDIT)
        by_trace: dict[str, list[SpanIn]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)

        def work(conn: Connection) -> None:
            # One statement per kind of write for the whole export, not per trace: an export often
            # carries many traces (OpenTelemetry's batch processor) and each statement costs more
            # in SQLAlchemy and the round trip than in the database.
            ids = list(by_trace)
            experiment, known = store.export_lookup(conn, eid, ids, FINALIZED_METADATA)
            existing = {trace_id: in_experiment for trace_id, (in_experiment, _) in known.items()}
            # A trace whose info the client has sent keeps the times it gave.
            finalized = {trace_id for trace_id, (_, done) in known.items() if done}
            elsewhere = sorted({e for e in existing.values() if e != eid})
            if elsewhere:
                gate.check_all(EXPERIMENT, elsewhere, Permission.EDIT)
            location = _active_location(eid, experiment) if len(existing) < len(ids) else ""
            w = _ExportWrites()
            for trace_id, batch in by_trace.items():
                w.add(trace_id, batch, eid, location, trace_id in existing, trace_id in finalized)
            if not store.ensure_traces(conn, w.new_traces):
                # Another writer created some of these traces since we looked: what the batch says
                # applies to them as to any existing trace, and their artifact location stays theirs.
                w.as_existing()
                store.add_missing_tags_of(conn, w.artifact_tags)
            else:
                w.tags = w.artifact_tags + w.tags
            store.write_spans(conn, w.spans)
            store.widen_time_ranges(conn, w.ranges)
            store.settle_from_roots(conn, w.roots)
            store.set_tags_of(conn, w.tags)
            # Tags of a trace that was there already carry its experiment and time only from here.
            store.sync_tag_order(conn, w.unsynced)

        in_transaction(self.db, work)

    def open_trace(self, trace_id: str, allow_partial: bool = True) -> tuple[TraceRecord, bool]:
        """The trace, and whether its spans are stored here (else they are in its traces.json artifact).

        Without allow_partial, a trace stored here with no spans yet, or fewer than its size stats
        count, is not there yet (TraceNotExported): the client exports spans apart from the trace.
        """
        self._check_trace(trace_id, Permission.READ)

        def work(conn: Connection) -> tuple[TraceRecord, bool]:
            trace = self._load(conn, trace_id)
            in_store = trace.tags.get(SPANS_LOCATION_TAG) == TRACKING_STORE
            if in_store and not allow_partial:
                expected = 1
                if stats := trace.metadata.get(SIZE_STATS_METADATA):
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        expected = max(1, int(json.loads(stats).get("num_spans", 0)))
                if store.count_spans(conn, trace_id) < expected:
                    raise TraceNotExported(
                        f"Trace with ID {trace_id} is not fully exported yet, please try again later."
                    )
            return trace, in_store

        return in_transaction(self.db, work, write=False)

    def span_page(self, trace_id: str, after: SpanKey | None, limit: int) -> list[SpanRow]:
        """A page of a trace opened with open_trace (which checked the caller may read it)."""
        return in_transaction(self.db, lambda c: store.span_page(c, trace_id, after, limit), write=False)

    def outline(self, trace_id: str, limit: int) -> tuple[TraceRecord, bool, list[SpanOutline]]:
        """The trace, whether its spans are stored here, and up to `limit` of them without payloads."""
        self._check_trace(trace_id, Permission.READ)

        def work(conn: Connection) -> tuple[TraceRecord, bool, list[SpanOutline]]:
            trace = self._load(conn, trace_id)
            return (
                trace,
                trace.tags.get(SPANS_LOCATION_TAG) == TRACKING_STORE,
                store.span_outline(conn, trace_id, limit),
            )

        return in_transaction(self.db, work, write=False)

    def span(self, trace_id: str, span_id: str) -> dict[str, Any]:
        """One span of a trace as stored (MLflow's span JSON); RESOURCE_DOES_NOT_EXIST if there is none."""
        self._check_trace(trace_id, Permission.READ)
        content = in_transaction(self.db, lambda c: store.span_content(c, trace_id, span_id), write=False)
        if content is None:
            raise NotFound(f"Span '{span_id}' of trace '{trace_id}' not found.")
        found = json.loads(content)
        return found if isinstance(found, dict) else {}

    def artifact_location(self, trace: TraceRecord) -> str | None:
        return trace.tags.get(ARTIFACT_LOCATION_TAG)

    # -- reads ------------------------------------------------------------------------------------------

    def get(self, trace_id: str) -> TraceRecord:
        self._check_trace(trace_id, Permission.READ)
        return in_transaction(self.db, lambda c: self._load(c, trace_id), write=False)

    def get_many(self, trace_ids: Sequence[str], experiment_ids: Sequence[str] = ()) -> list[TraceRecord]:
        """The traces of these ids that exist (and are in `experiment_ids`, when given)."""
        scope = set(parse_experiment_ids(list(experiment_ids))) if experiment_ids else None
        found = in_transaction(self.db, lambda c: store.load_traces(c, list(trace_ids)), write=False)
        found = [t for t in found if scope is None or t.experiment_id in scope]
        gate.check_all(EXPERIMENT, sorted({t.experiment_id for t in found}), Permission.READ)
        return found

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        max_results: int | None,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> tuple[list[TraceRecord], str | None]:
        if not experiment_ids:
            raise InvalidParameter("At least one experiment (location) must be given to search traces.")
        if max_results is None:
            max_results = DEFAULT_SEARCH_RESULTS
        if not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise InvalidParameter(
                f"Invalid value {max_results} for parameter 'max_results' supplied: "
                f"it must be between 1 and {MAX_SEARCH_RESULTS}"
            )
        ids = parse_experiment_ids(list(experiment_ids))
        gate.check_all(EXPERIMENT, ids, Permission.READ)
        args = SearchArgs(filter_string, list(order_by), max_results, page_token)

        def work(conn: Connection) -> tuple[list[TraceRecord], str | None]:
            # An invalid filter or ordering is refused here, before any statement runs.
            rows, token = trace_search.search_page(conn, ids, args)
            return store.records_of_rows(conn, rows), token

        return in_transaction(self.db, work, write=False)

    # -- changes ----------------------------------------------------------------------------------------

    def delete(
        self,
        experiment_id: str,
        *,
        max_timestamp_millis: int | None,
        max_traces: int | None,
        trace_ids: Sequence[str],
    ) -> int:
        """Delete the given traces of the experiment, or its traces up to a time (oldest first, at most
        max_traces of them); the count deleted."""
        eid = parse_experiment_id(experiment_id)
        gate.check(EXPERIMENT, eid, Permission.EDIT)
        if max_timestamp_millis is None and not trace_ids:
            raise InvalidParameter("Either `max_timestamp_millis` or `request_ids` must be specified.")
        if max_timestamp_millis is not None and trace_ids:
            raise InvalidParameter("Only one of `max_timestamp_millis` and `request_ids` can be specified.")
        if max_traces is not None and max_traces <= 0:
            raise InvalidParameter("`max_traces` must be a positive integer.")

        def work(conn: Connection) -> int:
            doomed = store.ids_to_delete(
                conn, eid, max_timestamp_ms=max_timestamp_millis, max_traces=max_traces, trace_ids=trace_ids
            )
            return store.delete_traces(conn, doomed)

        return in_transaction(self.db, work)

    def set_tag(self, trace_id: str, key: str, value: str) -> None:
        key, value = _tag(key, value)
        if key in _SERVER_TAGS:
            raise InvalidParameter(f"The tag '{key}' is set by the server and cannot be changed.")
        self._check_trace(trace_id, Permission.EDIT)
        in_transaction(self.db, lambda c: store.set_pairs(c, trace_tags, trace_id, [(key, value)]))

    def delete_tag(self, trace_id: str, key: str) -> None:
        if key in _SERVER_TAGS:
            raise InvalidParameter(f"The tag '{key}' is set by the server and cannot be deleted.")
        self._check_trace(trace_id, Permission.EDIT)
        if not in_transaction(self.db, lambda c: store.delete_tag(c, trace_id, key)):
            raise NotFound(f"No trace tag with key '{key}' in trace with ID '{trace_id}'")

    def link_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        if len(trace_ids) > MAX_LINKED_TRACES:
            raise InvalidParameter(
                f"Cannot link more than {MAX_LINKED_TRACES} traces to a run in a single request. "
                f"Provided {len(trace_ids)} traces."
            )
        gate.check(gate.RUN, run_id, Permission.EDIT)

        def work(conn: Connection) -> None:
            run_store.get_run(conn, run_id)  # RESOURCE_DOES_NOT_EXIST for a run that is not there
            # A trace not here yet is linked all the same, as MLflow does: the client links a trace as
            # soon as it ends, and its export may still be on the way. Those that are here need EDIT.
            found = store.load_traces(conn, list(trace_ids))
            gate.check_all(EXPERIMENT, sorted({t.experiment_id for t in found}), Permission.EDIT)
            store.link_runs(conn, list(dict.fromkeys(trace_ids)), run_id)

        in_transaction(self.db, work)

    def link_prompts(self, trace_id: str, prompt_versions: Sequence[tuple[str, str]]) -> None:
        """Record the prompt versions a trace used in its mlflow.linkedPrompts tag (a JSON list of
        {name, version}), keeping those linked before; `trace.prompt` filters search it."""
        self._check_trace(trace_id, Permission.EDIT)

        def work(conn: Connection) -> None:
            trace = self._load(conn, trace_id)
            try:
                linked = json.loads(trace.tags.get(LINKED_PROMPTS_TAG) or "[]")
            except ValueError:
                linked = []
            if not isinstance(linked, list):
                linked = []
            seen = {(p.get("name"), p.get("version")) for p in linked if isinstance(p, dict)}
            for name, version in prompt_versions:
                if (name, version) not in seen:
                    linked.append({"name": name, "version": version})
                    seen.add((name, version))
            value = json.dumps(linked)
            if len(value) > v.MAX_TAG_VALUE_LENGTH:
                raise InvalidParameter(f"Too many prompts linked to trace {trace_id}")
            store.set_pairs(conn, trace_tags, trace_id, [(LINKED_PROMPTS_TAG, value)])

        in_transaction(self.db, work)

    # -- analytics --------------------------------------------------------------------------------------

    def correlation(
        self, experiment_ids: Sequence[str], filter1: str, filter2: str, base_filter: str | None
    ) -> Correlation:
        ids = parse_experiment_ids(list(experiment_ids))
        gate.check_all(EXPERIMENT, ids, Permission.READ)
        base = trace_search.parse(base_filter)
        first, second = trace_search.parse(filter1), trace_search.parse(filter2)

        def work(conn: Connection) -> Correlation:
            def count(extra: list[Any]) -> int:
                return trace_search.count_matching(conn, ids, [*base, *extra])

            total, n1, n2, joint = count([]), count(first), count(second), count([*first, *second])
            # Jeffreys prior: half a count in each cell of the 2x2 table keeps small samples finite.
            smoothed = _npmi(joint + 0.5, n1 + 1.0, n2 + 1.0, total + 2.0)
            return Correlation(_npmi(joint, n1, n2, total), smoothed, n1, n2, joint, total)

        return in_transaction(self.db, work, write=False)

    def metrics(
        self,
        *,
        experiment_ids: Sequence[str],
        view_type: str,
        metric_name: str,
        aggregations: Sequence[trace_metrics.Aggregation],
        dimensions: Sequence[str],
        filters: Sequence[str],
        time_interval_seconds: int | None,
        start_time_ms: int | None,
        end_time_ms: int | None,
        max_results: int | None,
    ) -> list[trace_metrics.DataPoint]:
        if view_type != "TRACES":
            raise InvalidParameter(
                f"Trace metrics of the {view_type} view are not supported by this server yet"
            )
        if not aggregations:
            raise InvalidParameter("At least one aggregation is required.")
        ids = parse_experiment_ids(list(experiment_ids))
        gate.check_all(EXPERIMENT, ids, Permission.READ)
        comparisons = [c for f in filters for c in trace_search.parse(f)]
        bucket = None
        if time_interval_seconds:
            if start_time_ms is None or end_time_ms is None:
                raise InvalidParameter(
                    "start_time_ms and end_time_ms are required if time_interval_seconds is set"
                )
            if not 1 <= time_interval_seconds <= MAX_TIME_INTERVAL_S:
                raise InvalidParameter(f"time_interval_seconds must be between 1 and {MAX_TIME_INTERVAL_S}")
            bucket = (time_interval_seconds, start_time_ms, end_time_ms)
        elif start_time_ms is not None or end_time_ms is not None:
            comparisons += trace_search.parse(
                " AND ".join(
                    clause
                    for clause in (
                        f"trace.timestamp_ms >= {start_time_ms}" if start_time_ms is not None else "",
                        f"trace.timestamp_ms <= {end_time_ms}" if end_time_ms is not None else "",
                    )
                    if clause
                )
            )
        limit = DEFAULT_METRIC_POINTS if max_results is None else max_results
        if not 1 <= limit <= MAX_METRIC_POINTS:
            raise InvalidParameter(f"max_results must be between 1 and {MAX_METRIC_POINTS}")

        return in_transaction(
            self.db,
            lambda c: trace_metrics.query(
                c,
                experiment_ids=ids,
                comparisons=comparisons,
                metric_name=metric_name,
                aggregations=aggregations,
                dimensions=dimensions,
                bucket=bucket,
                limit=limit,
            ),
            write=False,
        )
