"""Server settings: one table drives the flags, the TRACKLIGHT_* variables, the defaults and their export."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DB_FILE = "tracklight.db"
DEFAULT_ARTIFACT_DIR = "tracklight-artifacts"
IAP_KEYS_URL = "https://www.gstatic.com/iap/verify/public_key-jwk"
ALB_KEYS_URL = "https://public-keys.auth.elb.{region}.amazonaws.com"  # /<key id> follows


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
    # Run and model artifact bytes never pass through the server: clients must use presigned URLs.
    artifacts_presigned_only: bool
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
    auth: bool = False  # credentials required, permissions checked
    auth_default_permission: str = "read"  # lower-case Permission name
    # Identity from an authenticating proxy in front (with auth): "none", "iap", "alb" or "header".
    auth_proxy: str = "none"
    auth_proxy_iap_audience: tuple[str, ...] = ()
    auth_proxy_iap_keys_url: str = IAP_KEYS_URL
    auth_proxy_alb_arn: tuple[str, ...] = ()
    auth_proxy_alb_keys_url: str = ALB_KEYS_URL
    auth_proxy_alb_claim: str = "email"
    auth_proxy_header: str = "X-Forwarded-Email"
    auth_proxy_trusted: tuple[str, ...] = ()  # addresses or CIDR blocks
    # Dashboard sign-in (see tracklight.auth.signin): session length, cookie flags, password and OIDC.
    auth_session_hours: float = 12.0
    auth_cookie_secure: str = "auto"  # "auto": when the browser's request is https; "always"
    auth_password_login: bool = True
    auth_oidc_issuer: str | None = None
    auth_oidc_client_id: str | None = None
    auth_oidc_client_secret: str | None = None
    auth_oidc_scopes: tuple[str, ...] = ("openid", "email", "profile")
    auth_oidc_username_claim: str = "email"
    auth_oidc_groups_claim: str = "groups"
    auth_oidc_admin_groups: tuple[str, ...] = ()
    auth_oidc_allowed_groups: tuple[str, ...] = ()
    auth_oidc_provider_name: str = "single sign-on"
    # Registry webhooks (tracklight.services.webhooks): the Fernet keys their secrets are encrypted with
    # (the first encrypts, every one decrypts; AI gateway credentials are sealed with the same keys), whether deliveries may go to non-public addresses, and
    # the delivery worker's bounds.
    webhook_secret_keys: tuple[str, ...] = ()
    webhook_allow_private_addresses: bool = False
    webhook_max_attempts: int = 5
    webhook_retry_seconds: float = 10.0
    webhook_timeout_s: float = 30.0

    @property
    def artifact_root_for_runs(self) -> str:
        """The root that new experiments get as artifact_location."""
        if self.default_artifact_root:
            return self.default_artifact_root.rstrip("/")
        if self.serve_artifacts:
            return "mlflow-artifacts:"
        return _as_uri(self.artifacts_destination)


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: where it is read from (flags, then its variable, then the default) and how it is shown."""

    name: str  # the Settings field, and the argparse dest
    env: str  # its TRACKLIGHT_* variable
    kind: str  # "str", "int", "float", "bool", "list" or "choice"
    default: Any  # a value, or a callable giving it at load time
    shown_default: str  # the default as --help and the README show it (Markdown)
    help: str
    flags: tuple[str, ...] = ()  # none: a variable only
    negative_flag: str | None = None  # a "--no-…" flag that sets a bool setting to false
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How error messages name it: its first long flag, else its variable."""
        return next((f for f in self.flags if f.startswith("--")), self.env)

    def resolve(self, given: Any) -> Any:
        """The flag's value if given, else the variable's, else the default."""
        if given is not None:
            return self.check(given)
        raw = os.environ.get(self.env)
        if raw not in (None, ""):
            return self.parse(raw)
        return self.default() if callable(self.default) else self.default

    def parse(self, raw: str) -> Any:
        """A variable's text as a value of this setting's kind."""
        if self.kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{self.env} must be true or false, not {raw!r}")
        if self.kind in ("int", "float"):
            try:
                return self.check(int(raw) if self.kind == "int" else float(raw))
            except ValueError:
                raise ValueError(f"{self.env} must be a number, not {raw!r}") from None
        if self.kind == "list":
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        return self.check(raw)

    def check(self, value: Any) -> Any:
        if self.kind == "list" and isinstance(value, str):
            return self.parse(value)
        if self.kind == "choice":
            value = value.lower()
            if value not in self.choices:
                raise ValueError(f"{self.label} must be {' or '.join(self.choices)}, not {value!r}")
        return value

    def export(self, value: Any) -> str | None:
        """The value as its variable's text (None: leave the variable unset)."""
        if value is None:
            return None
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "list":
            return ",".join(value)
        return str(value)


