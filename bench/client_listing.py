"""Time a full run listing through the stock MLflow client (run with .venv's python, which has mlflow).

bench/run.py starts this in a subprocess so that the driver itself stays standard-library only:

    .venv/bin/python bench/client_listing.py --url http://127.0.0.1:PORT --experiment ID --reps 5

It pages `MlflowClient.search_runs` with max_results 1000 until there is no page token, keeping
every Run as a caller would, and prints one JSON line: the p50 and every timing, runs and pages.
The clock covers the paging only (not importing mlflow or building the client).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any


def listing(client: Any, experiment_id: str, page_size: int, max_pages: int) -> tuple[list[Any], int]:
    runs: list[Any] = []
    token: str | None = None
    pages = 0
    while pages < max_pages:
        page = client.search_runs([experiment_id], max_results=page_size, page_token=token)
        pages += 1
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs, pages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cap", type=float, default=60.0, help="stop starting new repetitions after S seconds")
    ap.add_argument("--page-size", type=int, default=1000)
    args = ap.parse_args()

    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    runs, pages = listing(client, args.experiment, args.page_size, 200)  # warm-up: connection, caches
    count = len(runs)
    del runs[:]
    times: list[float] = []
    deadline = time.monotonic() + args.cap
    for _ in range(args.reps):
        if times and time.monotonic() >= deadline:
            break
        t0 = time.perf_counter()
        runs, pages = listing(client, args.experiment, args.page_size, 200)
        times.append(time.perf_counter() - t0)
        count = len(runs)
        del runs[:]  # drop the last listing before the next one: memory stays flat across reps
    print(
        json.dumps(
            {
                "client": f"mlflow {mlflow.__version__}",
                "reps": len(times),
                "p50_ms": round(statistics.median(times) * 1000, 2),
                "all_ms": [round(t * 1000, 1) for t in times],
                "runs": count,
                "pages": pages,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
