"""AzureArtifactStore against Azurite: block staging and commit, SAS part URLs and downloads, errors."""

from __future__ import annotations

import base64
import os
import random
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.blob import UserDelegationKey
from harness.object_stores import BUCKET, ObjectStoreEmulator, azurite_connection_string

from tracklight.artifacts.azure import AzureArtifactStore
from tracklight.artifacts.locations import ArtifactLocationError
from tracklight.artifacts.store import MULTIPART_UNSUPPORTED, PART_SIZE, READ_CHUNK, UploadedPart
from tracklight.errors import InvalidParameter, NotFound, NotImplementedFeature

_LOCATION = f"{BUCKET}@devstoreaccount1.blob.core.windows.net"
_MIB = 1024 * 1024


@pytest.fixture
def prefix() -> str:
    return f"azure-store/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(azurite_emulator: ObjectStoreEmulator, prefix: str) -> Iterator[AzureArtifactStore]:
    store = AzureArtifactStore(_LOCATION, prefix, azurite_emulator.env["AZURE_STORAGE_CONNECTION_STRING"])
    yield store
    store.pool.shutdown()


def _write(store: AzureArtifactStore, path: str, data: bytes, piece: int = 300_000) -> None:
    writer = store.open_writer(path)
    for i in range(0, len(data), piece):
        writer.write(data[i : i + piece])
    writer.commit()