def default_backend_store_uri() -> str:
    return f"sqlite:///{Path(DEFAULT_DB_FILE).resolve()}"


def _default_artifacts_destination() -> str:
    return str(Path(DEFAULT_ARTIFACT_DIR).resolve())


def _default_log_format() -> str:
    return "text" if sys.stderr.isatty() else "json"


# Every setting, in the order of `tracklight server --help` and the README's Configuration table.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "backend_store_uri",
        "TRACKLIGHT_BACKEND_STORE_URI",
        "str",
        default_backend_store_uri,
        "`sqlite:///./tracklight.db`",
        "sqlite:///path, mysql+pymysql://… or postgresql://…",
        flags=("--backend-store-uri",),
    ),
    Setting(
        "artifacts_destination",
        "TRACKLIGHT_ARTIFACTS_DESTINATION",
        "str",
        _default_artifacts_destination,
        "`./tracklight-artifacts`",
        "Where proxied artifacts are stored: a path, s3://, gs:// or wasbs://",
        flags=("--artifacts-destination",),
    ),
    Setting(
        "default_artifact_root",
        "TRACKLIGHT_DEFAULT_ARTIFACT_ROOT",
        "str",
        None,
        "(none)",
        "Artifact root given to new experiments, instead of mlflow-artifacts:",
        flags=("--default-artifact-root",),
    ),
    Setting(
        "serve_artifacts",
        "TRACKLIGHT_SERVE_ARTIFACTS",
        "bool",
        True,
        "serve",
        "Proxy artifact uploads and downloads; --no-serve-artifacts gives runs the destination URI itself "
        "(clients then need storage credentials)",
        flags=("--serve-artifacts",),
        negative_flag="--no-serve-artifacts",
    ),
    Setting(
        "artifacts_only",
        "TRACKLIGHT_ARTIFACTS_ONLY",
        "bool",
        False,
        "off",
        "Serve only the artifact routes, with no metadata database",
        flags=("--artifacts-only",),
    ),
    Setting(
        "artifacts_presigned_only",
        "TRACKLIGHT_ARTIFACTS_PRESIGNED_ONLY",
        "bool",
        False,
        "off",
        "Refuse proxied artifact uploads and downloads: clients move run and model artifacts straight to "
        "and from the bucket through presigned URLs (S3, GCS or Azure destination; mlflow 3.18+ clients)",
        flags=("--artifacts-presigned-only",),
    ),
    Setting(
        "host",
        "TRACKLIGHT_HOST",
        "str",
        "127.0.0.1",
        "`127.0.0.1`",
        "Address to bind",
        flags=("--host", "-h"),
    ),
    Setting("port", "TRACKLIGHT_PORT", "int", 5000, "`5000`", "Port to listen on", flags=("--port", "-p")),
    Setting("workers", "TRACKLIGHT_WORKERS", "int", 1, "`1`", "Worker processes", flags=("--workers", "-w")),
    Setting(
        "static_prefix",
        "TRACKLIGHT_STATIC_PREFIX",
        "str",
        "",
        "(none)",
        "Prefix for every route, e.g. /mlflow",
        flags=("--static-prefix",),
    ),
    Setting(
        "allowed_hosts",
        "TRACKLIGHT_ALLOWED_HOSTS",
        "list",
        (),
        "localhost and private addresses",
        "Comma-separated Host header values to accept: names, *.domain or *",
        flags=("--allowed-hosts",),
    ),
    Setting(
        "cors_allowed_origins",
        "TRACKLIGHT_CORS_ALLOWED_ORIGINS",
        "list",
        (),
        "none",
        "Comma-separated origins browsers may call the API from, or *",
        flags=("--cors-allowed-origins",),
    ),
    Setting(
        "log_format",
        "TRACKLIGHT_LOG_FORMAT",
        "choice",
        _default_log_format,
        "`text` on a terminal, else `json`",
        "Log lines as JSON objects or plain text",
        flags=("--log-format",),
        choices=("json", "text"),
    ),
    Setting(
        "h2c",
        "TRACKLIGHT_H2C",
        "bool",
        False,
        "off",
        "Serve with Hypercorn, which speaks cleartext HTTP/2 (h2c) as well as HTTP/1.1 on the same port: "
        "for Cloud Run's HTTP/2 end to end, which has no 32 MiB request limit",
        flags=("--h2c",),
    ),
    Setting(
        "auth",
        "TRACKLIGHT_AUTH",
        "bool",
        False,
        "off",
        "Require credentials (Basic or a personal access token) on every route but /health, /ready and "
        "server-info, and check permissions (mlflow's --app-name basic-auth)",
        flags=("--auth",),
    ),
    Setting(
        "auth_default_permission",
        "TRACKLIGHT_AUTH_DEFAULT_PERMISSION",
        "choice",
        "read",
        "`READ`",
        "Permission of a user on an experiment or registered model without a grant",
        choices=("read", "use", "edit", "manage", "no_permissions"),
    ),
    # -- identity from an authenticating proxy (tracklight.auth.proxy_identity) --
    Setting(
        "auth_proxy",
        "TRACKLIGHT_AUTH_PROXY",
        "choice",
        "none",
        "`none`",
        "With --auth, take the caller from the proxy in front when its assertion is present and valid: "
        "iap (Google IAP's signed header), alb (AWS ALB's OIDC header) or header (a plain header, from "
        "trusted addresses only); other requests use credentials as usual",
        choices=("none", "iap", "alb", "header"),
    ),
    Setting(
        "auth_proxy_iap_audience",
        "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE",
        "list",
        (),
        "(none)",
        "iap: the audiences accepted, comma-separated: /projects/NUMBER/locations/REGION/services/NAME "
        "(IAP on Cloud Run), /projects/NUMBER/global/backendServices/ID or /projects/NUMBER/apps/PROJECT_ID",
    ),
    Setting(
        "auth_proxy_iap_keys_url",
        "TRACKLIGHT_AUTH_PROXY_IAP_KEYS_URL",
        "str",
        IAP_KEYS_URL,
        f"`{IAP_KEYS_URL}`",
        "iap: where IAP's public keys (a JWK set) are read",
    ),
    Setting(
        "auth_proxy_alb_arn",
        "TRACKLIGHT_AUTH_PROXY_ALB_ARN",
        "list",
        (),
        "(none)",
        "alb: the ARNs of the load balancers whose x-amzn-oidc-data is accepted (its signer), comma-separated",
    ),
    Setting(
        "auth_proxy_alb_keys_url",
        "TRACKLIGHT_AUTH_PROXY_ALB_KEYS_URL",
        "str",
        ALB_KEYS_URL,
        "`https://public-keys.auth.elb.{region}.amazonaws.com`",
        "alb: where the ALB's public keys are read, as URL/<key id>; {region} is the signer ARN's",
    ),
    Setting(
        "auth_proxy_alb_claim",
        "TRACKLIGHT_AUTH_PROXY_ALB_CLAIM",
        "str",
        "email",
        "`email`",
        "alb: the claim that names the user",
    ),
    Setting(
        "auth_proxy_header",
        "TRACKLIGHT_AUTH_PROXY_HEADER",
        "str",
        "X-Forwarded-Email",
        "`X-Forwarded-Email`",
        "header: the request header that names the user",
    ),
    Setting(
        "auth_proxy_trusted",
        "TRACKLIGHT_AUTH_PROXY_TRUSTED",
        "list",
        (),
        "(none)",
        "header: the proxies' addresses or CIDR blocks, comma-separated; from any other peer the header is "
        "ignored",
    ),
    Setting(
        "auth_session_hours",
        "TRACKLIGHT_AUTH_SESSION_HOURS",
        "float",
        12.0,
        "`12`",
        "Hours a dashboard sign-in lasts before the login page asks again",
    ),
    Setting(
        "auth_cookie_secure",
        "TRACKLIGHT_AUTH_COOKIE_SECURE",
        "choice",
        "auto",
        "`auto`",
        "When the dashboard's cookies are marked Secure: auto (when the browser's request is https, "
        "directly or as X-Forwarded-Proto says) or always",
        choices=("auto", "always"),
    ),
    Setting(
        "auth_password_login",
        "TRACKLIGHT_AUTH_PASSWORD_LOGIN",
        "bool",
        True,
        "`true`",
        "Offer username and password on the dashboard's login page; false leaves single sign-on only "
        "(clients keep Basic and tokens)",
    ),
    Setting(
        "auth_oidc_issuer",
        "TRACKLIGHT_AUTH_OIDC_ISSUER",
        "str",
        None,
        "(none)",
        "OpenID Connect issuer URL for dashboard single sign-on, read through its "
        "/.well-known/openid-configuration",
    ),
    Setting(
        "auth_oidc_client_id",
        "TRACKLIGHT_AUTH_OIDC_CLIENT_ID",
        "str",
        None,
        "(none)",
        "The client id registered with the issuer",
    ),
    Setting(
        "auth_oidc_client_secret",
        "TRACKLIGHT_AUTH_OIDC_CLIENT_SECRET",
        "str",
        None,
        "(none)",
        "The client secret (none for a public client, which PKCE alone protects)",
    ),
    Setting(
        "auth_oidc_scopes",
        "TRACKLIGHT_AUTH_OIDC_SCOPES",
        "list",
        ("openid", "email", "profile"),
        "`openid,email,profile`",
        "Comma-separated scopes to ask for; must include openid",
    ),
    Setting(
        "auth_oidc_username_claim",
        "TRACKLIGHT_AUTH_OIDC_USERNAME_CLAIM",
        "str",
        "email",
        "`email`",
        "The claim that names the Tracklight user",
    ),
    Setting(
        "auth_oidc_groups_claim",
        "TRACKLIGHT_AUTH_OIDC_GROUPS_CLAIM",
        "str",
        "groups",
        "`groups`",
        "The claim that lists the user's groups",
    ),
    Setting(
        "auth_oidc_admin_groups",
        "TRACKLIGHT_AUTH_OIDC_ADMIN_GROUPS",
        "list",
        (),
        "none",
        "Comma-separated groups whose members are admins; applied at every sign-in, so leaving the group "
        "takes admin away (none: the admin flag is left as it is)",
    ),
    Setting(
        "auth_oidc_allowed_groups",
        "TRACKLIGHT_AUTH_OIDC_ALLOWED_GROUPS",
        "list",
        (),
        "none",
        "Comma-separated groups allowed to sign in; others are refused (none: anyone the issuer vouches for)",
    ),
    Setting(
        "auth_oidc_provider_name",
        "TRACKLIGHT_AUTH_OIDC_PROVIDER_NAME",
        "str",
        "single sign-on",
        "`single sign-on`",
        "The login page's button says Sign in with this",
    ),
    Setting(
        "db_user",
        "TRACKLIGHT_DB_USER",
        "str",
        None,
        "(none)",
        "Replaces the user in the backend store URI",
    ),
    Setting(
        "db_password",
        "TRACKLIGHT_DB_PASSWORD",
        "str",
        None,
        "(none)",
        "Replaces the password in the backend store URI",
    ),
    Setting(
        "direct_transfers",
        "TRACKLIGHT_DIRECT_TRANSFERS",
        "bool",
        True,
        "`true`",
        "On S3/GCS/Azure, let clients move big files straight to the bucket",
    ),
    Setting(
        "db_pool_size",
        "TRACKLIGHT_DB_POOL_SIZE",
        "int",
        10,
        "`10`",
        "Database connections per worker (plus as many overflow)",
    ),
    Setting(
        "db_timeout_s",
        "TRACKLIGHT_DB_TIMEOUT",
        "float",
        10.0,
        "`10`",
        "Seconds to wait for a new connection, a pooled one, or a lock",
    ),
    Setting(
        "db_query_timeout_s",
        "TRACKLIGHT_DB_QUERY_TIMEOUT",
        "float",
        30.0,
        "`30`",
        "Seconds a MySQL/PostgreSQL round trip may take before the request fails with 503",
    ),
    # -- registry webhooks (tracklight.services.webhooks, webhook_delivery) --
    Setting(
        "webhook_secret_keys",
        "TRACKLIGHT_WEBHOOK_SECRET_KEY",
        "list",
        (),
        "(none)",
        "Fernet key(s) that webhook secrets and AI gateway credentials are stored encrypted with, "
        "comma-separated: the first encrypts, each decrypts (to rotate, put the new key first). Without "
        "one, a webhook with a secret and every gateway secret are refused",
    ),
    Setting(
        "webhook_allow_private_addresses",
        "TRACKLIGHT_WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
        "bool",
        False,
        "`false`",
        "Let webhooks deliver to loopback, private, link-local and other non-public addresses "
        "(refused by default, as server-side request forgery)",
    ),
    Setting(
        "webhook_max_attempts",
        "TRACKLIGHT_WEBHOOK_MAX_ATTEMPTS",
        "int",
        5,
        "`5`",
        "Attempts at each webhook delivery before it is recorded as failed",
    ),
    Setting(
        "webhook_retry_seconds",
        "TRACKLIGHT_WEBHOOK_RETRY_SECONDS",
        "float",
        10.0,
        "`10`",
        "Seconds before a failed webhook delivery's first retry; each further retry waits twice as long "
        "(at most an hour)",
    ),
    Setting(
        "webhook_timeout_s",
        "TRACKLIGHT_WEBHOOK_TIMEOUT",
        "float",
        30.0,
        "`30`",
        "Seconds a webhook receiver has to answer a delivery",
    ),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# Folded into backend_store_uri when the settings are loaded; not Settings fields of their own.
