"""Time a full run listing through the stock MLflow client (run with .venv's python, which has mlflow).

bench/run.py starts this in a subprocess so that the driver itself stays standard-library only:

    .venv/bin/python bench/client_listing.py --url http://127.0.0.1:PORT --experiment ID --reps 5

It pages `MlflowClient.search_runs` with max_results 1000 until there is no page token, keeping
every Run as a caller would, and prints one JSON line per server: the p50 and every timing, runs
and pages. The clock covers the paging only (not importing mlflow or building the client). Given
several `--url`/`--experiment` pairs, the servers take turns in every repetition, which compares
them at the same moments on a busy machine.
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
    ap.add_argument(
        "--url", action="append", required=True, help="a server; repeat to compare servers in turn"
    )
    ap.add_argument("--experiment", action="append", required=True, help="its experiment id (one per --url)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cap", type=float, default=60.0, help="stop starting new repetitions after S seconds")
    ap.add_argument("--page-size", type=int, default=1000)
    args = ap.parse_args()
    if len(args.url) != len(args.experiment):
        ap.error("give one --experiment per --url")

    import mlflow
    from mlflow.tracking import MlflowClient

    targets = [(MlflowClient(tracking_uri=u), e) for u, e in zip(args.url, args.experiment, strict=True)]
    times: list[list[float]] = [[] for _ in targets]
    counts: list[tuple[int, int]] = []
    for client, exp in targets:  # warm-up: connection, caches
        runs, pages = listing(client, exp, args.page_size, 200)
        counts.append((len(runs), pages))
        del runs[:]
    deadline = time.monotonic() + args.cap
    for rep in range(args.reps):
        if rep and time.monotonic() >= deadline:
            break
        # Servers take turns within each repetition, so a busy moment falls on all of them.
        for i, (client, exp) in enumerate(targets):
            t0 = time.perf_counter()
            runs, pages = listing(client, exp, args.page_size, 200)
            times[i].append(time.perf_counter() - t0)
            counts[i] = (len(runs), pages)
            del runs[:]  # drop the listing before the next one: memory stays flat across reps
    for url, taken, (count, pages) in zip(args.url, times, counts, strict=True):
        print(
            json.dumps(
                {
                    "url": url,
                    "client": f"mlflow {mlflow.__version__}",
                    "reps": len(taken),
                    "p50_ms": round(statistics.median(taken) * 1000, 2),
                    "all_ms": [round(t * 1000, 1) for t in taken],
                    "runs": count,
                    "pages": pages,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
