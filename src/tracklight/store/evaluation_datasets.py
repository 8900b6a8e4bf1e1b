"""Queries on MLflow 3 evaluation datasets: the dataset rows, their tags, experiment links and records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from tracklight.store import schema as s
from tracklight.store.dialect import insert_ignore, upsert
from tracklight.store.records import EvaluationDataset, EvaluationRecord

_CHUNK = 500  # keeps IN lists well inside every database's parameter limit

_ds = s.evaluation_datasets.c
_tag = s.evaluation_dataset_tags.c
_link = s.evaluation_dataset_experiments.c
_rec = s.evaluation_dataset_records.c


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def encode_json(value: Any) -> str | None:
    """A JSON column's text; None stays SQL NULL. NaN survives, as Python's json writes and reads it."""
    return None if value is None else json.dumps(value)


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# -- datasets ------------------------------------------------------------------------------------------


def insert_dataset(conn: Connection, d: EvaluationDataset) -> None:
    conn.execute(
        insert(s.evaluation_datasets).values(
            id=d.dataset_id,
            name=d.name,
            digest=d.digest,
            schema=d.schema,
            profile=d.profile,
            created_time=d.created_time,
            last_update_time=d.last_update_time,
            created_by=d.created_by,
            last_updated_by=d.last_updated_by,
        )
    )
    set_tags(conn, d.dataset_id, d.tags)
    link_experiments(conn, d.dataset_id, d.experiment_ids)


def dataset_name(conn: Connection, dataset_id: str, *, lock: bool = False) -> str | None:
    """The dataset's name, or None if there is no such dataset; `lock` holds its row to the transaction's end.

    Every write to a dataset's records takes this lock first, so concurrent upserts of the same inputs
    queue instead of racing on the unique (dataset, input hash) key."""
    stmt = select(_ds.name).where(_ds.id == dataset_id)
    if lock:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar()


def dataset_schema(conn: Connection, dataset_id: str) -> str | None:
    return conn.execute(select(_ds.schema).where(_ds.id == dataset_id)).scalar()


def load_datasets(conn: Connection, dataset_ids: Sequence[str]) -> list[EvaluationDataset]:
    """Datasets with their tags and experiment ids, in the order of the ids given (unknown ids skipped)."""
    by_id: dict[str, EvaluationDataset] = {}
    for chunk in _chunks(dataset_ids):
        rows = conn.execute(
            select(
                _ds.id,
                _ds.name,
                _ds.digest,
                _ds.schema,
                _ds.profile,
                _ds.created_time,
                _ds.last_update_time,
                _ds.created_by,
                _ds.last_updated_by,
            ).where(_ds.id.in_(chunk))
        ).all()
        for row in rows:
            by_id[row[0]] = EvaluationDataset(*row)
        found = [row[0] for row in rows]
        if not found:
            continue
        for dataset_id, key, value in conn.execute(
            select(_tag.dataset_id, _tag.key, _tag.value).where(_tag.dataset_id.in_(found)).order_by(_tag.key)
        ):
            by_id[dataset_id].tags[key] = value
        for dataset_id, experiment_id in conn.execute(
            select(_link.dataset_id, _link.experiment_id)
            .where(_link.dataset_id.in_(found))
            .order_by(_link.experiment_id)
        ):
            by_id[dataset_id].experiment_ids.append(experiment_id)
    return [by_id[i] for i in dataset_ids if i in by_id]


def update_dataset(conn: Connection, dataset_id: str, **values: Any) -> None:
    conn.execute(update(s.evaluation_datasets).where(_ds.id == dataset_id).values(**values))


def delete_dataset(conn: Connection, dataset_id: str) -> bool:
    """Delete the dataset with its records, tags and links; False if there was none."""
    for table in (s.evaluation_dataset_records, s.evaluation_dataset_tags, s.evaluation_dataset_experiments):
        conn.execute(delete(table).where(table.c.dataset_id == dataset_id))
    return conn.execute(delete(s.evaluation_datasets).where(_ds.id == dataset_id)).rowcount > 0


def set_tags(conn: Connection, dataset_id: str, tags: dict[str, str]) -> None:
    rows = [{"dataset_id": dataset_id, "key": k, "value": v} for k, v in sorted(tags.items())]
    upsert(conn, s.evaluation_dataset_tags, rows, ["dataset_id", "key"], ["value"])


def delete_tag(conn: Connection, dataset_id: str, key: str) -> bool:
    result = conn.execute(
        delete(s.evaluation_dataset_tags).where(_tag.dataset_id == dataset_id, _tag.key == key)
    )
    return result.rowcount > 0


# -- experiment links ----------------------------------------------------------------------------------


def existing_experiments(conn: Connection, experiment_ids: Sequence[int]) -> set[int]:
    """Which of these experiments exist (in any lifecycle stage)."""
    found: set[int] = set()
    for chunk in _chunks(experiment_ids):
        found.update(conn.execute(select(s.experiments.c.id).where(s.experiments.c.id.in_(chunk))).scalars())
    return found


def experiment_ids(conn: Connection, dataset_id: str) -> list[int]:
    return list(
        conn.execute(
            select(_link.experiment_id).where(_link.dataset_id == dataset_id).order_by(_link.experiment_id)
        ).scalars()
    )


def linked_experiments(conn: Connection, dataset_id: str) -> list[int] | None:
    """The experiments the dataset is linked to, in one query; None if there is no such dataset."""
    rows = conn.execute(
        select(_ds.id, _link.experiment_id)
        .select_from(
            s.evaluation_datasets.outerjoin(s.evaluation_dataset_experiments, _link.dataset_id == _ds.id)
        )
        .where(_ds.id == dataset_id)
    ).all()
    if not rows:
        return None
    return sorted(int(row[1]) for row in rows if row[1] is not None)


def link_experiments(conn: Connection, dataset_id: str, experiment_ids: Sequence[int]) -> None:
    rows = [{"dataset_id": dataset_id, "experiment_id": e} for e in sorted(set(experiment_ids))]
    insert_ignore(conn, s.evaluation_dataset_experiments, rows, ["dataset_id", "experiment_id"])


def unlink_experiments(conn: Connection, dataset_id: str, experiment_ids: Sequence[int]) -> int:
    removed = 0
    for chunk in _chunks(sorted(set(experiment_ids))):
        removed += conn.execute(
            delete(s.evaluation_dataset_experiments).where(
                _link.dataset_id == dataset_id, _link.experiment_id.in_(chunk)
            )
        ).rowcount
    return removed


# -- records -------------------------------------------------------------------------------------------

_RECORD_COLUMNS = (
    _rec.id,
    _rec.dataset_id,
    _rec.input_hash,
    _rec.inputs,
    _rec.outputs,
    _rec.expectations,
    _rec.tags,
    _rec.source,
    _rec.source_type,
    _rec.source_id,
    _rec.created_time,
    _rec.last_update_time,
    _rec.created_by,
    _rec.last_updated_by,
)


def _record(row: Any) -> EvaluationRecord:
    return EvaluationRecord(
        record_id=row.id,
        dataset_id=row.dataset_id,
        input_hash=row.input_hash,
        inputs=_decode(row.inputs),
        outputs=_decode(row.outputs),
        expectations=_decode(row.expectations),
        tags=_decode(row.tags),
        source=_decode(row.source),
        source_type=row.source_type,
        source_id=row.source_id,
        created_time=row.created_time,
        last_update_time=row.last_update_time,
        created_by=row.created_by,
        last_updated_by=row.last_updated_by,
    )


def _record_row(r: EvaluationRecord) -> dict[str, Any]:
    return {
        "id": r.record_id,
        "dataset_id": r.dataset_id,
        "input_hash": r.input_hash,
        "inputs": encode_json(r.inputs),
        "outputs": encode_json(r.outputs),
        "expectations": encode_json(r.expectations),
        "tags": encode_json(r.tags),
        "source": encode_json(r.source),
        "source_type": r.source_type,
        "source_id": r.source_id,
        "created_time": r.created_time,
        "last_update_time": r.last_update_time,
        "created_by": r.created_by,
        "last_updated_by": r.last_updated_by,
    }


def records_by_hash(conn: Connection, dataset_id: str, hashes: Sequence[str]) -> dict[str, EvaluationRecord]:
    """The dataset's records whose inputs hash to one of `hashes`."""
    out: dict[str, EvaluationRecord] = {}
    for chunk in _chunks(sorted(set(hashes))):
        rows = conn.execute(
            select(*_RECORD_COLUMNS).where(_rec.dataset_id == dataset_id, _rec.input_hash.in_(chunk))
        )
        for row in rows:
            out[row.input_hash] = _record(row)
    return out