def _upload_parts(
    store: AzureArtifactStore, path: str, data: bytes, chunk: int
) -> tuple[str, list[UploadedPart]]:
    """create_multipart, then PUT each part as the mlflow client does (plain requests, credential headers)."""
    num_parts = -(-len(data) // chunk)
    upload = store.create_multipart(path, num_parts)
    parts = []
    for cred in upload.credentials:
        body = data[(cred.part_number - 1) * chunk : cred.part_number * chunk]
        resp = requests.put(cred.url, data=body, headers=cred.headers, timeout=30)
        assert resp.status_code == 201, resp.text
        parts.append(UploadedPart(cred.part_number, resp.headers.get("ETag", ""), cred.url))
    return upload.upload_id, parts


def test_small_and_block_writes_commit_whole_files(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    small, big = b"hello", os.urandom(2 * PART_SIZE + 12345)
    _write(store, "d/small.txt", small)
    _write(store, "d/big.bin", big)
    _write(store, "d/empty", b"")
    assert azurite_emulator.read(f"{prefix}/d/big.bin") == big
    assert (store.size("d/small.txt"), store.size("d/big.bin"), store.size("d/empty")) == (5, len(big), 0)
    blocks, _ = store._blob("d/big.bin").get_block_list("committed")
    assert [b.size for b in blocks] == [PART_SIZE, PART_SIZE, 12345]
    chunks = list(store.read("d/big.bin", 7, len(big) - 3))
    assert max(len(c) for c in chunks) <= READ_CHUNK and b"".join(chunks) == big[7:-3]
    assert list(store.read("d/empty", 0, 0)) == []
    assert store.size("d") is None and store.size("d/missing") is None


def test_aborted_writer_leaves_nothing_and_the_name_stays_usable(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    writer = store.open_writer("a/file.bin")
    writer.write(os.urandom(3 * PART_SIZE))  # three blocks staged
    writer.abort()
    assert azurite_emulator.keys(prefix) == [] and store.size("a/file.bin") is None
    assert store.list_dir("a") == []
    # A later upload to the same name, with blocks or in one Put Blob, is not disturbed by the leftovers.
    again = os.urandom(PART_SIZE + 1)
    _write(store, "a/file.bin", again)
    assert azurite_emulator.read(f"{prefix}/a/file.bin") == again
    _write(store, "a/file.bin", b"short")
    assert azurite_emulator.read(f"{prefix}/a/file.bin") == b"short"


def test_listing_gives_basenames_sizes_and_directories(store: AzureArtifactStore) -> None:
    for path, data in [("x/one.txt", b"1"), ("x/sub/two.txt", b"22"), ("x/sub/deep/three", b"333")]:
        _write(store, path, data)
    assert [(e.name, e.is_dir, e.size) for e in store.list_dir("x")] == [
        ("one.txt", False, 1),
        ("sub", True, None),
    ]
    assert [e.name for e in store.list_dir("")] == ["x"]
    assert store.list_dir("x/one.txt") == [] and store.list_dir("nothing") == []


def test_delete_is_recursive_in_batches_and_refuses_the_root(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    for i in range(300):  # more than one 256-blob batch
        azurite_emulator.put(f"{prefix}/gone/{i // 100}/f{i}", b"x")
    _write(store, "gone.txt", b"a sibling that shares the name's prefix")
    _write(store, "kept/file", b"k")
    store.delete("gone")
    store.delete("missing")
    assert azurite_emulator.keys(prefix) == [f"{prefix}/gone.txt", f"{prefix}/kept/file"]
    with pytest.raises(InvalidParameter):
        store.delete("")


def test_multipart_commits_parts_in_part_order(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    assert store.direct_uploads and store.direct_downloads
    data = os.urandom(11 * _MIB + 17)
    upload_id, parts = _upload_parts(store, "m/model.bin", data, 5 * _MIB)
    assert all(p.etag == "" for p in parts)  # Put Block answers without an ETag; the client sends ""
    assert azurite_emulator.keys(prefix) == []  # staged blocks are invisible before completion
    random.shuffle(parts)
    store.complete_multipart("m/model.bin", upload_id, parts)
    assert azurite_emulator.read(f"{prefix}/m/model.bin") == data
    with pytest.raises(NotFound):  # the commit consumed the upload
        store.complete_multipart("m/model.bin", upload_id, parts)


def test_multipart_errors(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    data = os.urandom(3 * _MIB)
    upload_id, parts = _upload_parts(store, "e/f.bin", data, _MIB)
    with pytest.raises(InvalidParameter):
        store.complete_multipart("e/f.bin", upload_id, [*parts, UploadedPart(4, "")])  # never uploaded
    with pytest.raises(InvalidParameter):
        store.complete_multipart("e/f.bin", upload_id, [parts[0], parts[0]])
    with pytest.raises(InvalidParameter):
        store.complete_multipart("e/f.bin", upload_id, [])
    with pytest.raises(NotFound):
        store.complete_multipart("e/f.bin", uuid.uuid4().hex, parts)  # blocks exist, but not this upload's
    with pytest.raises(NotFound):
        store.complete_multipart("e/other.bin", upload_id, parts)  # no blob, no blocks
    with pytest.raises(NotFound):
        store.complete_multipart("e/f.bin", "not-an-upload-id", parts)
    assert azurite_emulator.keys(prefix) == []
    store.complete_multipart("e/f.bin", upload_id, parts)  # the failed attempts left the upload intact
    assert azurite_emulator.read(f"{prefix}/e/f.bin") == data


def test_aborted_multipart_leaves_nothing_and_does_not_affect_the_next_upload(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    first = os.urandom(2 * _MIB)
    old_id, _ = _upload_parts(store, "ab/f.bin", first, _MIB)
    store.abort_multipart("ab/f.bin", old_id)
    store.abort_multipart("ab/never-staged.bin", uuid.uuid4().hex)  # the client aborts after any failure
    assert azurite_emulator.keys(prefix) == [] and store.size("ab/f.bin") is None
    second = os.urandom(3 * _MIB + 5)
    new_id, parts = _upload_parts(store, "ab/f.bin", second, _MIB)
    store.complete_multipart("ab/f.bin", new_id, parts)
    assert azurite_emulator.read(f"{prefix}/ab/f.bin") == second
    # A proxied upload to the same name afterwards stages blocks beside nothing stale.
    third = os.urandom(PART_SIZE + 3)
    _write(store, "ab/f.bin", third)
    assert azurite_emulator.read(f"{prefix}/ab/f.bin") == third


def test_presigned_download_is_a_read_only_sas(store: AzureArtifactStore) -> None:
    data = os.urandom(2 * _MIB)
    _write(store, "p/file.bin", data)
    link = store.presign_download("p/file.bin")
    assert link.file_size == len(data)
    whole = requests.get(link.url, headers=link.headers, timeout=30)
    assert whole.status_code == 200 and whole.content == data
    ranged = requests.get(link.url, headers={**link.headers, "Range": "bytes=100-199"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == data[100:200]
    assert (
        requests.put(link.url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=30).status_code
        == 403
    )
    assert requests.delete(link.url, timeout=30).status_code == 403
    with pytest.raises(NotFound):
        store.presign_download("p/missing.bin")


def test_part_urls_write_blocks_only_to_their_blob(store: AzureArtifactStore) -> None:
    upload = store.create_multipart("s/f.bin", 1)
    url = upload.credentials[0].url
    assert requests.get(url.replace("comp=block&", ""), timeout=30).status_code == 403  # no read permission
    other = url.replace("/s/f.bin?", "/s/other.bin?")
    assert requests.put(other, data=b"x", timeout=30).status_code == 403  # signed for s/f.bin only


def test_check_and_a_connection_string_for_another_account(azurite_emulator: ObjectStoreEmulator) -> None:
    cs = azurite_emulator.env["AZURE_STORAGE_CONNECTION_STRING"]
    AzureArtifactStore(_LOCATION, "", cs).check()
    with pytest.raises(ArtifactLocationError, match="otheraccount"):
        AzureArtifactStore(f"{BUCKET}@otheraccount.blob.core.windows.net", "", cs)
    with pytest.raises(ArtifactLocationError):
        AzureArtifactStore("no-account-here", "", cs)
    with pytest.raises(Exception, match="ContainerNotFound"):
        AzureArtifactStore(_LOCATION.replace(BUCKET, "missing-container"), "", cs).check()


def test_a_sas_connection_string_serves_through_the_proxy_only(azurite_emulator: ObjectStoreEmulator) -> None:
    sas_only = azurite_connection_string(azurite_emulator.endpoint).split("AccountKey=")[0] + (
        f"BlobEndpoint={azurite_emulator.endpoint}/devstoreaccount1;SharedAccessSignature=sv=2020-08-04&sig=x"
    )
    store = AzureArtifactStore(_LOCATION, "", sas_only)
    assert not store.direct_uploads and not store.direct_downloads


def _identity_store(monkeypatch: pytest.MonkeyPatch, get_key: object) -> AzureArtifactStore:
    """A store on DefaultAzureCredential (no connection string) whose delegation-key call is `get_key`."""
    store = AzureArtifactStore(_LOCATION, "pre", None)
    monkeypatch.setattr(store.service, "get_user_delegation_key", get_key)
    return store


def test_identity_signs_with_a_cached_user_delegation_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def get_key(start: datetime, expiry: datetime) -> UserDelegationKey:
        calls.append((start, expiry))
        key = UserDelegationKey()
        key.signed_oid, key.signed_tid = str(uuid.uuid4()), str(uuid.uuid4())
        key.signed_start, key.signed_expiry = (
            start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        key.signed_service, key.signed_version = "b", "2025-01-05"
        key.value = base64.b64encode(b"k" * 32).decode()
        return key

    store = _identity_store(monkeypatch, get_key)
    assert store.service.url.startswith("https://devstoreaccount1.blob.core.windows.net")
    assert store.direct_uploads and store.direct_downloads
    first = store.create_multipart("f.bin", 2)
    store.create_multipart("g.bin", 1)
    assert len(calls) == 1  # one key serves every SAS until it nears its end
    query = parse_qs(urlsplit(first.credentials[1].url).query)
    assert query["comp"] == ["block"] and query["sp"] == ["w"] and query["spr"] == ["https"]
    assert query["skoid"] and query["sig"]
    assert base64.b64decode(query["blockid"][0]).decode() == f"{first.upload_id}-00002"
    assert urlsplit(first.credentials[0].url).path == f"/{BUCKET}/pre/f.bin"


def test_identity_without_delegation_rights_falls_back_to_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(start: datetime, expiry: datetime) -> UserDelegationKey:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    store = _identity_store(monkeypatch, refuse)
    with pytest.raises(NotImplementedFeature) as caught:
        store.create_multipart("f.bin", 2)
    assert (
        caught.value.message == MULTIPART_UNSUPPORTED
    )  # the message the client falls back to a single PUT on
    assert not store.direct_uploads and not store.direct_downloads  # and server-info stops advertising them


def test_sweep_has_nothing_to_remove_and_abandoned_blocks_stay_invisible(
    store: AzureArtifactStore, azurite_emulator: ObjectStoreEmulator, prefix: str
) -> None:
    """What `tracklight gc` finds on Azure: an abandoned upload is only uncommitted blocks, which no listing
    shows and Azure discards by itself, so the sweep reports nothing and touches nothing."""
    upload_id, _ = _upload_parts(store, "d/left.bin", b"x" * 100, 60)  # staged, never completed
    _write(store, "kept.txt", b"k")
    assert store.sweep_uploads(0) == [] and store.sweep_uploads(0, dry_run=True) == []
    assert azurite_emulator.keys(prefix) == [f"{prefix}/kept.txt"]
    assert [e.name for e in store.list_dir("")] == ["kept.txt"]
    store.complete_multipart("d/left.bin", upload_id, [UploadedPart(1, ""), UploadedPart(2, "")])
    assert azurite_emulator.read(f"{prefix}/d/left.bin") == b"x" * 100