_CREDENTIALS = ("db_user", "db_password")


def _as_uri(location: str) -> str:
    if "://" in location or location.startswith("mlflow-artifacts:"):
        return location.rstrip("/")
    return Path(location).resolve().as_uri()


def with_credentials(uri: str, user: str | None, password: str | None) -> str:
    """`uri` with its user and password replaced by those given (URL-encoded here)."""
    if user is None and password is None:
        return uri
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if user is not None:
        url = url.set(username=user)
    if password is not None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def backend_store_uri_from(flag: str | None) -> str:
    """The flag, else TRACKLIGHT_BACKEND_STORE_URI, else the SQLite default; then the credentials.

    TRACKLIGHT_DB_USER and TRACKLIGHT_DB_PASSWORD, when set, replace the URI's user and password. They
    let a platform inject the password from its secret store (ECS secrets, Cloud Run secret references)
    without anyone assembling, and URL-encoding, a URI that contains it.
    """
    return with_credentials(
        BY_NAME["backend_store_uri"].resolve(flag),
        BY_NAME["db_user"].resolve(None),
        BY_NAME["db_password"].resolve(None),
    )


def load_settings(given: Mapping[str, Any] | None = None, **flags: Any) -> Settings:
    """Merge flags (`given` by setting name, which win) over TRACKLIGHT_* variables over defaults."""
    given = {**(given or {}), **flags}
    values: dict[str, Any] = {s.name: s.resolve(given.get(s.name)) for s in SETTINGS}
    values["backend_store_uri"] = with_credentials(
        values["backend_store_uri"], *(values.pop(name) for name in _CREDENTIALS)
    )
    prefix = values["static_prefix"].rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"--static-prefix must start with '/', not {prefix!r}")
    values["static_prefix"] = prefix
    if not values["serve_artifacts"] and values["artifacts_only"]:
        raise ValueError("--artifacts-only serves artifacts; it cannot be combined with --no-serve-artifacts")
    if values["artifacts_presigned_only"] and not (values["serve_artifacts"] and values["direct_transfers"]):
        raise ValueError(
            "--artifacts-presigned-only needs artifact serving and direct transfers; it cannot be combined "
            "with --no-serve-artifacts or TRACKLIGHT_DIRECT_TRANSFERS=false"
        )
    if values["workers"] < 1:
        raise ValueError(f"--workers must be at least 1, not {values['workers']}")
    _check_auth_proxy(values)
    _check_sign_in(values)
    _check_webhooks(values)
    return Settings(cloud=CloudOptions.from_env(), **values)


