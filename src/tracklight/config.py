"""Server settings: read once, from command-line flags and TRACKLIGHT_* environment variables."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_FILE = "tracklight.db"
DEFAULT_ARTIFACT_DIR = "tracklight-artifacts"


@dataclass(frozen=True, slots=True)
class CloudOptions:
    """What the object-store clients take from the environment beyond each SDK's own credential chain."""

    s3_endpoint_url: str | None = None
    azure_connection_string: str | None = None

    @classmethod
    def from_env(cls) -> CloudOptions:
        env = os.environ
        return cls(
            s3_endpoint_url=env.get("MLFLOW_S3_ENDPOINT_URL")
            or env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
            or None,
            azure_connection_string=env.get("AZURE_STORAGE_CONNECTION_STRING") or None,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    backend_store_uri: str
    artifacts_destination: str
    default_artifact_root: str | None
    serve_artifacts: bool
    artifacts_only: bool
    # Whether clients may move big files straight to the object store through URLs we issue.
    direct_transfers: bool
    host: str
    port: int
    workers: int
    static_prefix: str
    db_pool_size: int
    db_timeout_s: float
    db_query_timeout_s: float
    cloud: CloudOptions
    # Host header values accepted (exact names, "*.domain" or "*"); empty means the private default.
    allowed_hosts: tuple[str, ...]
    # Origins that browsers may call the API from (CORS); empty means same-origin only.
    cors_allowed_origins: tuple[str, ...]
    log_format: str  # "json" or "text"
    # Serve under Hypercorn, which also speaks cleartext HTTP/2 (h2c): Cloud Run's "HTTP/2 end to end".
    h2c: bool

    @property
    def artifact_root_for_runs(self) -> str:
        """The root that new experiments get as artifact_location."""
        if self.default_artifact_root:
            return self.default_artifact_root.rstrip("/")
        if self.serve_artifacts:
            return "mlflow-artifacts:"
        return _as_uri(self.artifacts_destination)


def _as_uri(location: str) -> str:
    if "://" in location or location.startswith("mlflow-artifacts:"):
        return location.rstrip("/")
    return Path(location).resolve().as_uri()


def _env(name: str) -> str | None:
    value = os.environ.get(f"TRACKLIGHT_{name}")
    return value if value not in (None, "") else None


def _env_bool(name: str) -> bool | None:
    value = _env(name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"TRACKLIGHT_{name} must be true or false, not {value!r}")


def default_backend_store_uri() -> str:
    return f"sqlite:///{Path(DEFAULT_DB_FILE).resolve()}"


def backend_store_uri_from(flag: str | None) -> str:
    """The flag, else TRACKLIGHT_BACKEND_STORE_URI, else the SQLite default; then the credentials.

    TRACKLIGHT_DB_USER and TRACKLIGHT_DB_PASSWORD, when set, replace the URI's user and password. They
    let a platform inject the password from its secret store (ECS secrets, Cloud Run secret references)
    without anyone assembling, and URL-encoding, a URI that contains it.
    """
    uri = flag or _env("BACKEND_STORE_URI") or default_backend_store_uri()
    user, password = _env("DB_USER"), _env("DB_PASSWORD")
    if user is None and password is None:
        return uri
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if user is not None:
        url = url.set(username=user)
    if password is not None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def load_settings(
    *,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    default_artifact_root: str | None = None,
    serve_artifacts: bool | None = None,
    artifacts_only: bool | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    static_prefix: str | None = None,
    allowed_hosts: str | None = None,
    cors_allowed_origins: str | None = None,
    log_format: str | None = None,
    h2c: bool | None = None,
) -> Settings:
    """Merge flags (which win) over TRACKLIGHT_* variables over defaults."""
    prefix = static_prefix if static_prefix is not None else (_env("STATIC_PREFIX") or "")
    prefix = prefix.rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"--static-prefix must start with '/', not {prefix!r}")
    serve = serve_artifacts if serve_artifacts is not None else _env_bool("SERVE_ARTIFACTS")
    if serve is False and (artifacts_only or _env_bool("ARTIFACTS_ONLY")):
        raise ValueError("--artifacts-only serves artifacts; it cannot be combined with --no-serve-artifacts")
    fmt = (log_format or _env("LOG_FORMAT") or ("text" if sys.stderr.isatty() else "json")).lower()
    if fmt not in ("json", "text"):
        raise ValueError(f"--log-format must be json or text, not {fmt!r}")
    return Settings(
        backend_store_uri=backend_store_uri_from(backend_store_uri),
        artifacts_destination=artifacts_destination
        or _env("ARTIFACTS_DESTINATION")
        or str(Path(DEFAULT_ARTIFACT_DIR).resolve()),
        default_artifact_root=default_artifact_root or _env("DEFAULT_ARTIFACT_ROOT"),
        serve_artifacts=True if serve is None else serve,
        artifacts_only=bool(artifacts_only or _env_bool("ARTIFACTS_ONLY")),
        direct_transfers=_env_bool("DIRECT_TRANSFERS") is not False,
        host=host or _env("HOST") or "127.0.0.1",
        port=port if port is not None else int(_env("PORT") or 5000),
        workers=workers if workers is not None else int(_env("WORKERS") or 1),
        static_prefix=prefix,
        db_pool_size=int(_env("DB_POOL_SIZE") or 10),
        db_timeout_s=float(_env("DB_TIMEOUT") or 10),
        db_query_timeout_s=float(_env("DB_QUERY_TIMEOUT") or 30),
        cloud=CloudOptions.from_env(),
        allowed_hosts=_list(allowed_hosts if allowed_hosts is not None else _env("ALLOWED_HOSTS")),
        cors_allowed_origins=_list(
            cors_allowed_origins if cors_allowed_origins is not None else _env("CORS_ALLOWED_ORIGINS")
        ),
        log_format=fmt,
        h2c=h2c if h2c is not None else bool(_env_bool("H2C")),
    )


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())
