"""Run inputs and outputs: datasets with their input tags, and links to logged models."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select, update

from tracklight.store import schema as s
from tracklight.store.dialect import insert_ignore
from tracklight.store.records import DatasetInput

_CONTEXT_TAG = "mlflow.data.context"


def log_dataset_inputs(
    conn: Connection, run_internal_id: int, experiment_id: int, inputs: Sequence[DatasetInput]
) -> None:
    """Record datasets once per experiment (by name and digest) and link them to the run."""
    if not inputs:
        return
    d = s.datasets.c
    insert_ignore(
        conn,
        s.datasets,
        [
            {
                "experiment_id": experiment_id,
                "name": i.name,
                "digest": i.digest,
                "source_type": i.source_type,
                "source": i.source,
                "schema": i.schema,
                "profile": i.profile,
            }
            for i in inputs
        ],
        ["experiment_id", "name", "digest"],
    )
    for item in inputs:
        dataset_id = conn.execute(
            select(d.id).where(d.experiment_id == experiment_id, d.name == item.name, d.digest == item.digest)
        ).scalar_one()
        tags = json.dumps([{"key": k, "value": v} for k, v in item.tags])
        context = dict(item.tags).get(_CONTEXT_TAG)
        row = {"run_id": run_internal_id, "dataset_id": dataset_id, "tags": tags, "context": context}
        insert_ignore(conn, s.run_inputs, [row], ["run_id", "dataset_id"])
        ri = s.run_inputs.c
        conn.execute(
            update(s.run_inputs)
            .where(ri.run_id == run_internal_id, ri.dataset_id == dataset_id)
            .values(tags=tags, context=context)
        )


def link_models(
    conn: Connection, run_internal_id: int, direction: str, models: Sequence[tuple[str, int | None]]
) -> None:
    rows = [
        {"run_id": run_internal_id, "direction": direction, "model_id": model_id, "step": step}
        for model_id, step in dict(models).items()
    ]
    insert_ignore(conn, s.run_model_links, rows, ["run_id", "direction", "model_id"])


def dataset_summaries(
    conn: Connection, experiment_ids: Sequence[int], limit: int
) -> list[tuple[int, str, str, str | None]]:
    """Distinct (experiment id, name, digest, context) of the datasets logged to the experiments' runs,
    in the order the datasets were first logged."""
    d, ri = s.datasets.c, s.run_inputs.c
    rows = conn.execute(
        select(d.id, d.experiment_id, d.name, d.digest, ri.context)
        .distinct()
        .select_from(s.datasets.join(s.run_inputs, ri.dataset_id == d.id))
        .where(d.experiment_id.in_(set(experiment_ids)))
        .order_by(d.id, ri.context)
        .limit(limit)
    ).all()
    return [(row[1], row[2], row[3], row[4]) for row in rows]
