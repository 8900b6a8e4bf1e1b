"""Plain-HTTP calls to a live MLflow server's REST API: its credentials, retries with backoff, streamed files."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from typing import Any

import requests

# Statuses worth another try, as MLflow's own client retries them: throttling and passing server trouble.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ATTEMPTS = 7
_BACKOFF_S = 0.5  # doubled per attempt, capped at _BACKOFF_CAP_S, with jitter
_BACKOFF_CAP_S = 30.0
_TIMEOUT_S = 120.0
DOWNLOAD_CHUNK = 1024 * 1024


class MlflowServerError(RuntimeError):
    """The MLflow server refused a call, or could not be reached after every retry; one line for the CLI."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _error_of(response: requests.Response) -> MlflowServerError:
    code = message = None
    try:
        body = response.json()
        code, message = body.get("error_code"), body.get("message")
    except ValueError:
        pass
    if not message:
        lines = response.text.strip().splitlines()
        message = lines[0][:300] if lines else response.reason
    return MlflowServerError(
        f"{response.request.method} {response.url} answered {response.status_code}: {message}",
        response.status_code,
        code,
    )


class MlflowRest:
    """One MLflow tracking server, called as the stock client would call it.

    Credentials come from the variables the stock client reads: MLFLOW_TRACKING_TOKEN (Bearer), else
    MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (Basic); MLFLOW_TRACKING_INSECURE_TLS and
    MLFLOW_TRACKING_SERVER_CERT_PATH choose how its certificate is checked.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        env = os.environ
        token = env.get("MLFLOW_TRACKING_TOKEN")
        user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif user is not None or password is not None:
            self.session.auth = (user or "", password or "")
        if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true"):
            self.session.verify = False
        elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            self.session.verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        self.session.headers["User-Agent"] = "tracklight-import-mlflow"

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, path: str, /, *, stream: bool = False, **kwargs: Any) -> requests.Response:
        """The response of the first attempt that is neither a retryable status nor a connection failure."""
        url = f"{self.url}/{path.lstrip('/')}"
        for attempt in range(_ATTEMPTS):
            last = attempt == _ATTEMPTS - 1
            try:
                response = self.session.request(method, url, timeout=_TIMEOUT_S, stream=stream, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise MlflowServerError(f"{method} {url}: {exc}") from exc
                _pause(attempt, None)
                continue
            if response.status_code in _RETRY_STATUSES and not last:
                retry_after = response.headers.get("Retry-After")
                response.close()
                _pause(attempt, retry_after)
                continue
            if response.status_code >= 400:
                raise _error_of(response)
            return response
        raise AssertionError("unreachable")

    def get(self, path: str, /, **params: Any) -> dict[str, Any]:
        return self._send("GET", path, params=_plain(params)).json()

    def text(self, path: str, /) -> str:
        return self._send("GET", path).text

    def post(self, path: str, body: dict[str, Any], /) -> dict[str, Any]:
        return self._send("POST", path, json=body).json()

    def pages(self, method: str, path: str, key: str, /, **fields: Any) -> Iterator[list[dict[str, Any]]]:
        """The pages of a listing that follows next_page_token (an empty answer is `{}`)."""
        token = None
        while True:
            ask = {**fields, **({"page_token": token} if token else {})}
            body = self.post(path, ask) if method == "POST" else self.get(path, **ask)
            items = body.get(key) or []
            if items:
                yield items
            token = body.get("next_page_token")
            if not token:
                return

    def download(self, path: str, /, **params: Any) -> Iterator[bytes]:
        """A file's bytes in chunks, never all at once; the connection is released when the caller stops."""
        response = self._send("GET", path, stream=True, params=_plain(params))
        try:
            yield from response.iter_content(DOWNLOAD_CHUNK)
        except requests.RequestException as exc:  # the connection dropped mid-body
            raise MlflowServerError(f"GET {response.url}: {exc}") from exc
        finally:
            response.close()


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _pause(attempt: int, retry_after: str | None) -> None:
    if retry_after and retry_after.isdigit():
        time.sleep(min(float(retry_after), _BACKOFF_CAP_S))
        return
    delay = min(_BACKOFF_S * 2**attempt, _BACKOFF_CAP_S)
    time.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not secrecy
