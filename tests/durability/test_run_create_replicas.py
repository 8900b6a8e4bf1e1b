"""Creating runs with two server processes on one database: what one server remembers about an
experiment (its artifact location, to skip a read per run) never lets a run into an experiment the
other deleted, nor gives a run a location the experiment no longer has."""

from __future__ import annotations

from typing import Any

import pytest
from harness.databases import BackendURI, selected_backends

from durability._support import Api, error_code, ok
from tracklight.store.engine import open_database

REPLICA_BACKENDS = [b for b in ("mariadb", "postgresql") if b in selected_backends()]


@pytest.mark.parametrize("backend", REPLICA_BACKENDS, indirect=True)
def test_a_replica_never_creates_a_run_in_an_experiment_the_other_deleted_or_changed(
    backend: BackendURI, server_factory: Any
) -> None:
    first = Api(server_factory(backend, timeout=60).url)
    second = Api(server_factory(backend, timeout=60).url)
    experiment_id = first.create_experiment()
    first.create_run(experiment_id)  # the first server now knows the experiment

    ok(second.post("experiments/delete", {"experiment_id": experiment_id}))
    refused = first.post("runs/create", {"experiment_id": experiment_id, "start_time": 1})
    assert refused.status_code == 400 and error_code(refused) == "INVALID_PARAMETER_VALUE", refused.text
    assert "must be in the 'active' state" in refused.json()["message"]

    ok(second.post("experiments/restore", {"experiment_id": experiment_id}))
    assert ok(first.post("runs/create", {"experiment_id": experiment_id, "start_time": 2}))["run"]

    # No API moves an experiment's artifacts, but an experiment id can be taken again after a
    # permanent delete: stand in for that by changing the location underneath both servers.
    db = open_database(str(backend))
    try:
        with db.write() as conn:
            conn.exec_driver_sql(
                "UPDATE experiments SET artifact_location = 'file:///moved/elsewhere' WHERE id = "
                + ("?" if db.dialect == "sqlite" else "%s"),
                (int(experiment_id),),
            )
    finally:
        db.dispose()
    run = ok(first.post("runs/create", {"experiment_id": experiment_id, "start_time": 3}))["run"]
    assert run["info"]["artifact_uri"].startswith("file:///moved/elsewhere/"), run["info"]
    stored = first.get_run(run["info"]["run_id"])
    assert stored["info"]["artifact_uri"] == run["info"]["artifact_uri"]