_IAP_AUDIENCE = re.compile(
    r"/projects/[0-9]+/(locations/[a-z0-9-]+/services/[a-z0-9-]+|global/backendServices/[0-9]+|apps/[a-z0-9-]+)"
)
_ALB_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/[^/]+/[0-9a-f]+"
)


def _require_listed(given: tuple[str, ...], pattern: re.Pattern[str], requirement: str) -> None:
    """At least one value, and every value of the expected form; else `requirement`, naming what was wrong."""
    bad = [v for v in given if not pattern.fullmatch(v)]
    if not given or bad:
        raise ValueError(f"{requirement}, not {','.join(bad) or 'nothing'!r}")


def _check_auth_proxy(values: Mapping[str, Any]) -> None:
    """What each proxy mode needs is there and well-formed (the server must not start half-trusting)."""
    import ipaddress

    mode = values["auth_proxy"]
    if mode == "none":
        return
    if not values["auth"]:
        raise ValueError(f"TRACKLIGHT_AUTH_PROXY={mode} needs --auth (TRACKLIGHT_AUTH=true)")
    if mode == "iap":
        _require_listed(
            values["auth_proxy_iap_audience"],
            _IAP_AUDIENCE,
            "TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE must name IAP's audience, e.g. "
            "/projects/NUMBER/locations/REGION/services/NAME",
        )
        urls = [("TRACKLIGHT_AUTH_PROXY_IAP_KEYS_URL", values["auth_proxy_iap_keys_url"])]
    elif mode == "alb":
        _require_listed(
            values["auth_proxy_alb_arn"],
            _ALB_ARN,
            "TRACKLIGHT_AUTH_PROXY_ALB_ARN must be application load balancer ARNs "
            "(arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID)",
        )
        if not values["auth_proxy_alb_claim"].strip():
            raise ValueError("TRACKLIGHT_AUTH_PROXY_ALB_CLAIM must name a claim")
        urls = [("TRACKLIGHT_AUTH_PROXY_ALB_KEYS_URL", values["auth_proxy_alb_keys_url"])]
    else:
        if not re.fullmatch(r"[A-Za-z0-9-]+", values["auth_proxy_header"]):
            raise ValueError(
                f"TRACKLIGHT_AUTH_PROXY_HEADER is not a header name: {values['auth_proxy_header']!r}"
            )
        if values["auth_proxy_header"].lower() == "authorization":
            raise ValueError("TRACKLIGHT_AUTH_PROXY_HEADER cannot be Authorization")
        trusted = values["auth_proxy_trusted"]
        if not trusted:
            raise ValueError(
                "TRACKLIGHT_AUTH_PROXY=header needs TRACKLIGHT_AUTH_PROXY_TRUSTED (the proxies' addresses)"
            )
        for entry in trusted:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"TRACKLIGHT_AUTH_PROXY_TRUSTED must hold addresses or CIDR blocks, not {entry!r}"
                ) from None
        urls = []
    for name, url in urls:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{name} must be an http(s) URL, not {url!r}")


