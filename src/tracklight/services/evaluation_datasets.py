"""MLflow 3 evaluation datasets: creation, tags, experiment links, search and the records merge.

Permissions are those of the experiments a dataset is linked to, all of them (auth.gate, DATASET), with
MLflow's mapping: reading needs READ, changing tags, records or links EDIT, deleting MANAGE; creating
needs EDIT on every experiment the new dataset is linked to, and linking one more needs EDIT on it too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tracklight.auth import gate
from tracklight.auth.permissions import EXPERIMENT, Permission
from tracklight.errors import InvalidParameter, NotFound
from tracklight.services import validation as v
from tracklight.services.experiments import parse_experiment_id
from tracklight.store import evaluation_datasets as store
from tracklight.store.engine import Database
from tracklight.store.records import EvaluationDataset, EvaluationRecord
from tracklight.store.search.evaluation_datasets import search_dataset_ids
from tracklight.store.transactions import in_transaction

MAX_NAME_LENGTH = 500
MAX_TAG_VALUE_LENGTH = 5000
MAX_USER_LENGTH = 256
MAX_SOURCE_ID_LENGTH = 500
MAX_EXPERIMENT_IDS = 1000
DEFAULT_SEARCH_RESULTS = 1000  # the proto's default
MAX_SEARCH_RESULTS = 50000
DEFAULT_RECORDS_PAGE = 1000
MAX_RECORDS_PAGE = 50000
USER_TAG = "mlflow.user"
SOURCE_TYPES = ("UNSPECIFIED", "TRACE", "HUMAN", "DOCUMENT", "CODE")
_SOURCE_KEYS = frozenset({"source_type", "source_data"})


def _now() -> int:
    return int(time.time() * 1000)


def not_found(dataset_id: str) -> NotFound:
    return NotFound(f"Evaluation dataset with id '{dataset_id}' not found")


def _digest(name: str, updated: int) -> str:
    """A short digest of the name and the last update time: every records change yields a new one."""
    return hashlib.sha256(f"{name}:{updated}".encode()).hexdigest()[:8]


def input_hash(inputs: dict[str, Any]) -> str:
    """The identity of a record within its dataset: a hash of its inputs as canonical JSON."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _record_ids(now: int, count: int) -> list[str]:
    """`dr-` ids that sort in the order the records came in: the listing orders by (created_time, id)."""
    return [f"dr-{now:012x}{i:08x}{secrets.token_hex(6)}" for i in range(count)]


def _user(value: Any) -> str | None:
    if value is None:
        return None
    user = str(value)
    if len(user) > MAX_USER_LENGTH:
        raise InvalidParameter(f"The {USER_TAG} tag exceeds {MAX_USER_LENGTH} characters.")
    return user


