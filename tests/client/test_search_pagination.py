"""Paging search_runs past 1000 runs: page tokens give every run exactly once, in a stable order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType

import pytest
from harness.plugin import Tracking
from harness.server import ServerProcess
from mlflow import MlflowClient

N_RUNS = 1200


@dataclass
class Crowd:
    experiment_id: str
    run_ids: set[str]
    start_times: dict[str, int]


@pytest.fixture(scope="module")
def crowd(tracking_server: ServerProcess) -> Iterator[Crowd]:
    """1200 runs in one experiment, created concurrently, with many ties in start_time (ten per millisecond)."""
    client = MlflowClient(tracking_uri=tracking_server.url)
    exp_id = client.create_experiment(f"crowd-{uuid.uuid4().hex[:8]}")

    def make(i: int) -> tuple[str, int]:
        start = 1_600_000_000_000 + i // 10
        run = client.create_run(exp_id, start_time=start, run_name=f"crowd-{i:04d}")
        return run.info.run_id, start

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(make, range(N_RUNS)))
    yield Crowd(exp_id, {r for r, _ in made}, dict(made))


def _page_all(tracking: Tracking, crowd: Crowd, order_by: list[str] | None, max_results: int) -> list[str]:
    ids: list[str] = []
    token = None
    pages = 0
    while True:
        page = tracking.client.search_runs(
            [crowd.experiment_id], max_results=max_results, order_by=order_by, page_token=token
        )
        pages += 1
        assert len(page) <= max_results
        ids.extend(r.info.run_id for r in page)
        token = page.token
        if not token:
            break
        assert pages <= N_RUNS // max_results + 2, "the server keeps returning page tokens"
    return ids


def test_created_all(crowd: Crowd) -> None:
    assert len(crowd.run_ids) == N_RUNS


@pytest.mark.parametrize("order_by", [None, ["attributes.start_time ASC"], ["attributes.run_name DESC"]])
def test_pages_of_500_cover_every_run_once(
    tracking: Tracking, crowd: Crowd, order_by: list[str] | None
) -> None:
    ids = _page_all(tracking, crowd, order_by, 500)
    assert len(ids) == N_RUNS, f"got {len(ids)} runs over the pages"
    assert len(set(ids)) == N_RUNS, f"{N_RUNS - len(set(ids))} duplicates across pages"
    assert set(ids) == crowd.run_ids
    starts = [crowd.start_times[r] for r in ids]
    if order_by is None:
        assert starts == sorted(starts, reverse=True)
    elif order_by == ["attributes.start_time ASC"]:
        assert starts == sorted(starts)


def test_page_sizes(tracking: Tracking, crowd: Crowd) -> None:
    sizes = []
    token = None
    while True:
        page = tracking.client.search_runs([crowd.experiment_id], max_results=500, page_token=token)
        sizes.append(len(page))
        token = page.token
        if not token:
            break
    assert sizes == [500, 500, 200]


def test_default_page_is_1000_with_token(tracking: Tracking, crowd: Crowd) -> None:
    first = tracking.client.search_runs([crowd.experiment_id])
    assert len(first) == 1000
    assert first.token
    rest = tracking.client.search_runs([crowd.experiment_id], page_token=first.token)
    assert len(rest) == N_RUNS - 1000
    assert not rest.token
    assert {r.info.run_id for r in first} | {r.info.run_id for r in rest} == crowd.run_ids


def test_fluent_search_runs_returns_everything(mlflow: ModuleType, crowd: Crowd) -> None:
    df = mlflow.search_runs(experiment_ids=[crowd.experiment_id])
    assert len(df) == N_RUNS
    assert set(df["run_id"]) == crowd.run_ids
    limited = mlflow.search_runs(experiment_ids=[crowd.experiment_id], max_results=1100, output_format="list")
    assert len(limited) == 1100
    assert len({r.info.run_id for r in limited}) == 1100


def test_single_large_page(tracking: Tracking, crowd: Crowd) -> None:
    page = tracking.client.search_runs([crowd.experiment_id], max_results=5000)
    assert len(page) == N_RUNS
    assert not page.token
