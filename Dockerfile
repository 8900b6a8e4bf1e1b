# syntax=docker/dockerfile:1
#
# Tracklight server image: every production driver (MySQL, PostgreSQL, S3, GCS, Azure Blob), a non-root user,
# a /health HEALTHCHECK, configured entirely by environment variables.
#
#   docker build -t tracklight .
#   docker run --rm -p 127.0.0.1:5000:5000 -e TRACKLIGHT_ADMIN_PASSWORD tracklight
#                                                                      # SQLite + local artifacts in the container;
#                                                                      # auth is on: the first admin is `admin`
#   docker run --rm -p 127.0.0.1:5000:5000 -e TRACKLIGHT_AUTH=false tracklight   # a quick local try, no login
#   docker run --rm -e TRACKLIGHT_BACKEND_STORE_URI -e TRACKLIGHT_DB_PASSWORD tracklight tokens create admin
#                                                                      # a personal access token (MLFLOW_TRACKING_TOKEN)
#   docker run --rm -e TRACKLIGHT_BACKEND_STORE_URI -e TRACKLIGHT_DB_PASSWORD tracklight db upgrade
#                                                                      # migrate once per release, before servers
#
# Base image: pinned by tag here, because a digest cannot be resolved offline where this file is checked.
# In a real release pipeline, pin both stages by digest as well (python:3.11-slim-trixie@sha256:…, e.g. from
# `docker buildx imagetools inspect python:3.11-slim-trixie`) and let Renovate/Dependabot bump it; rebuild
# regularly so Debian and CPython security fixes land.
#
# ---- Configuration (every variable is optional; a flag after `server` wins over its variable) ----------------
#   TRACKLIGHT_BACKEND_STORE_URI     sqlite:////path, mysql+pymysql://user:pw@host:3306/db, postgresql://user:pw@host/db
#                                    (default: sqlite:///./tracklight.db, i.e. /var/lib/tracklight/tracklight.db:
#                                    mount a volume there, or use MySQL/PostgreSQL. The server creates the schema
#                                    of an empty database itself; a release's upgrade of an existing one is
#                                    `tracklight db upgrade` first: the server refuses an out-of-date schema)
#   TRACKLIGHT_ARTIFACTS_DESTINATION a path, s3://bucket/prefix, gs://bucket/prefix,
#                                    wasbs://container@account.blob.core.windows.net/prefix
#                                    (default: ./tracklight-artifacts, i.e. /var/lib/tracklight/tracklight-artifacts)
#   TRACKLIGHT_DEFAULT_ARTIFACT_ROOT artifact root for new experiments instead of mlflow-artifacts:
#   TRACKLIGHT_SERVE_ARTIFACTS       true (default): proxy artifacts; false: hand clients the destination URI
#   TRACKLIGHT_ARTIFACTS_ONLY        true: artifact routes only, no database
#   TRACKLIGHT_ARTIFACTS_PRESIGNED_ONLY
#                                    true: refuse proxied run and model artifact bytes; mlflow 3.18+ clients move
#                                    them to and from the bucket through presigned URLs (needs a bucket that signs)
#   TRACKLIGHT_DIRECT_TRANSFERS      true (default): big files go straight to S3/GCS/Azure through URLs the server
#                                    issues; false: everything through the proxy (when clients can't reach the bucket)
#   TRACKLIGHT_DB_USER               replaces the user in the backend store URI
#   TRACKLIGHT_DB_PASSWORD           replaces the password in the backend store URI (inject it from a secret store;
#                                    it is URL-encoded for you)
#   TRACKLIGHT_HOST                  0.0.0.0 in this image (the server's own default is 127.0.0.1)
#   TRACKLIGHT_PORT                  5000 (Cloud Run: set the service's container port to 5000)
#   TRACKLIGHT_WORKERS               worker processes (default 1; scale out with more containers first)
#   TRACKLIGHT_STATIC_PREFIX         prefix for every route, e.g. /mlflow (the HEALTHCHECK follows it)
#   TRACKLIGHT_ALLOWED_HOSTS         comma-separated Host headers to answer: names, *.domain or *. The default
#                                    (localhost and private addresses) answers 403 to a public hostname, so set
#                                    it to the load balancer's / Cloud Run's hostname. /health and /ready ignore it.
#   TRACKLIGHT_CORS_ALLOWED_ORIGINS  comma-separated browser origins allowed to call the API (default: none)
#   TRACKLIGHT_LOG_FORMAT            json (the default without a terminal) or text
#   TRACKLIGHT_AUTH                  true in this image (the server's own default is false): a password or a personal
#                                    access token on every route but /health, /ready and server-info. With no admin
#                                    in the database yet, the server refuses to start unless
#                                    TRACKLIGHT_ADMIN_PASSWORD (a secret: from the orchestrator) creates the first
#                                    admin, TRACKLIGHT_ADMIN_USERNAME (default admin). false: no login at all
#   TRACKLIGHT_AUTH_DEFAULT_PERMISSION  READ (default), USE, EDIT, MANAGE or NO_PERMISSIONS without a grant
#   TRACKLIGHT_AUTH_PROXY            none (default); iap, alb or header: with auth on, take the caller from the
#                                    authenticating proxy in front (README: Behind IAP, an ALB or a proxy), with
#                                    TRACKLIGHT_AUTH_PROXY_IAP_AUDIENCE, TRACKLIGHT_AUTH_PROXY_IAP_KEYS_URL (iap),
#                                    TRACKLIGHT_AUTH_PROXY_ALB_ARN, TRACKLIGHT_AUTH_PROXY_ALB_KEYS_URL,
#                                    TRACKLIGHT_AUTH_PROXY_ALB_CLAIM (alb), TRACKLIGHT_AUTH_PROXY_HEADER and
#                                    TRACKLIGHT_AUTH_PROXY_TRUSTED (header: the proxies' addresses or CIDR blocks)
#   TRACKLIGHT_AUTH_SESSION_HOURS    how long a dashboard sign-in lasts (default 12)
#   TRACKLIGHT_AUTH_COOKIE_SECURE    auto (default: Secure cookies when the browser's request is https, as the
#                                    load balancer's X-Forwarded-Proto says) or always
#   TRACKLIGHT_AUTH_PASSWORD_LOGIN   true (default): the login page takes a password; false: single sign-on only
#   TRACKLIGHT_AUTH_OIDC_ISSUER      dashboard single sign-on: the OpenID Connect issuer URL (https://...)
#   TRACKLIGHT_AUTH_OIDC_CLIENT_ID   ...its client id; the redirect URI is https://<host><prefix>/login/oidc/callback
#   TRACKLIGHT_AUTH_OIDC_CLIENT_SECRET  ...its client secret (a secret: from the orchestrator; none: public client)
#   TRACKLIGHT_AUTH_OIDC_SCOPES      default openid,email,profile
#   TRACKLIGHT_AUTH_OIDC_USERNAME_CLAIM  the claim naming the user (default email)
#   TRACKLIGHT_AUTH_OIDC_GROUPS_CLAIM    the claim listing the user's groups (default groups)
#   TRACKLIGHT_AUTH_OIDC_ADMIN_GROUPS    comma-separated groups whose members are admins (checked at each sign-in)
#   TRACKLIGHT_AUTH_OIDC_ALLOWED_GROUPS  comma-separated groups allowed to sign in (default: anyone)
#   TRACKLIGHT_AUTH_OIDC_PROVIDER_NAME   the login button says "Sign in with" this
#   TRACKLIGHT_H2C                   true: serve with Hypercorn, which speaks cleartext HTTP/2 (h2c) as well as
#                                    HTTP/1.1 on the port. Cloud Run: name the container port h2c, which lifts its
#                                    32 MiB request-body limit (default false: uvicorn, HTTP/1.1 only)
#   TRACKLIGHT_DB_POOL_SIZE          connections per worker (default 10, plus as many overflow)
#   TRACKLIGHT_DB_TIMEOUT            seconds to wait for a connection or a lock (default 10)
#   TRACKLIGHT_DB_QUERY_TIMEOUT      seconds a MySQL/PostgreSQL round trip may take before a 503 (default 30)
#   TRACKLIGHT_WEBHOOK_SECRET_KEY    Fernet key(s) webhook secrets are encrypted with (a secret: from the orchestrator)
#   TRACKLIGHT_WEBHOOK_ALLOW_PRIVATE_ADDRESSES  true: webhooks may deliver to private/loopback addresses (default false)
#   TRACKLIGHT_WEBHOOK_MAX_ATTEMPTS  attempts per webhook delivery (default 5)
#   TRACKLIGHT_WEBHOOK_RETRY_SECONDS first retry after this many seconds, then doubling (default 10)
#   TRACKLIGHT_WEBHOOK_TIMEOUT       seconds a webhook receiver has to answer (default 30)
# Object stores use each SDK's own credential chain; nothing is baked in here:
#   S3     ECS task role / instance profile / AWS_* variables; MLFLOW_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL) for
#          MinIO, R2, moto…
#   GCS    Application Default Credentials (Cloud Run service account, GOOGLE_APPLICATION_CREDENTIALS);
#          STORAGE_EMULATOR_HOST for an emulator
#   Azure  AZURE_STORAGE_CONNECTION_STRING, else DefaultAzureCredential (managed / workload identity, AZURE_*)
# Secrets (TRACKLIGHT_DB_PASSWORD beside a password-less TRACKLIGHT_BACKEND_STORE_URI, TRACKLIGHT_ADMIN_PASSWORD,
# TRACKLIGHT_WEBHOOK_SECRET_KEY, cloud keys) come from the orchestrator at
# run time (ECS secrets, Cloud Run secret env references, compose .env): never put them in this file or the image.
# ---------------------------------------------------------------------------------------------------------------

