"""Two server processes on one database create versions of one registered model at once: numbers run 1..N."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from harness.databases import BackendURI, selected_backends

from durability._support import Api, ok

REPLICA_BACKENDS = [b for b in ("mariadb", "postgresql") if b in selected_backends()]
THREADS = 12
PER_THREAD = 15


@pytest.mark.parametrize("backend", REPLICA_BACKENDS, indirect=True)
def test_two_replicas_number_versions_without_gaps_or_repeats(
    backend: BackendURI, server_factory: Any
) -> None:
    servers = [server_factory(backend, name="replica-a"), server_factory(backend, name="replica-b")]
    setup = Api(servers[0].url)
    name = f"concurrent-{uuid.uuid4().hex[:8]}"
    ok(setup.post("registered-models/create", {"name": name}))
    start = threading.Barrier(THREADS)

    def create_versions(thread: int) -> list[tuple[str, int]]:
        # One session per thread; threads alternate servers so both write the same row at once.
        apis = [Api(s.url) for s in servers]
        start.wait()
        out = []
        for n in range(PER_THREAD):
            server = (thread + n) % 2
            source = f"mlflow-artifacts:/0/concurrent/{thread}-{n}"
            body = ok(apis[server].post("model-versions/create", {"name": name, "source": source}))
            version = body["model_version"]
            assert version["status"] == "READY"
            out.append((version["source"], int(version["version"])))
        for api in apis:
            api.close()
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        created = [pair for result in pool.map(create_versions, range(THREADS)) for pair in result]

    total = THREADS * PER_THREAD
    numbers = sorted(number for _, number in created)
    assert numbers == list(range(1, total + 1)), "version numbers repeat or skip"
    # What the database holds agrees with what the creators were told, version by version.
    stored: dict[int, str] = {}
    token = None
    for _ in range(total):
        params: dict[str, Any] = {"filter": f"name = '{name}'", "max_results": 50}
        if token:
            params["page_token"] = token
        page = ok(Api(servers[1].url).get("model-versions/search", params))
        stored.update({int(v["version"]): v["source"] for v in page.get("model_versions", [])})
        token = page.get("next_page_token")
        if not token:
            break
    assert stored == {number: source for source, number in created}
    # The next number continues the sequence, whichever server hands it out.
    after = ok(setup.post("model-versions/create", {"name": name, "source": "s3://bucket/after"}))
    assert after["model_version"]["version"] == str(total + 1)
    setup.close()
