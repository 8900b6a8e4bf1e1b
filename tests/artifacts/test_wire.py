"""The mlflow-artifacts routes over raw HTTP: listing, ranges, delete, broken bodies and escaping paths."""

from __future__ import annotations

import http.client
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from artifacts.conftest import ArtifactServer


def _dir() -> str:
    return f"wire/{uuid.uuid4().hex[:10]}"


def _put(srv: ArtifactServer, path: str, data: bytes) -> requests.Response:
    return requests.put(srv.artifacts_url(path), data=data, timeout=30)


def _raw(srv: ArtifactServer, request: bytes, *, close_write: bool = True) -> bytes:
    """Send bytes exactly as given (no URL normalisation) and return everything the server answers."""
    parts = urlsplit(srv.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_put_get_list_delete(artifact_server: ArtifactServer) -> None:
    d = _dir()
    assert _put(artifact_server, f"{d}/x/one.txt", b"one").status_code == 200
    assert _put(artifact_server, f"{d}/x/y/two.csv", b"a,b\n1,2\n").status_code == 200
    got = requests.get(artifact_server.artifacts_url(f"{d}/x/one.txt"), timeout=30)
    assert got.status_code == 200 and got.content == b"one"
    assert "attachment" in got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    listing = requests.get(artifact_server.artifacts_url(), params={"path": f"{d}/x"}, timeout=30).json()
    assert listing == {
        "files": [{"path": "one.txt", "is_dir": False, "file_size": 3}, {"path": "y", "is_dir": True}]
    }
    # A file, or a directory that does not exist, lists as {} (the client relies on it).
    for path in (f"{d}/x/one.txt", f"{d}/nothing"):
        assert requests.get(artifact_server.artifacts_url(), params={"path": path}, timeout=30).json() == {}
    assert requests.delete(artifact_server.artifacts_url(f"{d}/x"), timeout=30).json() == {}
    assert artifact_server.stored(d) == []
    missing = requests.get(artifact_server.artifacts_url(f"{d}/x/one.txt"), timeout=30)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_range_requests(artifact_server: ArtifactServer) -> None:
    path = f"{_dir()}/digits.txt"
    _put(artifact_server, path, b"0123456789")
    url = artifact_server.artifacts_url(path)
    cases = {"bytes=2-5": b"2345", "bytes=7-": b"789", "bytes=-3": b"789", "bytes=8-100": b"89"}
    for header, body in cases.items():
        got = requests.get(url, headers={"Range": header}, timeout=30)
        assert (got.status_code, got.content) == (206, body), header
        assert got.headers["content-range"].endswith("/10")
    beyond = requests.get(url, headers={"Range": "bytes=10-"}, timeout=30)
    assert beyond.status_code == 416 and beyond.headers["content-range"] == "bytes */10"


def test_empty_file(artifact_server: ArtifactServer) -> None:
    path = f"{_dir()}/empty.txt"
    assert _put(artifact_server, path, b"").status_code == 200
    got = requests.get(artifact_server.artifacts_url(path), timeout=30)
    assert got.status_code == 200 and got.content == b""


def test_body_shorter_than_content_length_stores_nothing(artifact_server: ArtifactServer) -> None:
    d = _dir()
    head = f"PUT /api/2.0/mlflow-artifacts/artifacts/{d}/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    since = artifact_server.server.log_size()
    # 12 MiB declared, 9 MiB sent: past the first part, so cloud stores had begun a multipart upload.
    answer = _raw(artifact_server, f"{head}Content-Length: {12 << 20}\r\n\r\n".encode() + b"x" * (9 << 20))
    assert _status(answer) in (0, 400)
    _handled(artifact_server, f"{d}/cut.bin", since)
    assert requests.get(artifact_server.artifacts_url(f"{d}/cut.bin"), timeout=30).status_code == 404
    _eventually_empty(artifact_server, d)  # the abort runs just after the connection drops


def _handled(srv: ArtifactServer, path: str, since: int, timeout: float = 30.0) -> None:
    """Wait for the server's access line for `path`: the handler (and its clean-up) has finished.

    The client can see the answer before the handler has even begun: the protocol layer refuses a
    body that overruns Content-Length on its own, while the app still writes and then discards it.
    """
    deadline = time.monotonic() + timeout
    while f"{path} " not in srv.server.log_text(since) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"{path} " in srv.server.log_text(since), srv.server.log_tail(since=since)


def _eventually_empty(srv: ArtifactServer, under: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (left := srv.stored(under)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def test_body_longer_than_content_length_is_rejected(artifact_server: ArtifactServer) -> None:
    d = _dir()
    head = f"PUT /api/2.0/mlflow-artifacts/artifacts/{d}/long.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    since = artifact_server.server.log_size()
    answer = _raw(artifact_server, f"{head}Content-Length: 10\r\n\r\n".encode() + b"y" * 5000)
    assert _status(answer) == 400
    _handled(artifact_server, f"{d}/long.bin", since)
    _eventually_empty(artifact_server, d)


ESCAPES = [
    "../escaped.txt",
    "a/../../escaped.txt",
    "%2e%2e/escaped.txt",
    "a/%2e%2e/%2e%2e/escaped.txt",
    "..%2fescaped.txt",
    "%252e%252e/escaped.txt",
    "a%5c..%5c..%5cescaped.txt",
    "/etc/escaped.txt",
    "%2fetc/escaped.txt",
    "C:/escaped.txt",
]


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_escaping_paths_are_400_and_touch_nothing(
    artifact_server: ArtifactServer, method: str, path: str
) -> None:
    before = artifact_server.stored()
    body = b"evil"
    request = (
        f"{method} /api/2.0/mlflow-artifacts/artifacts/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    answer = _raw(artifact_server, request)
    assert _status(answer) == 400, answer[:300]
    assert b"INVALID_PARAMETER_VALUE" in answer
    assert artifact_server.stored() == before
    if artifact_server.kind == "local":
        assert not list(artifact_server.root.parent.rglob("escaped.txt"))


@pytest.mark.parametrize("path", ["..", "../..", "/etc", "a/../..", "..\\.."])
def test_listing_outside_the_root_is_400(artifact_server: ArtifactServer, path: str) -> None:
    got = requests.get(artifact_server.artifacts_url(), params={"path": path}, timeout=30)
    assert got.status_code == 400 and got.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_symlink_out_of_the_local_root_is_400(artifact_server: ArtifactServer, tmp_path) -> None:
    if artifact_server.kind != "local":
        pytest.skip("symlinks exist on the local backend only")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    link = artifact_server.root / f"link-{uuid.uuid4().hex[:6]}"
    link.symlink_to(outside, target_is_directory=True)
    name = link.name
    assert requests.get(artifact_server.artifacts_url(f"{name}/secret.txt"), timeout=30).status_code == 400
    assert _put(artifact_server, f"{name}/planted.txt", b"x").status_code == 400
    assert requests.get(artifact_server.artifacts_url(), params={"path": name}, timeout=30).status_code == 400
    assert requests.delete(artifact_server.artifacts_url(f"{name}/secret.txt"), timeout=30).status_code == 400
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_multipart_on_local_disk_answers_the_fallback_message(artifact_server: ArtifactServer) -> None:
    if artifact_server.kind != "local":
        pytest.skip("cloud stores support multipart")
    got = requests.post(
        f"{artifact_server.url}/api/2.0/mlflow-artifacts/mpu/create/{_dir()}",
        json={"path": "/home/me/model.bin", "num_parts": 3},
        timeout=30,
    )
    assert got.status_code == 501
    assert got.json()["error_code"] == "NOT_IMPLEMENTED"
    assert got.json()["message"].startswith(
        "Multipart upload is not supported for the current artifact repository"
    )
    presigned = requests.get(f"{artifact_server.url}/api/2.0/mlflow-artifacts/presigned/a/b.txt", timeout=30)
    assert presigned.status_code == 501


def test_multipart_create_complete_and_abort_by_hand(artifact_server: ArtifactServer) -> None:
    if artifact_server.kind == "local":
        pytest.skip("the local backend has no multipart")
    d = _dir()
    base = f"{artifact_server.url}/api/2.0/mlflow-artifacts/mpu"
    chunks = [b"a" * (5 << 20), b"b" * (5 << 20), b"tail"]
    created = requests.post(
        f"{base}/create/{d}", json={"path": "C:\\Users\\me\\data.bin", "num_parts": 3}, timeout=30
    ).json()
    assert [c["part_number"] for c in created["credentials"]] == [1, 2, 3]
    parts = []
    for cred, chunk in zip(created["credentials"], chunks, strict=True):
        put = requests.put(cred["url"], data=chunk, headers=cred.get("headers") or {}, timeout=60)
        assert put.status_code in (200, 201), put.text[:300]
        parts.append(
            {"part_number": cred["part_number"], "etag": put.headers.get("ETag", ""), "url": cred["url"]}
        )
    done = requests.post(
        f"{base}/complete/{d}",
        json={"path": "data.bin", "upload_id": created["upload_id"], "parts": parts},
        timeout=60,
    )
    assert done.status_code == 200, done.text
    assert requests.get(artifact_server.artifacts_url(f"{d}/data.bin"), timeout=60).content == b"".join(
        chunks
    )
    assert artifact_server.stored(d) == [f"{d}/data.bin"]

    aborted = requests.post(
        f"{base}/create/{d}", json={"path": "gone.bin", "num_parts": 2}, timeout=30
    ).json()
    cred = aborted["credentials"][0]
    requests.put(cred["url"], data=b"z" * (5 << 20), headers=cred.get("headers") or {}, timeout=60)
    answer = requests.post(
        f"{base}/abort/{d}", json={"path": "gone.bin", "upload_id": aborted["upload_id"]}, timeout=30
    )
    assert answer.status_code == 200
    assert artifact_server.stored(d) == [f"{d}/data.bin"]


def test_presigned_download(artifact_server: ArtifactServer) -> None:
    info = requests.get(f"{artifact_server.url}/api/3.0/mlflow/server-info", timeout=10).json()
    if not info["multipart_downloads_enabled"]:
        pytest.skip(f"{artifact_server.kind}: no presigned downloads with these credentials")
    path = f"{_dir()}/signed.txt"
    _put(artifact_server, path, b"signed bytes")
    got = requests.get(f"{artifact_server.url}/api/2.0/mlflow-artifacts/presigned/{path}", timeout=30).json()
    assert got["file_size"] == 12
    direct = requests.get(got["url"], headers=got.get("headers") or {}, timeout=30)
    assert direct.content == b"signed bytes"


def test_unknown_artifact_route_is_json_404(artifact_server: ArtifactServer) -> None:
    got = requests.get(f"{artifact_server.url}/api/2.0/mlflow-artifacts/nope", timeout=30)
    assert got.status_code == 404 and got.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_tracking_listing_and_get_artifact(artifact_server: ArtifactServer) -> None:
    api = f"{artifact_server.url}/api/2.0/mlflow"
    run = requests.post(f"{api}/runs/create", json={"experiment_id": "0"}, timeout=30).json()["run"]["info"]
    root = run["artifact_uri"].split("mlflow-artifacts:/", 1)[1]
    _put(artifact_server, f"{root}/d1/a.txt", b"alpha")
    listing = requests.get(
        f"{api}/artifacts/list", params={"run_id": run["run_id"], "path": "d1"}, timeout=30
    )
    assert listing.json() == {
        "root_uri": run["artifact_uri"],
        "files": [{"path": "d1/a.txt", "is_dir": False, "file_size": 5}],
    }
    got = requests.get(
        f"{artifact_server.url}/get-artifact",
        params={"run_uuid": run["run_id"], "path": "d1/a.txt"},
        timeout=30,
    )
    assert got.status_code == 200 and got.content == b"alpha"
    bad = requests.get(
        f"{artifact_server.url}/get-artifact", params={"run_id": run["run_id"], "path": "../../x"}, timeout=30
    )
    assert bad.status_code == 400


def test_http_client_put_without_content_length_is_accepted(artifact_server: ArtifactServer) -> None:
    """A chunked upload (no Content-Length) streams like any other."""
    parts = urlsplit(artifact_server.url)
    path = f"{_dir()}/chunked.bin"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(
        "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}", body=iter([b"ab", b"cd"]), encode_chunked=True
    )
    assert conn.getresponse().status == 200
    conn.close()
    assert requests.get(artifact_server.artifacts_url(path), timeout=30).content == b"abcd"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_proxied_upload_of_several_parts(artifact_server: ArtifactServer, declared: bool) -> None:
    """A PUT bigger than a few store parts (8 MiB each) arrives whole, in order.

    With a Content-Length, S3 streams it in one PutObject; chunked, it goes up in parts.
    """
    import hashlib
    import os

    data = os.urandom(3 << 20) * 7 + b"tail"  # 21 MiB + 4 bytes: three parts and a remainder
    path = f"{_dir()}/parts.bin"
    if declared:
        assert _put(artifact_server, path, data).status_code == 200
    else:
        pieces = (data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20))
        answer = requests.put(artifact_server.artifacts_url(path), data=pieces, timeout=120)
        assert answer.status_code == 200
    got = requests.get(artifact_server.artifacts_url(path), timeout=120).content
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    assert artifact_server.stored(path.rsplit("/", 1)[0]) == [path]
