"""GcsArtifactStore against fake-gcs-server, in process: resumable writes, compose trees, hidden upload parts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests
from harness.object_stores import BUCKET, ObjectStoreEmulator

from tracklight.artifacts.store import PART_SIZE, READ_CHUNK, UploadedPart
from tracklight.errors import InvalidParameter, NotFound, NotImplementedFeature

pytest.importorskip("google.cloud.storage")

from tracklight.artifacts.gcs import UPLOADS_DIR, GcsArtifactStore  # noqa: E402 - after the importorskip


@pytest.fixture
def store(gcs_emulator: ObjectStoreEmulator, monkeypatch: pytest.MonkeyPatch) -> GcsArtifactStore:
    """A store under a fresh prefix, configured from the environment the server would get."""
    for name, value in gcs_emulator.env.items():
        monkeypatch.setenv(name, value)
    return GcsArtifactStore(BUCKET, f"gcs-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def keys(store: GcsArtifactStore, gcs_emulator: ObjectStoreEmulator) -> Callable[[], list[str]]:
    """Every object name under the store's prefix, relative to it."""

    def listed() -> list[str]:
        return [k[len(store.prefix) + 1 :] for k in gcs_emulator.keys(f"{store.prefix}/")]

    return listed


def _upload_parts(store: GcsArtifactStore, path: str, chunks: list[bytes]) -> tuple[str, list[UploadedPart]]:
    """What the mlflow client does: create, then one plain PUT of each chunk to its credential URL."""
    created = store.create_multipart(path, len(chunks))
    parts = []
    for cred, chunk in zip(created.credentials, chunks, strict=True):
        answer = requests.put(cred.url, data=chunk, headers=cred.headers, timeout=30)
        answer.raise_for_status()
        parts.append(UploadedPart(cred.part_number, answer.headers.get("ETag", ""), cred.url))
    return created.upload_id, parts


def _read_all(store: GcsArtifactStore, path: str) -> bytes:
    size = store.size(path)
    assert size is not None
    return b"".join(store.read(path, 0, size))


def test_session_urls_point_at_the_emulator(
    store: GcsArtifactStore, gcs_emulator: ObjectStoreEmulator
) -> None:
    created = store.create_multipart("d/f.bin", 2)
    try:
        for cred in created.credentials:
            assert urlsplit(cred.url).netloc == urlsplit(gcs_emulator.endpoint).netloc
            assert cred.headers == {}
    finally:
        store.abort_multipart("d/f.bin", created.upload_id)


def test_compose_of_more_than_32_parts(store: GcsArtifactStore, keys: Callable[[], list[str]]) -> None:
    chunks = [bytes([i]) * (1000 + i) for i in range(70)]  # three compose levels' worth: 70 > 32
    upload_id, parts = _upload_parts(store, "model/weights.bin", chunks)
    store.complete_multipart("model/weights.bin", upload_id, parts)
    assert _read_all(store, "model/weights.bin") == b"".join(chunks)
    assert keys() == ["model/weights.bin"]  # parts, compose steps and manifest are gone


def test_abort_leaves_nothing(store: GcsArtifactStore, keys: Callable[[], list[str]]) -> None:
    created = store.create_multipart("d/gone.bin", 3)
    requests.put(created.credentials[0].url, data=b"x" * 5000, timeout=30).raise_for_status()
    assert any(k.startswith(f"{UPLOADS_DIR}/") for k in keys())
    store.abort_multipart("d/gone.bin", created.upload_id)
    assert keys() == []
    assert store.size("d/gone.bin") is None
    with pytest.raises(NotFound):
        store.abort_multipart("d/gone.bin", created.upload_id)
    with pytest.raises(NotFound):
        store.complete_multipart("d/gone.bin", created.upload_id, [UploadedPart(1, "")])


def test_upload_parts_are_hidden_from_listings(store: GcsArtifactStore) -> None:
    store.open_writer("visible.txt").commit()
    upload_id, _ = _upload_parts(store, "d/f.bin", [b"part"])
    try:
        assert [e.name for e in store.list_dir("")] == ["visible.txt"]
        assert store.list_dir("d") == []  # nothing under the final name before complete
    finally:
        store.abort_multipart("d/f.bin", upload_id)


