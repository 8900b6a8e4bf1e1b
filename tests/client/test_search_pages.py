"""A page of runs carries the same data whatever its size: small pages and large ones are loaded differently."""

from __future__ import annotations

import math
from typing import Any

from harness.api import ok, post
from harness.plugin import Tracking
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag


def _search(tracking: Tracking, exp_id: str, max_results: int) -> list[dict[str, Any]]:
    """Every run of the experiment through runs/search pages of max_results, as the wire JSON."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        body: dict[str, Any] = {
            "experiment_ids": [exp_id],
            "max_results": max_results,
            "order_by": ["metrics.m DESC"],
        }
        if token:
            body["page_token"] = token
        page = ok(post(tracking.api("runs/search"), body))
        found += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            return found


def _canonical(run: dict[str, Any]) -> dict[str, Any]:
    data = run["data"]
    return {
        "info": run["info"],
        "metrics": sorted(
            (m["key"], str(m["value"]), m["timestamp"], m["step"]) for m in data.get("metrics", [])
        ),
        "params": sorted((p["key"], p["value"]) for p in data.get("params", [])),
        "tags": sorted((t["key"], t["value"]) for t in data.get("tags", [])),
        "inputs": run.get("inputs", {}),
        "outputs": run.get("outputs", {}),
    }


def test_small_and_large_pages_carry_the_same_run_data(tracking: Tracking) -> None:
    client = tracking.client
    exp_id = client.create_experiment(tracking.new_name())
    model_id = ok(post(tracking.api("logged-models"), {"experiment_id": exp_id}))["model"]["info"]["model_id"]
    values = [0.5, 1.0, -2.25, 1e-300, 1.7976931348623157e308, math.nan, math.inf, -math.inf, 3.0, 0.0]
    for i, value in enumerate(values):
        run_id = client.create_run(exp_id, run_name=f"r{i}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("m", value, 1_700_000_000_000 + i, i), Metric("n", float(i), 5, 2**40 + i)],
            params=[Param("p", f"v{i}"), Param("unicode", "héllo ✓")],
            tags=[RunTag("t", f"x{i % 3}")],
        )
        if i % 2 == 0:
            dataset = Dataset(f"ds{i}", f"d{i}", "local", '{"uri": "/d"}', schema='{"a": 1}')
            client.log_inputs(
                run_id, [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "train")])]
            )
        if i % 3 == 0:
            ok(
                post(
                    tracking.api("runs/outputs"),
                    {"run_id": run_id, "models": [{"model_id": model_id, "step": i}]},
                )
            )
    small = _search(tracking, exp_id, 3)
    large = _search(tracking, exp_id, 1000)
    assert [r["info"]["run_id"] for r in small] == [r["info"]["run_id"] for r in large]
    assert [_canonical(r) for r in small] == [_canonical(r) for r in large]
    by_name = {r["info"]["run_name"]: r for r in small}
    metrics = {m["key"]: m["value"] for m in by_name["r5"]["data"]["metrics"]}
    assert metrics["m"] == "NaN" and metrics["n"] == 5.0
    # Infinities are stored as the largest finite doubles, as MLflow stores them.
    assert {m["key"]: m["value"] for m in by_name["r7"]["data"]["metrics"]}["m"] == -1.7976931348623157e308
    assert {m["key"]: m["value"] for m in by_name["r4"]["data"]["metrics"]}["m"] == 1.7976931348623157e308
    assert by_name["r0"]["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "ds0"
    assert by_name["r3"]["outputs"]["model_outputs"] == [{"model_id": model_id, "step": 3}]
