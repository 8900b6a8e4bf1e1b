"""Registry webhooks end to end: a real receiver on 127.0.0.1 gets signed deliveries from real server processes
on every backend, retried after failures, each event once with two replicas on one database, and nothing at all
where the SSRF guard refuses the address."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from harness.api import assert_error, ok
from harness.databases import BackendURI, selected_backends
from harness.server import ServerProcess

from tracklight.store import webhooks as outbox_store
from tracklight.store.engine import open_database
from tracklight.store.transactions import in_transaction
from webhooks.receiver import Receiver, signature_is_valid

REPLICA_BACKENDS = [b for b in ("mariadb", "postgresql") if b in selected_backends()]
KEY = Fernet.generate_key().decode()
SECRET = "receiver-secret-" + uuid.uuid4().hex[:8]
FAST = {
    "TRACKLIGHT_WEBHOOK_SECRET_KEY": KEY,
    "TRACKLIGHT_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",  # the receiver is on 127.0.0.1
    "TRACKLIGHT_WEBHOOK_RETRY_SECONDS": "0.2",
}


def start(server_factory: Any, backend: BackendURI, **env: str) -> ServerProcess:
    return server_factory(backend, env={**FAST, **env}, timeout=90)


def create_webhook(server: ServerProcess, url: str, events: list[tuple[str, str]], **extra: Any) -> dict:
    body = {
        "name": f"hook-{uuid.uuid4().hex[:8]}",
        "url": url,
        "events": [{"entity": e, "action": a} for e, a in events],
        **extra,
    }
    return ok(requests.post(server.api("webhooks"), json=body, timeout=30))["webhook"]


def registry(server: ServerProcess, path: str, body: dict, method: str = "POST") -> dict:
    return ok(requests.request(method, server.api(path), json=body, timeout=30))


def new_model(server: ServerProcess, versions: int = 0) -> str:
    name = f"model-{uuid.uuid4().hex[:8]}"
    registry(server, "registered-models/create", {"name": name})
    for _ in range(versions):
        registry(server, "model-versions/create", {"name": name, "source": "s3://bucket/model"})
    return name


def deliveries(backend: BackendURI) -> dict[str, int]:
    """The outbox's rows by status, read from the database the servers share."""
    db = open_database(str(backend))
    try:
        return in_transaction(db, outbox_store.delivery_counts, write=False)
    finally:
        db.dispose()