def _check_sign_in(values: dict[str, Any]) -> None:
    """Dashboard sign-in settings that cannot work together are refused at start, in one line."""
    if values["auth_session_hours"] <= 0:
        raise ValueError("TRACKLIGHT_AUTH_SESSION_HOURS must be positive")
    issuer = values["auth_oidc_issuer"]
    if issuer is None:
        if values["auth"] and not values["auth_password_login"]:
            raise ValueError(
                "TRACKLIGHT_AUTH_PASSWORD_LOGIN=false needs TRACKLIGHT_AUTH_OIDC_ISSUER: "
                "nobody could sign in to the dashboard"
            )
        return
    if not values["auth"]:
        raise ValueError("TRACKLIGHT_AUTH_OIDC_ISSUER needs --auth (TRACKLIGHT_AUTH=true)")
    if not values["auth_oidc_client_id"]:
        raise ValueError("TRACKLIGHT_AUTH_OIDC_ISSUER needs TRACKLIGHT_AUTH_OIDC_CLIENT_ID")
    if "openid" not in values["auth_oidc_scopes"]:
        raise ValueError("TRACKLIGHT_AUTH_OIDC_SCOPES must include openid")
    from urllib.parse import urlsplit

    parts = urlsplit(issuer)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    # Discovery, keys and the code exchange travel to the issuer: over anything but TLS they could be
    # swapped on the way. Plain http is allowed on this machine only (a test or development provider).
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError(f"TRACKLIGHT_AUTH_OIDC_ISSUER must be an https:// URL, not {issuer!r}")