def insert_records(conn: Connection, records: Sequence[EvaluationRecord]) -> None:
    for chunk in _chunks(records):
        conn.execute(insert(s.evaluation_dataset_records), [_record_row(r) for r in chunk])


def update_records(conn: Connection, records: Sequence[EvaluationRecord]) -> None:
    """Write back the mutable fields of records that a merge changed."""
    if not records:
        return
    stmt = (
        update(s.evaluation_dataset_records)
        .where(_rec.id == bindparam("record_id"))
        .values(
            outputs=bindparam("new_outputs"),
            expectations=bindparam("new_expectations"),
            tags=bindparam("new_tags"),
            last_update_time=bindparam("new_last_update_time"),
            last_updated_by=bindparam("new_last_updated_by"),
        )
    )
    for chunk in _chunks(sorted(records, key=lambda r: r.record_id)):  # one lock order for writers
        conn.execute(
            stmt,
            [
                {
                    "record_id": r.record_id,
                    "new_outputs": encode_json(r.outputs),
                    "new_expectations": encode_json(r.expectations),
                    "new_tags": encode_json(r.tags),
                    "new_last_update_time": r.last_update_time,
                    "new_last_updated_by": r.last_updated_by,
                }
                for r in chunk
            ],
        )


def count_records(conn: Connection, dataset_id: str) -> int:
    return conn.execute(
        select(func.count()).select_from(s.evaluation_dataset_records).where(_rec.dataset_id == dataset_id)
    ).scalar_one()


def records_page(
    conn: Connection, dataset_id: str, *, after: tuple[int, str] | None, limit: int
) -> list[EvaluationRecord]:
    """Up to `limit` records in (created_time, id) order, starting after the given position."""
    stmt = select(*_RECORD_COLUMNS).where(_rec.dataset_id == dataset_id)
    if after is not None:
        created, record_id = after
        stmt = stmt.where(
            or_(_rec.created_time > created, and_(_rec.created_time == created, _rec.id > record_id))
        )
    stmt = stmt.order_by(_rec.created_time, _rec.id).limit(limit)
    return [_record(row) for row in conn.execute(stmt)]


def delete_records(conn: Connection, dataset_id: str, record_ids: Sequence[str]) -> int:
    deleted = 0
    for chunk in _chunks(sorted(set(record_ids))):
        deleted += conn.execute(
            delete(s.evaluation_dataset_records).where(_rec.dataset_id == dataset_id, _rec.id.in_(chunk))
        ).rowcount
    return deleted