def settled(backend: BackendURI, expected: dict[str, int], timeout_s: float = 90.0) -> dict[str, int]:
    """The outbox's counts once they equal `expected` (or as they are when the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    counts = deliveries(backend)
    while counts != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        counts = deliveries(backend)
    return counts


def last_rows(backend: BackendURI) -> list[Any]:
    import sqlalchemy as sa

    db = open_database(str(backend))
    try:
        d = outbox_store.s.webhook_deliveries
        stmt = sa.select(d.c.status, d.c.attempts, d.c.last_status_code, d.c.last_error).order_by(d.c.id)
        return in_transaction(db, lambda c: c.execute(stmt).all(), write=False)
    finally:
        db.dispose()


def test_a_version_alias_sends_one_signed_delivery_through_the_stock_client(
    backend: BackendURI, server_factory: Any
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities.webhook import WebhookAction, WebhookEntity, WebhookEvent

    server = start(server_factory, backend)
    client = MlflowClient(server.url)
    with Receiver() as receiver:
        hook = client.create_webhook(
            name="deploy-on-alias",
            url=receiver.url,
            events=[WebhookEvent(WebhookEntity.MODEL_VERSION_ALIAS, WebhookAction.CREATED)],
            secret=SECRET,
        )
        assert hook.secret is None  # write-only
        name = f"model-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        version = client.create_model_version(name, "s3://bucket/model").version
        client.set_registered_model_alias(name, "champion", version)

        got = receiver.wait_for(1)
        assert len(got) == 1
        assert settled(backend, {"delivered": 1}) == {"delivered": 1}
        # Creating the model and the version sent nothing: nothing was subscribed to them.
        assert len(receiver.received) == 1

    delivery = got[0]
    assert delivery.path == "/hook"
    assert delivery.headers["content-type"] == "application/json"
    assert signature_is_valid(SECRET, delivery)
    assert not signature_is_valid("another-secret", delivery)
    body = delivery.json
    assert (body["entity"], body["action"]) == ("model_version_alias", "created")
    assert body["data"] == {"name": name, "alias": "champion", "version": str(version)}
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert last_rows(backend)[0][:3] == ("delivered", 1, 200)


def test_a_receiver_answering_500_gets_retries_of_the_same_delivery(
    backend: BackendURI, server_factory: Any
) -> None:
    server = start(server_factory, backend)
    with Receiver(lambda _r, index: 500 if index < 3 else 200) as receiver:
        create_webhook(server, receiver.url, [("REGISTERED_MODEL", "CREATED")], secret=SECRET)
        name = new_model(server)
        got = receiver.wait_for(4)
        assert settled(backend, {"delivered": 1}) == {"delivered": 1}
        assert len(receiver.received) == 4

    assert len({r.delivery_id for r in got}) == 1  # one event, attempted four times
    assert len({r.body for r in got}) == 1
    assert all(signature_is_valid(SECRET, r) for r in got)
    assert got[0].json["data"] == {"name": name, "tags": {}, "description": ""}
    assert last_rows(backend)[0][:3] == ("delivered", 4, 200)


def test_a_delivery_is_given_up_after_the_last_attempt(backend: BackendURI, server_factory: Any) -> None:
    server = start(server_factory, backend, TRACKLIGHT_WEBHOOK_MAX_ATTEMPTS="3")
    with Receiver(lambda _r, _i: 503) as receiver:
        create_webhook(server, receiver.url, [("REGISTERED_MODEL", "CREATED")])
        new_model(server)
        assert settled(backend, {"failed": 1}) == {"failed": 1}
        assert len(receiver.received) == 3
    status, attempts, code, error = last_rows(backend)[0]
    assert (status, attempts, code) == ("failed", 3, 503)
    assert "503" in error


@pytest.mark.parametrize("backend", REPLICA_BACKENDS, indirect=True)
def test_each_event_is_delivered_once_with_two_replicas_on_one_database(
    backend: BackendURI, server_factory: Any
) -> None:
    replicas = [start(server_factory, backend), start(server_factory, backend)]
    events = 40

    def slowly(_r: Any, _i: int) -> int:
        time.sleep(0.02)  # sends overlap, so both replicas' workers are claiming at once
        return 200

    with Receiver(slowly) as receiver:
        create_webhook(replicas[0], receiver.url, [("MODEL_VERSION_TAG", "SET")], secret=SECRET)
        name = new_model(replicas[0], versions=1)
        errors: list[str] = []

        def tag(index: int) -> None:
            body = {"name": name, "version": "1", "key": f"k{index}", "value": str(index)}
            got = requests.post(replicas[index % 2].api("model-versions/set-tag"), json=body, timeout=60)
            if got.status_code != 200:
                errors.append(got.text)

        threads = [threading.Thread(target=tag, args=(i,)) for i in range(events)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert settled(backend, {"delivered": events}) == {"delivered": events}
        got = list(receiver.received)

    assert len(got) == events
    assert len({r.delivery_id for r in got}) == events
    assert sorted(r.json["data"]["key"] for r in got) == sorted(f"k{i}" for i in range(events))
    assert all(signature_is_valid(SECRET, r) for r in got)


def test_private_addresses_are_refused_unless_allowed(backend: BackendURI, server_factory: Any) -> None:
    refusing = start(server_factory, backend, TRACKLIGHT_WEBHOOK_ALLOW_PRIVATE_ADDRESSES="false")
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        for url in (
            receiver.url,
            f"http://localhost:{port}/hook",
            f"http://[::1]:{port}/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/hook",
            "http://192.168.0.1/hook",
        ):
            body = {
                "name": "internal",
                "url": url,
                "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
            }
            refused = assert_error(
                requests.post(refusing.api("webhooks"), json=body, timeout=30), 400, "INVALID_PARAMETER_VALUE"
            )
            assert "not a public address" in refused["message"], refused
        refusing.stop()

        # A webhook made while the setting allowed it is still refused at delivery once it does not.
        allowing = start(server_factory, backend)
        create_webhook(allowing, receiver.url, [("REGISTERED_MODEL", "CREATED")])
        allowing.stop()
        refusing.start()
        new_model(refusing)
        assert settled(backend, {"failed": 1}) == {"failed": 1}
        status, attempts, code, error = last_rows(backend)[0]
        assert (status, attempts, code) == ("failed", 1, None)
        assert "not a public address" in error
        assert receiver.received == []


def test_webhook_crud_validation_and_test(backend: BackendURI, server_factory: Any) -> None:
    server = start(server_factory, backend)
    with Receiver() as receiver:
        hook = create_webhook(
            server, receiver.url, [("MODEL_VERSION", "CREATED")], secret=SECRET, description="first"
        )
        assert "secret" not in hook
        assert hook["status"] == "ACTIVE"
        assert hook["events"] == [{"entity": "MODEL_VERSION", "action": "CREATED"}]

        # Entity and action must go together as MLflow defines them.
        for events in (
            [{"entity": "REGISTERED_MODEL", "action": "DELETED"}],
            [{"entity": "MODEL_VERSION_TAG", "action": "CREATED"}],
            [{"entity": "NOT_AN_ENTITY", "action": "CREATED"}],
            [],
        ):
            body = {"name": "bad", "url": receiver.url, "events": events}
            assert_error(
                requests.post(server.api("webhooks"), json=body, timeout=30), 400, "INVALID_PARAMETER_VALUE"
            )

        # `test` sends the event's example payload, signed, and reports the receiver's answer.
        tried = ok(
            requests.post(
                server.api(f"webhooks/{hook['webhook_id']}/test"),
                json={"event": {"entity": "MODEL_VERSION_ALIAS", "action": "DELETED"}},
                timeout=60,
            )
        )["result"]
        assert tried["success"] is True and tried["response_status"] == 200
        sample = receiver.wait_for(1)[0]
        assert signature_is_valid(SECRET, sample)
        assert (sample.json["entity"], sample.json["action"]) == ("model_version_alias", "deleted")

        # PATCH replaces what it is given; a disabled webhook gets nothing.
        patched = ok(
            requests.patch(
                server.api(f"webhooks/{hook['webhook_id']}"),
                json={"status": "DISABLED", "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]},
                timeout=30,
            )
        )["webhook"]
        assert patched["status"] == "DISABLED" and patched["description"] == "first"
        assert patched["events"] == [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]
        assert patched["last_updated_timestamp"] > hook["last_updated_timestamp"]
        new_model(server, versions=1)
        assert deliveries(backend) == {}

        # Listing pages newest first without repeats.
        for _ in range(4):
            create_webhook(server, receiver.url, [("MODEL_VERSION", "CREATED")])
        seen: list[str] = []
        token = None
        while True:
            params = {"max_results": 2, **({"page_token": token} if token else {})}
            page = ok(requests.get(server.api("webhooks"), params=params, timeout=30))
            seen += [w["webhook_id"] for w in page["webhooks"]]
            token = page.get("next_page_token")
            if not token:
                break
        assert len(seen) == 5 == len(set(seen)) and seen[-1] == hook["webhook_id"]

        ok(requests.delete(server.api(f"webhooks/{hook['webhook_id']}"), timeout=30))
        gone = assert_error(
            requests.get(server.api(f"webhooks/{hook['webhook_id']}"), timeout=30),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )
        assert f"Webhook with ID {hook['webhook_id']} not found" in gone["message"]


def test_a_secret_needs_the_encryption_key(backend: BackendURI, server_factory: Any) -> None:
    server = start(server_factory, backend, TRACKLIGHT_WEBHOOK_SECRET_KEY="")
    body = {
        "name": "signed",
        "url": "http://127.0.0.1:9/hook",
        "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
    }
    refused = assert_error(
        requests.post(server.api("webhooks"), json={**body, "secret": "s"}, timeout=30),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "TRACKLIGHT_WEBHOOK_SECRET_KEY" in refused["message"]
    ok(requests.post(server.api("webhooks"), json=body, timeout=30))  # unsigned webhooks need no key


@pytest.mark.parametrize("prompt", [False, True], ids=["model", "prompt"])
def test_prompts_send_prompt_events(backend: BackendURI, server_factory: Any, prompt: bool) -> None:
    server = start(server_factory, backend)
    with Receiver() as receiver:
        create_webhook(
            server, receiver.url, [("PROMPT_ALIAS", "CREATED"), ("MODEL_VERSION_ALIAS", "CREATED")]
        )
        name = f"p-{uuid.uuid4().hex[:8]}"
        tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}] if prompt else []
        registry(server, "registered-models/create", {"name": name, "tags": tags})
        registry(server, "model-versions/create", {"name": name, "source": "s3://b/p", "tags": tags})
        registry(server, "registered-models/alias", {"name": name, "alias": "prod", "version": "1"})
        got = receiver.wait_for(1)
    assert [r.json["entity"] for r in got] == ["prompt_alias" if prompt else "model_version_alias"]


def test_the_change_is_answered_while_the_receiver_has_not_yet_answered(
    backend: BackendURI, server_factory: Any
) -> None:
    server = start(server_factory, backend)
    release = threading.Event()

    def held(_r: Any, _i: int) -> int:
        release.wait(120)
        return 200

    with Receiver(held) as receiver:
        create_webhook(
            server, receiver.url, [("MODEL_VERSION_ALIAS", "CREATED"), ("MODEL_VERSION_ALIAS", "DELETED")]
        )
        name = new_model(server, versions=1)
        # A change that fails changes nothing, and so sends nothing.
        missing = {"name": name, "alias": "prod", "version": "7"}
        assert_error(requests.post(server.api("registered-models/alias"), json=missing, timeout=30), 404)
        assert deliveries(backend) == {}

        registry(server, "registered-models/alias", {"name": name, "alias": "prod", "version": "1"})
        # Answered; the delivery reaches the receiver afterwards, and it has not answered yet.
        assert len(receiver.wait_for(1)) == 1
        assert deliveries(backend) == {"pending": 1}
        release.set()
        assert settled(backend, {"delivered": 1}) == {"delivered": 1}