def _check_webhooks(values: Mapping[str, Any]) -> None:
    """A malformed key or a bound that cannot work stops the server at start, not at the first delivery."""
    if values["webhook_max_attempts"] < 1:
        raise ValueError("TRACKLIGHT_WEBHOOK_MAX_ATTEMPTS must be at least 1")
    if values["webhook_retry_seconds"] < 0 or values["webhook_timeout_s"] <= 0:
        raise ValueError("TRACKLIGHT_WEBHOOK_RETRY_SECONDS and TRACKLIGHT_WEBHOOK_TIMEOUT must be positive")
    if values["webhook_secret_keys"]:
        from cryptography.fernet import Fernet

        for key in values["webhook_secret_keys"]:
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    "TRACKLIGHT_WEBHOOK_SECRET_KEY must be Fernet keys (32 url-safe base64-encoded bytes, "
                    "e.g. from `python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                ) from None


def export(settings: Settings) -> None:
    """Put the resolved settings into their TRACKLIGHT_* variables, for worker processes that read them."""
    for setting in SETTINGS:
        if setting.name in _CREDENTIALS:
            continue  # already inside backend_store_uri
        text = setting.export(getattr(settings, setting.name))
        if text is not None:
            os.environ[setting.env] = text


def described_location(uri: str) -> str:
    """A store location for the log: passwords masked, SQLite files and local folders as absolute paths."""
    from urllib.parse import unquote, urlsplit

    if "://" not in uri:
        return str(Path(uri).resolve())
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return str(Path(unquote(parts.path)).resolve())
    if parts.scheme.split("+")[0] not in ("sqlite", "mysql", "mariadb", "postgresql", "postgres"):
        if parts.password is None:
            return uri
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if url.drivername.startswith("sqlite"):
        database = url.database or ""
        if database in ("", ":memory:"):
            return "sqlite (in memory)"
        return f"sqlite:///{Path(database).resolve()}"
    return url.render_as_string(hide_password=True)
