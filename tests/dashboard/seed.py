"""Data for the dashboard tests, logged through the stock mlflow client against a live server."""

from __future__ import annotations

import json
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Markup that would run if any page put user data into HTML unescaped, or JS used innerHTML on it.
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"


def tiny_png(width: int = 4, height: int = 4) -> bytes:
    """A valid red PNG, built by hand so the tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class Seeded:
    experiment_id: str
    experiment_name: str
    runs: dict[str, str] = field(default_factory=dict)  # label -> run id
    xss_experiment_id: str = ""
    xss_run_id: str = ""


def seed(client: Any, name: str) -> Seeded:
    """An experiment with finished runs (params, metric histories, tags), a parent with children, artifacts."""
    experiment_id = client.create_experiment(name)
    out = Seeded(experiment_id=experiment_id, experiment_name=name)
    for i, (lr, optimizer) in enumerate([(0.1, "sgd"), (0.01, "adam"), (0.001, "adam"), (0.05, "sgd")]):
        run = client.create_run(
            experiment_id, run_name=f"train-{i}", tags={"team": "vision" if i % 2 else "nlp"}
        )
        run_id = run.info.run_id
        client.log_param(run_id, "lr", str(lr))
        client.log_param(run_id, "optimizer", optimizer)
        from mlflow.entities import Metric

        base = 1_700_000_000_000 + i * 1000
        metrics = [Metric("loss", 1.0 / (step + 1) + lr, base + step * 100, step) for step in range(300)]
        metrics += [
            Metric("accuracy", min(0.99, 0.5 + step * 0.002 + lr), base + step * 100, step)
            for step in range(300)
        ]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        client.set_terminated(run_id, "FINISHED")
        out.runs[f"train-{i}"] = run_id
    parent = client.create_run(experiment_id, run_name="sweep-parent")
    out.runs["sweep-parent"] = parent.info.run_id
    for j in range(3):
        child = client.create_run(
            experiment_id, run_name=f"sweep-child-{j}", tags={"mlflow.parentRunId": parent.info.run_id}
        )
        client.log_param(child.info.run_id, "lr", str(0.1 * (j + 1)))
        client.log_metric(child.info.run_id, "loss", 0.3 - j * 0.05, step=0)
        client.set_terminated(child.info.run_id, "FINISHED")
        out.runs[f"sweep-child-{j}"] = child.info.run_id
    client.set_terminated(parent.info.run_id, "FINISHED")

    run_id = out.runs["train-1"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "notes.txt").write_text("hello from the artifact browser\nline two\n")
        (root / "config.json").write_text(json.dumps({"layers": [64, 32], "dropout": 0.1}))
        (root / "params.yaml").write_text("lr: 0.01\noptimizer: adam\n")
        (root / "table.csv").write_text("epoch,loss\n1,0.9\n2,0.5\n3,0.25\n")
        (root / "plot.png").write_bytes(tiny_png())
        (root / "report.html").write_text("<h1>Report</h1><script>parent.window.__xss=1</script>")
        # Reports drawn by a script (plotly, bokeh) are blank unless the frame runs scripts.
        (root / "scripted.html").write_text(
            "<div id='out'></div><script>document.getElementById('out').textContent = 'drawn by script';"
            "try { top.document.title = 'owned' } catch (e) { document.title = 'walled off' }</script>"
        )
        (root / "model").mkdir()
        (root / "model" / "MLmodel").write_text("artifact_path: model\nflavors:\n  python_function: {}\n")
        client.log_artifacts(run_id, str(root))
    return out


def seed_xss(client: Any, name: str) -> tuple[str, str]:
    """An experiment whose names, params, tags, metrics and artifacts carry HTML/JS payloads."""
    experiment_id = client.create_experiment(name + XSS_SCRIPT)
    run = client.create_run(
        experiment_id, run_name=XSS_IMG, tags={"payload": XSS_IMG, "note": XSS_SCRIPT + XSS_IMG}
    )
    run_id = run.info.run_id
    client.log_param(run_id, "payload", XSS_IMG)
    client.log_param(run_id, "payload2", XSS_SCRIPT)
    client.log_metric(run_id, "m_onerror", 1.0, step=0)
    client.log_metric(run_id, "m_onerror", 2.0, step=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / '<img src=x onerror="window.__xss=1">.txt').write_text(XSS_SCRIPT)
        (root / "evil.html").write_text(
            "<script>parent.window.__xss=1;top.window.__xss=1</script><p>sandboxed</p>"
        )
        (root / "evil.json").write_text(json.dumps({"k": XSS_IMG}))
        (root / "evil.csv").write_text(f"col,{XSS_IMG}\n1,{XSS_SCRIPT}\n")
        client.log_artifacts(run_id, str(root))
    client.set_terminated(run_id, "FINISHED")
    return experiment_id, run_id


def seed_nested(client: Any, name: str, children: int) -> tuple[str, str, list[str]]:
    """A parent run named a-parent with `children` children named z-child-NN, so by name the parent
    sorts first and its children spill onto later pages. Returns (experiment id, parent id, child ids)."""
    experiment_id = client.create_experiment(name)
    parent = client.create_run(experiment_id, run_name="a-parent").info.run_id
    child_ids = []
    for i in range(children):
        run = client.create_run(
            experiment_id, run_name=f"z-child-{i:02d}", tags={"mlflow.parentRunId": parent}
        )
        child_ids.append(run.info.run_id)
    return experiment_id, parent, child_ids


def log_points_over_http(url: str, run_id: str, key: str, count: int, threads: int = 4) -> None:
    """`count` points of one metric (value = step / count) in log-batch requests of 1000 from a few
    threads: the fast way for a test to give a run a very long history."""
    import concurrent.futures

    import requests

    def batch(start: int) -> None:
        metrics = [
            {"key": key, "value": step / count, "timestamp": 1_700_000_000_000 + step, "step": step}
            for step in range(start, min(start + 1000, count))
        ]
        r = requests.post(
            url + "/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": metrics}, timeout=120
        )
        r.raise_for_status()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(batch, range(0, count, 1000)))


def bulk_runs(db_uri: str, experiment_id: str, count: int, keys_per_run: int) -> None:
    """`count` runs with params, metrics and tags written straight into the server's database in a few
    multi-row inserts (the client would take minutes): for timing questions over many runs."""
    import uuid

    import sqlalchemy as sa

    from tracklight.store import schema as s
    from tracklight.store.engine import normalize_uri

    engine = sa.create_engine(normalize_uri(db_uri))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(s.runs),
                [
                    {
                        "run_uuid": uuid.uuid4().hex,
                        "experiment_id": int(experiment_id),
                        "name": f"bulk-{i}",
                        "user_id": "bulk",
                        "status": "FINISHED",
                        "start_time": 1_700_000_000_000 + i,
                        "end_time": 1_700_000_000_000 + i + 1,
                        "lifecycle_stage": "active",
                        "artifact_uri": "mlflow-artifacts:/bulk",
                    }
                    for i in range(count)
                ],
            )
            ids = [
                row[0]
                for row in conn.execute(
                    sa.select(s.runs.c.id).where(s.runs.c.experiment_id == int(experiment_id))
                )
            ]
            for start in range(0, len(ids), 2000):
                chunk = ids[start : start + 2000]
                conn.execute(
                    sa.insert(s.params),
                    [
                        {"run_id": r, "key": f"p{(r + k) % (keys_per_run * 3)}", "value": str(k)}
                        for r in chunk
                        for k in range(keys_per_run)
                    ],
                )
                conn.execute(
                    sa.insert(s.run_tags),
                    [{"run_id": r, "key": f"t{k}", "value": "x"} for r in chunk for k in range(keys_per_run)],
                )
                conn.execute(
                    sa.insert(s.metric_series),
                    [
                        {
                            "run_id": r,
                            "key": f"m{k}",
                            "step": 0,
                            "timestamp": 0,
                            "value": float(k),
                            "is_nan": False,
                        }
                        for r in chunk
                        for k in range(keys_per_run)
                    ],
                )
    finally:
        engine.dispose()