FROM python:3.11-slim-trixie AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
RUN python -m venv /opt/tracklight

# Dependencies first, from the lock only: exact versions with their sha256 hashes, nothing resolved at build
# time, so two builds of one commit install the same files (and this layer is cached until the lock changes).
# requirements/image.lock is the `.[cloud]` set for Python 3.11; after changing pyproject.toml's
# dependencies, refresh it with (uv: pip install uv):
#   uv pip compile pyproject.toml --extra cloud --generate-hashes --universal --python-version 3.11 \
#       -o requirements/image.lock
# tests/deploy checks that it covers every dependency pyproject.toml names.
COPY requirements/image.lock ./requirements/
RUN /opt/tracklight/bin/pip install --require-hashes --no-deps -r requirements/image.lock

# Only what the wheel needs (see .dockerignore): project metadata and the package.
COPY pyproject.toml README.md ./
COPY src ./src

# Build the wheel and install it alone (its dependencies came from the lock; PyMySQL and psycopg2-binary are
# core dependencies, every driver ships as a manylinux wheel, so no compiler or apt packages are needed);
# `pip check` fails the build if the lock misses one. Then precompile all bytecode with hashes that are never
# re-checked: the runtime user cannot write __pycache__, and a cold start must not spend its time compiling
# SQLAlchemy. The last line fails the build if a driver or a cloud SDK ([cloud]) is missing.
RUN python -m pip wheel --no-deps --wheel-dir /build/dist . \
    && /opt/tracklight/bin/pip install --no-deps /build/dist/tracklight-*.whl \
    && /opt/tracklight/bin/pip check \
    && /opt/tracklight/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash /opt/tracklight/lib \
    && /opt/tracklight/bin/python -c "import pymysql, cryptography, psycopg2, tracklight.artifacts.s3, tracklight.artifacts.gcs, tracklight.artifacts.azure, tracklight.http.app"