def test_bad_parts_and_unknown_uploads(store: GcsArtifactStore, keys: Callable[[], list[str]]) -> None:
    created = store.create_multipart("d/f.bin", 3)
    upload_id, parts = created.upload_id, []
    for cred, chunk in zip(created.credentials, [b"one", b"two"], strict=False):  # part 3 never arrives
        requests.put(cred.url, data=chunk, timeout=30).raise_for_status()
        parts.append(UploadedPart(cred.part_number, "", cred.url))
    with pytest.raises(InvalidParameter, match="part 3 was not uploaded"):
        store.complete_multipart("d/f.bin", upload_id, [*parts, UploadedPart(3, "")])
    with pytest.raises(InvalidParameter):
        store.complete_multipart("d/f.bin", upload_id, [parts[0], parts[0]])
    with pytest.raises(InvalidParameter):
        store.complete_multipart("d/f.bin", upload_id, [UploadedPart(9, "")])
    with pytest.raises(InvalidParameter):
        store.complete_multipart("d/f.bin", upload_id, [])
    for path, bad_id in [("d/other.bin", upload_id), ("d/f.bin", "0" * 32), ("d/f.bin", "../../x")]:
        with pytest.raises(NotFound):
            store.complete_multipart(path, bad_id, parts)
    store.complete_multipart("d/f.bin", upload_id, parts)  # the parts sent, as S3 allows; after the refusals
    assert _read_all(store, "d/f.bin") == b"onetwo"
    assert keys() == ["d/f.bin"]


def test_streamed_write_over_several_parts_and_ranged_reads(store: GcsArtifactStore) -> None:
    data = os.urandom(2 * PART_SIZE + 12345)
    writer = store.open_writer("big/blob.bin")
    for i in range(0, len(data), 1 << 20):
        writer.write(data[i : i + (1 << 20)])
    assert store.size("big/blob.bin") is None  # not visible before commit
    writer.commit()
    assert store.size("big/blob.bin") == len(data)
    chunks = list(store.read("big/blob.bin", 7, len(data) - 3))
    assert b"".join(chunks) == data[7:-3]
    assert max(len(c) for c in chunks) <= READ_CHUNK


def test_write_of_an_exact_multiple_of_the_part_size(store: GcsArtifactStore) -> None:
    data = os.urandom(2 * PART_SIZE)
    writer = store.open_writer("exact.bin")
    writer.write(data)
    writer.commit()
    assert _read_all(store, "exact.bin") == data


def test_aborted_write_leaves_nothing(store: GcsArtifactStore, keys: Callable[[], list[str]]) -> None:
    writer = store.open_writer("half.bin")
    for _ in range(3):
        writer.write(os.urandom(PART_SIZE))  # two parts already sent to the session
    writer.abort()
    assert keys() == []


def test_listing_sizes_markers_and_recursive_delete(
    store: GcsArtifactStore, keys: Callable[[], list[str]]
) -> None:
    for path, data in [("a/x.txt", b"xx"), ("a/b/y.txt", b"yyy"), ("top.txt", b"t")]:
        writer = store.open_writer(path)
        writer.write(data)
        writer.commit()
    store.bucket.blob(f"{store.prefix}/a/").upload_from_string(b"")  # a console-made "folder" marker
    assert [(e.name, e.is_dir, e.size) for e in store.list_dir("a")] == [
        ("b", True, None),
        ("x.txt", False, 2),
    ]
    assert store.list_dir("a/x.txt") == []
    assert store.list_dir("missing") == []
    with pytest.raises(InvalidParameter):
        store.delete("")
    store.delete("a")
    store.delete("never-there")
    assert keys() == ["top.txt"]


def test_no_presigned_downloads_with_anonymous_credentials(store: GcsArtifactStore) -> None:
    assert store.direct_uploads is True
    assert store.direct_downloads is False
    with pytest.raises(NotImplementedFeature):
        store.presign_download("top.txt")


def test_check(store: GcsArtifactStore, gcs_emulator: ObjectStoreEmulator) -> None:
    store.check()
    with pytest.raises(Exception, match="404"):
        GcsArtifactStore("no-such-bucket-here", "x").check()


def test_sweep_discards_abandoned_client_direct_uploads(
    store: GcsArtifactStore, keys: Callable[[], list[str]]
) -> None:
    """What `tracklight gc` sweeps: uploads created and never completed or aborted, by their age."""
    upload_id, _ = _upload_parts(store, "d/left.bin", [b"a" * 10])  # one part sent, never completed
    store.bucket.blob(f"{store.prefix}/{UPLOADS_DIR}/{'f' * 32}/00001").upload_from_string(b"orphan part")
    writer = store.open_writer("kept.txt")
    writer.write(b"k")
    writer.commit()
    assert store.sweep_uploads(86400) == []  # seconds old: kept
    assert len([k for k in keys() if k.startswith(UPLOADS_DIR)]) == 3
    # fake-gcs-server dates objects when they are made: an age of 0 makes these abandoned.
    listed = store.sweep_uploads(0, dry_run=True)
    assert [line.split(" (")[0] for line in listed] == sorted(
        [f"{UPLOADS_DIR}/{upload_id}", f"{UPLOADS_DIR}/{'f' * 32}"]
    )
    assert len([k for k in keys() if k.startswith(UPLOADS_DIR)]) == 3
    assert len(store.sweep_uploads(0)) == 2
    assert keys() == ["kept.txt"]
    with pytest.raises(NotFound):
        store.complete_multipart("d/left.bin", upload_id, [])
