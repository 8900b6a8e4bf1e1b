"""The object-store emulators start, hold data, and support what the artifact server relies on."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from harness.object_stores import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    BUCKET,
    EmulatorStartError,
    ObjectStoreEmulator,
    _running,
)
from harness.server import server_env

MiB = 1 << 20


def _prefix() -> str:
    return f"selftest/{uuid.uuid4().hex}"


def test_put_read_keys(object_store: ObjectStoreEmulator) -> None:
    assert object_store.endpoint.startswith("http://127.0.0.1:")
    prefix = _prefix()
    object_store.put(f"{prefix}/a.txt", b"alpha")
    object_store.put(f"{prefix}/dir/b.bin", b"\x00\xff" * 10)
    object_store.put(f"{prefix}-sibling/c.txt", b"not under the prefix")
    assert object_store.keys(f"{prefix}/") == [f"{prefix}/a.txt", f"{prefix}/dir/b.bin"]
    assert object_store.read(f"{prefix}/dir/b.bin") == b"\x00\xff" * 10
    scheme = {"s3": "s3://", "gcs": "gs://", "azure": "wasbs://"}[object_store.name]
    assert object_store.destination(prefix).startswith(scheme)
    assert object_store.destination(prefix).endswith(f"/{prefix}")


def test_server_env(s3_emulator: ObjectStoreEmulator, gcs_emulator: ObjectStoreEmulator) -> None:
    assert s3_emulator.env["MLFLOW_S3_ENDPOINT_URL"] == s3_emulator.endpoint
    assert s3_emulator.env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert gcs_emulator.env["STORAGE_EMULATOR_HOST"] == gcs_emulator.endpoint
    assert s3_emulator.destination("x/y") == f"s3://{BUCKET}/x/y"
    assert gcs_emulator.destination("x/y") == f"gs://{BUCKET}/x/y"


def test_azure_env(azurite_emulator: ObjectStoreEmulator) -> None:
    conn = azurite_emulator.env["AZURE_STORAGE_CONNECTION_STRING"]
    assert f"BlobEndpoint={azurite_emulator.endpoint}/{AZURITE_ACCOUNT};" in conn
    assert azurite_emulator.destination("x/y") == (
        f"wasbs://{BUCKET}@{AZURITE_ACCOUNT}.blob.core.windows.net/x/y"
    )


# What a server process does with nothing but `env`: each cloud's standard credential/endpoint chain.
_CHAIN_PROBES = {
    "s3": "import boto3, os; c = boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL'])\n"
    "print(c.get_object(Bucket=B, Key=K)['Body'].read().decode())",
    "gcs": "from google.cloud import storage\nprint(storage.Client().bucket(B).blob(K).download_as_text())",
    "azure": "import os; from azure.storage.blob import BlobServiceClient as S\n"
    "s = S.from_connection_string(os.environ['AZURE_STORAGE_CONNECTION_STRING'])\n"
    "print(s.get_blob_client(B, K).download_blob().readall().decode())",
}


def test_env_is_enough_for_a_server_process(object_store: ObjectStoreEmulator, tmp_path: Path) -> None:
    key = f"{_prefix()}/hello.txt"
    object_store.put(key, b"hello from the emulator")
    env = server_env({**object_store.env, "HOME": str(tmp_path)})  # no ~/.aws, ~/.config/gcloud
    for name in (
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        env.pop(name, None)
    code = f"B, K = {BUCKET!r}, {key!r}\n{_CHAIN_PROBES[object_store.name]}"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "hello from the emulator"


def test_s3_multipart_through_presigned_part_urls(s3_emulator: ObjectStoreEmulator) -> None:
    s3 = s3_emulator.client  # type: ignore[attr-defined]
    key = f"{_prefix()}/model.bin"
    parts_data = [b"a" * (5 * MiB), b"b" * 1000]
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, data in enumerate(parts_data, start=1):
        url = s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": BUCKET, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=600,
        )
        assert "X-Amz-Signature=" in url  # SigV4 query auth
        resp = requests.put(url, data=data, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.headers["ETag"].startswith('"')
        parts.append({"PartNumber": number, "ETag": resp.headers["ETag"]})
    assert s3_emulator.keys(key) == []  # an unfinished multipart upload is no object
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert s3_emulator.read(key) == b"".join(parts_data)


def test_gcs_resumable_session_completed_by_plain_put(gcs_emulator: ObjectStoreEmulator) -> None:
    key = f"{_prefix()}/model.bin"
    url = gcs_emulator.bucket.blob(key).create_resumable_upload_session()  # type: ignore[attr-defined]
    assert url.startswith(f"{gcs_emulator.endpoint}/upload/storage/v1/b/{BUCKET}/o?")
    assert gcs_emulator.keys(key) == []  # an open session is no object
    body = b"z" * MiB + b"tail"
    resp = requests.put(url, data=body, timeout=30)  # no credentials: the session URL is the capability
    assert resp.status_code == 200, resp.text
    assert "ETag" not in resp.headers  # fake-gcs-server 1.54: the object's metadata is the JSON body
    assert resp.json()["size"] == str(len(body))
    assert gcs_emulator.read(key) == body


def test_gcs_resumable_session_in_chunks(gcs_emulator: ObjectStoreEmulator) -> None:
    key = f"{_prefix()}/chunked.bin"
    url = gcs_emulator.bucket.blob(key).create_resumable_upload_session()  # type: ignore[attr-defined]
    chunk = 256 * 1024  # GCS wants every chunk but the last to be a multiple of 256 KiB
    body = b"c" * (2 * chunk + 10)
    resp = requests.put(url, data=body[:chunk], headers={"Content-Range": f"bytes 0-{chunk - 1}/*"})
    assert resp.status_code == 308
    assert gcs_emulator.keys(key) == []
    resp = requests.put(
        url, data=body[chunk:], headers={"Content-Range": f"bytes {chunk}-{len(body) - 1}/{len(body)}"}
    )
    assert resp.status_code == 200, resp.text
    assert gcs_emulator.read(key) == body


def test_gcs_compose(gcs_emulator: ObjectStoreEmulator) -> None:
    prefix = _prefix()
    bucket = gcs_emulator.bucket  # type: ignore[attr-defined]
    for i in range(3):
        gcs_emulator.put(f"{prefix}/part-{i}", f"part{i};".encode())
    bucket.blob(f"{prefix}/whole").compose([bucket.blob(f"{prefix}/part-{i}") for i in range(3)])
    assert gcs_emulator.read(f"{prefix}/whole") == b"part0;part1;part2;"


def test_azure_blocks_staged_through_sas_then_committed(azurite_emulator: ObjectStoreEmulator) -> None:
    from azure.storage.blob import BlobBlock, BlobSasPermissions, generate_blob_sas

    key = f"{_prefix()}/model.bin"
    sas = generate_blob_sas(
        AZURITE_ACCOUNT,
        BUCKET,
        key,
        account_key=AZURITE_KEY,
        permission=BlobSasPermissions(write=True, create=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    url = f"{azurite_emulator.endpoint}/{AZURITE_ACCOUNT}/{BUCKET}/{key}?{sas}"
    blocks = [b"1" * MiB, b"2" * MiB, b"3" * 10]
    names = [f"block-{i:06d}" for i in range(len(blocks))]  # ids must all have the same length
    for name, data in zip(names, blocks, strict=True):
        block_id = base64.b64encode(name.encode()).decode()
        resp = requests.put(url, params={"comp": "block", "blockid": block_id}, data=data, timeout=30)
        assert resp.status_code == 201, resp.text
    assert azurite_emulator.keys(key) == []  # uncommitted blocks are no blob
    blob = azurite_emulator.client.get_blob_client(key)  # type: ignore[attr-defined]
    # The SDK base64-encodes block ids itself: pass the decoded names, not the ids sent on the wire.
    blob.commit_block_list([BlobBlock(block_id=name) for name in names])
    assert azurite_emulator.read(key) == b"".join(blocks)


def test_start_failure_reports_the_log_tail(tmp_path: Path) -> None:
    emu = ObjectStoreEmulator("s3", "http://127.0.0.1:9", {}, tmp_path / "emu.log")
    cmd = [sys.executable, "-c", "print('emulator says boom'); raise SystemExit(3)"]
    with (
        pytest.raises(EmulatorStartError, match=r"(?s)exited with code 3.*emulator says boom"),
        _running(emu, cmd, lambda: None),
    ):
        pass