FROM python:3.11-slim-trixie

LABEL org.opencontainers.image.title="tracklight" \
      org.opencontainers.image.description="MLflow-compatible experiment tracking server" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed, non-root UID/GID (10001) so volume ownership and Kubernetes runAsUser are predictable.
RUN groupadd --system --gid 10001 tracklight \
    && useradd --system --no-log-init --uid 10001 --gid tracklight \
       --home-dir /var/lib/tracklight --create-home --shell /usr/sbin/nologin tracklight

# The venv stays root-owned: the server user can run it but not change it.
COPY --from=builder /opt/tracklight /opt/tracklight

# Authentication on: a container reachable by others must not serve without a login. Without an admin yet, the
# server refuses to start until TRACKLIGHT_ADMIN_PASSWORD is given (or TRACKLIGHT_AUTH=false for a local try).
ENV PATH="/opt/tracklight/bin:${PATH}" \
    VIRTUAL_ENV=/opt/tracklight \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRACKLIGHT_HOST=0.0.0.0 \
    TRACKLIGHT_PORT=5000 \
    TRACKLIGHT_AUTH=true

# The SQLite file and local artifacts of the defaults land here (the user's home): mount a volume to keep them.
WORKDIR /var/lib/tracklight
USER 10001:10001
EXPOSE 5000

# No curl in the image: the venv's Python asks /health (which answers whatever the Host header).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s%s/health' % (os.environ.get('TRACKLIGHT_PORT') or '5000', (os.environ.get('TRACKLIGHT_STATIC_PREFIX') or '').rstrip('/')), timeout=4)"]

# Exec form: tracklight is PID 1 and gets SIGTERM itself (in-flight requests finish, then it exits).
ENTRYPOINT ["tracklight"]
CMD ["server"]
