"""How long one `tracklight gc` metric batch (store.purge.delete_points) holds its transaction, per backend.

    nice .venv/bin/python bench/gc_batches.py --backends sqlite,postgresql,mysql --points 100000 --batches 1000,5000

Loads one series of --points points straight into a fresh database (schema by the migrations), gives the
planner statistics as production maintenance would, then deletes the series batch by batch as gc does and
reports each batch transaction's wall time (median, max) and the client's CPU per batch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backends import create_database  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from tracklight.store import purge  # noqa: E402
from tracklight.store import schema as s  # noqa: E402
from tracklight.store.engine import open_database  # noqa: E402
from tracklight.store.migrate import upgrade  # noqa: E402

_LOAD_CHUNK = 10_000


def _load(db, points: int) -> None:  # type: ignore[no-untyped-def]
    with db.write() as conn:
        conn.execute(
            insert(s.experiments).values(
                id=1,
                name="x",
                artifact_location="/tmp/x",
                lifecycle_stage="deleted",
                creation_time=0,
                last_update_time=0,
            )
        )
        conn.execute(
            insert(s.runs).values(
                id=1,
                run_uuid="a" * 32,
                experiment_id=1,
                name="r",
                user_id="u",
                status="FINISHED",
                start_time=0,
                lifecycle_stage="purging",
                artifact_uri="/tmp/x/a",
            )
        )
        conn.execute(
            insert(s.metric_series).values(
                id=1, run_id=1, key="m", step=0, timestamp=0, value=0.0, is_nan=False
            )
        )
    for start in range(0, points, _LOAD_CHUNK):
        rows = [
            {"series_id": 1, "step": i, "timestamp": 1000 + i, "value": float(i), "is_nan": False}
            for i in range(start, min(points, start + _LOAD_CHUNK))
        ]
        with db.write() as conn:
            conn.execute(insert(s.metrics), rows)


def measure(kind: str, points: int, batch: int) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="tl-gc-batches-"))
    database = create_database(kind, "tracklight", workdir)
    db = open_database(database.uri_for("tracklight"))
    try:
        upgrade(db)
        _load(db, points)
        database.refresh_statistics()
        walls, cpus = [], []
        done = False
        while not done:
            wall, cpu = time.perf_counter(), time.process_time()
            with db.write() as conn:
                done = purge.delete_points(conn, 1, batch)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
    finally:
        db.dispose()
        database.drop()
    return (
        f"{kind:10s} batch {batch:5d}: {len(walls):4d} transactions; wall per transaction median "
        f"{statistics.median(walls):6.1f} ms, max {max(walls):6.1f} ms; client CPU median {statistics.median(cpus):5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batches", default="1000,5000")
    args = parser.parse_args()
    for kind in args.backends.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            print(measure(kind, args.points, batch), flush=True)


if __name__ == "__main__":
    main()