def _tags(tags: dict[str, Any]) -> dict[str, str]:
    """Dataset tags as stored: values as strings; a None value is skipped, as the reference skips it."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not key or len(key) > v.MAX_KEY_LENGTH:
            raise InvalidParameter(
                f"Invalid tag key {key!r}: it must be a non-empty string of at most {v.MAX_KEY_LENGTH} characters."
            )
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_TAG_VALUE_LENGTH:
            raise InvalidParameter(f"The value of tag '{key}' exceeds {MAX_TAG_VALUE_LENGTH} characters.")
        out[key] = text
    return out


def _experiment_ids(values: Sequence[str]) -> list[int]:
    if len(values) > MAX_EXPERIMENT_IDS:
        raise InvalidParameter(f"At most {MAX_EXPERIMENT_IDS} experiment ids may be given at once.")
    return list(dict.fromkeys(parse_experiment_id(e) for e in values))


def _require_experiments(conn: Connection, ids: list[int]) -> None:
    found = store.existing_experiments(conn, ids)
    for experiment_id in ids:
        if experiment_id not in found:
            raise NotFound(f"No Experiment with id={experiment_id}")


# -- records merge --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordInput:
    """One record of an upsert request, checked: which optional fields it carried, and their values."""

    inputs: dict[str, Any]
    has_outputs: bool
    outputs: Any
    expectations: dict[str, Any] | None
    tags: dict[str, Any] | None
    source: dict[str, Any] | None


def _optional_object(record: dict[str, Any], key: str, index: int) -> dict[str, Any] | None:
    value = record.get(key)
    if value is not None and not isinstance(value, dict):
        raise InvalidParameter(f"Record {index}: '{key}' must be an object, got {type(value).__name__}.")
    return value


def _source(value: Any, index: int) -> dict[str, Any] | None:
    if not value:
        return None
    if not isinstance(value, dict) or not set(value) <= _SOURCE_KEYS or "source_type" not in value:
        raise InvalidParameter(
            f"Record {index}: 'source' must be an object with 'source_type' and optionally 'source_data'."
        )
    kind = value["source_type"]
    name = kind.upper() if isinstance(kind, str) else None
    if name not in SOURCE_TYPES:
        raise InvalidParameter(
            f"Invalid dataset record source type: {kind}. Valid source types: {list(SOURCE_TYPES)}"
        )
    data = value.get("source_data") or {}
    if not isinstance(data, dict):
        raise InvalidParameter(f"Record {index}: 'source.source_data' must be an object.")
    return {"source_type": name, "source_data": data}


def parse_records(records: Any) -> list[RecordInput]:
    """Check the decoded `records` payload of an upsert: a list of record objects."""
    if not isinstance(records, list):
        raise InvalidParameter("'records' must be a JSON list of record objects.")
    out = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidParameter(f"Record {i} must be an object, got {type(record).__name__}.")
        inputs = _optional_object(record, "inputs", i)
        out.append(
            RecordInput(
                inputs=inputs or {},
                has_outputs="outputs" in record,
                outputs=record.get("outputs"),
                expectations=_optional_object(record, "expectations", i),
                tags=_optional_object(record, "tags", i),
                source=_source(record.get("source"), i),
            )
        )
    return out


def _source_id(source: dict[str, Any] | None) -> str | None:
    if source is None:
        return None
    data = source["source_data"]
    value = data.get("trace_id") if source["source_type"] == "TRACE" else data.get("source_id")
    if value is None:
        return None
    text = str(value)
    if len(text) > MAX_SOURCE_ID_LENGTH:
        raise InvalidParameter(f"A record source id exceeds {MAX_SOURCE_ID_LENGTH} characters.")
    return text


def _merge(record: EvaluationRecord, new: RecordInput, now: int) -> None:
    """Fold a new record into one with the same inputs, as the reference does: outputs are replaced
    when given (None included), expectations and tags are merged key by key, the source is kept."""
    if new.has_outputs:
        record.outputs = new.outputs
    if new.expectations:
        record.expectations = {**(record.expectations or {}), **new.expectations}
    if new.tags:
        record.tags = {**(record.tags or {}), **new.tags}
        if USER_TAG in new.tags:
            record.last_updated_by = _user(new.tags[USER_TAG])
    record.last_update_time = now


def _field_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def extend_schema(schema_json: str | None, records: list[RecordInput]) -> str | None:
    """The dataset schema with every field these records bring that it lacks (the first type seen wins)."""
    if not records and not schema_json:
        return None
    schema = (
        json.loads(schema_json)
        if schema_json
        else {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
    )
    for r in records:
        for key, value in r.inputs.items():
            schema["inputs"].setdefault(key, _field_type(value))
        if r.outputs is not None:
            if isinstance(r.outputs, dict):
                if isinstance(schema["outputs"], dict):
                    for key, value in r.outputs.items():
                        schema["outputs"].setdefault(key, _field_type(value))
            elif not schema["outputs"]:
                schema["outputs"] = _field_type(r.outputs)
        for key, value in (r.expectations or {}).items():
            schema["expectations"].setdefault(key, _field_type(value))
    return json.dumps(schema)


def _profile(count: int) -> str | None:
    return json.dumps({"num_records": count}) if count else None


# -- records page tokens: base64 of "<created_time>:<record id>", the reference's format ----------------


def _encode_position(record: EvaluationRecord) -> str:
    return base64.b64encode(f"{record.created_time}:{record.record_id}".encode()).decode()


def _decode_position(token: str) -> tuple[int, str]:
    try:
        created, record_id = base64.b64decode(token.encode(), validate=True).decode().split(":", 1)
        return int(created), record_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter(f"Invalid page token {token!r}") from None


class EvaluationDatasets:
    """Evaluation-dataset rules over the store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, *, name: str, experiment_ids: Sequence[str], tags: dict[str, Any]) -> EvaluationDataset:
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidParameter(
                f"Dataset name exceeds the maximum length of {MAX_NAME_LENGTH} characters."
            )
        ids = _experiment_ids(experiment_ids)
        gate.check_linked(ids, Permission.EDIT)
        clean_tags = _tags(tags)
        now = _now()
        user = _user(clean_tags.get(USER_TAG))
        dataset = EvaluationDataset(
            dataset_id=f"d-{uuid.uuid4().hex}",
            name=name,
            digest=_digest(name, now),
            schema=None,
            profile=None,
            created_time=now,
            last_update_time=now,
            created_by=user,
            last_updated_by=user,
            tags=clean_tags,
            experiment_ids=ids,
        )

        def work(conn: Connection) -> EvaluationDataset:
            _require_experiments(conn, ids)
            store.insert_dataset(conn, dataset)
            return self._load(conn, dataset.dataset_id)

        return in_transaction(self.db, work)

    def _load(self, conn: Connection, dataset_id: str) -> EvaluationDataset:
        found = store.load_datasets(conn, [dataset_id])
        if not found:
            raise not_found(dataset_id)
        return found[0]

    @gate.requires(Permission.READ, gate.DATASET, "dataset_id")
    def get(self, dataset_id: str) -> EvaluationDataset:
        return in_transaction(self.db, lambda c: self._load(c, dataset_id), write=False)

    @gate.requires(Permission.MANAGE, gate.DATASET, "dataset_id")
    def delete(self, dataset_id: str) -> None:
        """Delete the dataset and its records; deleting one that is not there is not an error."""
        in_transaction(self.db, lambda c: store.delete_dataset(c, dataset_id))

    @gate.requires(Permission.EDIT, gate.DATASET, "dataset_id")
    def set_tags(self, dataset_id: str, tags: dict[str, Any]) -> None:
        """Upsert tags (a None value is skipped); like the reference, the digest and update time stay."""
        clean = _tags(tags)

        def work(conn: Connection) -> None:
            if store.dataset_name(conn, dataset_id, lock=True) is None:
                raise NotFound(f"Could not find evaluation dataset with ID {dataset_id}")
            store.set_tags(conn, dataset_id, clean)

        in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.DATASET, "dataset_id")
    def delete_tag(self, dataset_id: str, key: str) -> None:
        """Remove a tag; a missing tag or dataset is not an error, as in the reference."""
        in_transaction(self.db, lambda c: store.delete_tag(c, dataset_id, key))

    @gate.requires(Permission.READ, gate.DATASET, "dataset_id")
    def experiment_ids(self, dataset_id: str) -> list[int]:
        def work(conn: Connection) -> list[int]:
            if store.dataset_name(conn, dataset_id) is None:
                raise not_found(dataset_id)
            return store.experiment_ids(conn, dataset_id)

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.EDIT, gate.DATASET, "dataset_id")
    def add_experiments(self, dataset_id: str, experiment_ids: Sequence[str]) -> EvaluationDataset:
        ids = _experiment_ids(experiment_ids)
        # EDIT on the experiments linked to as well: a dataset goes only where its linker may write.
        gate.check_all(EXPERIMENT, ids, Permission.EDIT)

        def work(conn: Connection) -> EvaluationDataset:
            if store.dataset_name(conn, dataset_id, lock=True) is None:
                raise NotFound(f"Dataset '{dataset_id}' not found")
            _require_experiments(conn, ids)
            store.link_experiments(conn, dataset_id, ids)
            store.update_dataset(conn, dataset_id, last_update_time=_now())
            return self._load(conn, dataset_id)

        return in_transaction(self.db, work)

    @gate.requires(Permission.EDIT, gate.DATASET, "dataset_id")
    def remove_experiments(self, dataset_id: str, experiment_ids: Sequence[str]) -> EvaluationDataset:
        """Unlink experiments; ids that were not linked are ignored, as in the reference."""
        ids = _experiment_ids(experiment_ids)

        def work(conn: Connection) -> EvaluationDataset:
            if store.dataset_name(conn, dataset_id, lock=True) is None:
                raise NotFound(f"Dataset '{dataset_id}' not found")
            if store.unlink_experiments(conn, dataset_id, ids):
                store.update_dataset(conn, dataset_id, last_update_time=_now())
            return self._load(conn, dataset_id)

        return in_transaction(self.db, work)

    def search(
        self,
        *,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        order_by: list[str],
        max_results: int | None,
        page_token: str | None,
    ) -> tuple[list[EvaluationDataset], str | None]:
        ids = _experiment_ids(experiment_ids)
        # As MLflow: the experiments searched must all be readable. Unlike MLflow, a search without
        # experiments is not refused but sees only the datasets the caller may read, and so does any
        # search: a dataset also linked to an experiment the caller may not read stays out of it.
        gate.check_all(EXPERIMENT, ids, Permission.READ)
        readable = (gate.visible(EXPERIMENT) or (False, [])) if gate.enforcing() else None
        # 0 is what proto JSON sends for "unset".
        args = v.search_args(
            filter_string,
            order_by,
            max_results or None,
            page_token,
            default=DEFAULT_SEARCH_RESULTS,
            cap=MAX_SEARCH_RESULTS,
        )

        def work(conn: Connection) -> tuple[list[EvaluationDataset], str | None]:
            page = search_dataset_ids(conn, args, experiment_ids=ids, readable=readable)
            return store.load_datasets(conn, page.dataset_ids), page.next_page_token

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.EDIT, gate.DATASET, "dataset_id")
    def upsert_records(self, dataset_id: str, records: list[RecordInput]) -> tuple[int, int]:
        """Merge records into the dataset: a record whose inputs match an existing one (or an earlier one
        in the same request) updates it, any other is inserted. Returns (inserted, updated)."""
        hashes = [input_hash(r.inputs) for r in records]

        def work(conn: Connection) -> tuple[int, int]:
            name = store.dataset_name(conn, dataset_id, lock=True)
            if name is None:
                raise not_found(dataset_id)
            now = _now()
            known = store.records_by_hash(conn, dataset_id, hashes)
            fresh: dict[str, EvaluationRecord] = {}
            changed: dict[str, EvaluationRecord] = {}
            ids = iter(_record_ids(now, len(records)))
            updated_by: str | None = None
            updated = 0
            for new, digest in zip(records, hashes, strict=True):
                if new.tags and USER_TAG in new.tags:
                    updated_by = _user(new.tags[USER_TAG])
                existing = fresh.get(digest) or known.get(digest)
                if existing is not None:
                    _merge(existing, new, now)
                    if digest not in fresh:
                        changed[digest] = existing
                    updated += 1
                    continue
                user = _user(new.tags.get(USER_TAG)) if new.tags else None
                fresh[digest] = EvaluationRecord(
                    record_id=next(ids),
                    dataset_id=dataset_id,
                    input_hash=digest,
                    inputs=new.inputs,
                    # A record stored without outputs reads back as {}, as in the reference.
                    outputs=new.outputs if new.has_outputs else {},
                    expectations=new.expectations,
                    tags=new.tags,
                    source=new.source,
                    source_type=new.source["source_type"] if new.source else None,
                    source_id=_source_id(new.source),
                    created_time=now,
                    last_update_time=now,
                    created_by=user,
                    last_updated_by=user,
                )
            store.insert_records(conn, list(fresh.values()))
            store.update_records(conn, list(changed.values()))
            values: dict[str, Any] = {"last_update_time": now, "digest": _digest(name, now)}
            if updated_by is not None:
                values["last_updated_by"] = updated_by
            schema = extend_schema(store.dataset_schema(conn, dataset_id), records)
            if schema is not None:
                values["schema"] = schema
            count = store.count_records(conn, dataset_id)
            if count:
                values["profile"] = _profile(count)
            store.update_dataset(conn, dataset_id, **values)
            return len(fresh), updated

        return in_transaction(self.db, work)

    @gate.requires(Permission.READ, gate.DATASET, "dataset_id")
    def records(
        self, dataset_id: str, *, max_results: int | None, page_token: str | None
    ) -> tuple[list[EvaluationRecord], str | None]:
        """One page of the dataset's records in (created_time, id) order, and the token for the next."""
        limit = v.validate_max_results(
            max_results or None, default=DEFAULT_RECORDS_PAGE, cap=MAX_RECORDS_PAGE
        )
        after = _decode_position(page_token) if page_token else None

        def work(conn: Connection) -> tuple[list[EvaluationRecord], str | None]:
            if store.dataset_name(conn, dataset_id) is None:
                raise not_found(dataset_id)
            page = store.records_page(conn, dataset_id, after=after, limit=limit + 1)
            if len(page) <= limit:
                return page, None
            page = page[:limit]
            return page, _encode_position(page[-1])

        return in_transaction(self.db, work, write=False)

    @gate.requires(Permission.EDIT, gate.DATASET, "dataset_id")
    def delete_records(self, dataset_id: str, record_ids: Sequence[str]) -> int:
        """Delete records by id (ids not in the dataset are ignored); returns how many went."""

        def work(conn: Connection) -> int:
            name = store.dataset_name(conn, dataset_id, lock=True)
            if name is None:
                raise not_found(dataset_id)
            deleted = store.delete_records(conn, dataset_id, record_ids)
            if deleted:
                # Unlike the reference, a deletion is a change of state: a new digest and update time.
                now = _now()
                store.update_dataset(
                    conn,
                    dataset_id,
                    profile=_profile(store.count_records(conn, dataset_id)),
                    last_update_time=now,
                    digest=_digest(name, now),
                )
            return deleted

        return in_transaction(self.db, work)
