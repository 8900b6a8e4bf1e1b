"""The application's parts, built once from the settings: metadata store, artifact destination, services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracklight.artifacts.locations import ArtifactLocationError, ArtifactRoots, open_store
from tracklight.artifacts.store import ArtifactStore
from tracklight.auth import gate
from tracklight.auth.admin import ensure_admin
from tracklight.auth.authenticate import Authenticator
from tracklight.auth.oidc import OidcClient, OidcSettings
from tracklight.auth.permissions import Permission
from tracklight.auth.proxy_identity import ProxyIdentity, proxy_identity
from tracklight.auth.sessions import Sessions
from tracklight.auth.versions import Versions
from tracklight.config import Settings
from tracklight.services.artifacts import Artifacts
from tracklight.services.assessments import Assessments
from tracklight.services.evaluation_datasets import EvaluationDatasets
from tracklight.services.experiments import Experiments
from tracklight.services.gateway import Gateway
from tracklight.services.gateway_endpoints import GatewayEndpoints
from tracklight.services.issues import Issues
from tracklight.services.logged_models import LoggedModels
from tracklight.services.registry import Registry
from tracklight.services.runs import Runs
from tracklight.services.scorers import Scorers
from tracklight.services.sealed_secrets import SealedSecrets
from tracklight.services.signin import GroupRules, SignIn
from tracklight.services.traces import Traces
from tracklight.services.users import Users
from tracklight.services.webhook_delivery import DeliverySettings, DeliveryWorker
from tracklight.services.webhook_outbox import Outbox
from tracklight.services.webhooks import Webhooks, WebhookSettings
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import prepare_for_serving


@dataclass(frozen=True, slots=True)
class Application:
    """What the routes serve; the router receives it built."""

    settings: Settings
    db: Database | None  # None with --artifacts-only
    destination: ArtifactStore | None  # where proxied artifacts go; None with --no-serve-artifacts
    artifacts: Artifacts | None  # None only when there is neither a database nor a destination
    # The domain services by the names the route table (tracklight.http.routes) uses; empty without a database.
    services: dict[str, Any] = field(default_factory=dict)
    created_schema: str | None = None  # the revision created on an empty database at start, if any
    authenticator: Authenticator | None = None  # None: no credentials asked (auth off, or --artifacts-only)
    created_admin: str | None = None  # the admin user created at this start, if any
    proxy_identity: ProxyIdentity | None = None  # who the proxy in front vouches for, asked first
    sessions: Sessions | None = None  # the dashboard's sign-in sessions; None with auth off


def open_metadata_store(settings: Settings) -> tuple[Database, str | None]:
    """Open the database and make its schema usable (see migrate.prepare_for_serving); seed Default."""
    db = open_database(
        settings.backend_store_uri,
        pool_size=settings.db_pool_size,
        timeout_s=settings.db_timeout_s,
        query_timeout_s=settings.db_query_timeout_s,
    )
    try:
        created = prepare_for_serving(db)
        Experiments(db, settings.artifact_root_for_runs).ensure_default()
    except BaseException:
        db.dispose()
        raise
    return db, created


_SIGNING_PROBE_S = 15.0


def _check_presigned_only(settings: Settings, destination: ArtifactStore | None) -> None:
    """Refuse to start a presigned-only server whose destination cannot sign both ways: it could store
    artifacts and never hand them back."""
    if destination is not None:
        destination.settle_capabilities(_SIGNING_PROBE_S)  # GCS learns whether it signs in a probe
    if destination is None or not (destination.direct_uploads and destination.direct_downloads):
        raise ArtifactLocationError(
            "--artifacts-presigned-only needs an artifacts destination whose credentials sign URLs for "
            "clients (S3; GCS with a service account that may sign; Azure with an account key or a user "
            f"delegation key); {settings.artifacts_destination} cannot"
        )


def _artifacts(settings: Settings, destination: ArtifactStore | None, runs: Runs | None) -> Artifacts:
    roots = ArtifactRoots(destination, settings.cloud)
    return Artifacts(roots, runs, settings.direct_transfers, settings.artifacts_presigned_only)


def assemble(settings: Settings) -> Application:
    """Open the stores the settings name and build the services on them."""
    destination = (
        open_store(settings.artifacts_destination, settings.cloud) if settings.serve_artifacts else None
    )
    if settings.artifacts_presigned_only:
        _check_presigned_only(settings, destination)
    if settings.artifacts_only:
        artifacts = _artifacts(settings, destination, None) if destination is not None else None
        return Application(settings, None, destination, artifacts)
    db, created = open_metadata_store(settings)
    runs = Runs(db)
    artifacts = _artifacts(settings, destination, runs)
    outbox = Outbox()
    secrets = SealedSecrets(settings.webhook_secret_keys)
    # The same keys as webhooks': one setting seals every secret the server keeps.
    gateway = Gateway(db, SealedSecrets(settings.webhook_secret_keys, "AI gateway"))
    services: dict[str, Any] = {
        "experiments": Experiments(db, settings.artifact_root_for_runs),
        "runs": runs,
        "artifacts": artifacts,
        "logged_models": LoggedModels(db, artifacts),
        "registry": Registry(db, artifacts, outbox),
        "evaluation_datasets": EvaluationDatasets(db),
        "scorers": Scorers(db),
        "issues": Issues(db),
        "webhooks": Webhooks(
            db,
            secrets,
            WebhookSettings(settings.webhook_allow_private_addresses, settings.webhook_timeout_s),
        ),
        # Not a route's service: started and stopped with the app's lifespan (http.app).
        "webhook_delivery": DeliveryWorker(
            db,
            outbox,
            secrets,
            DeliverySettings(
                max_attempts=settings.webhook_max_attempts,
                retry_s=settings.webhook_retry_seconds,
                timeout_s=settings.webhook_timeout_s,
                allow_private=settings.webhook_allow_private_addresses,
            ),
        ),
        "traces": Traces(db),
        "assessments": Assessments(db),
        "gateway": gateway,
        "gateway_endpoints": GatewayEndpoints(db, settings.artifact_root_for_runs),
    }
    authenticator, created_admin, proxy = None, None, None
    if settings.auth:
        default = Permission[settings.auth_default_permission.upper()]
        versions = Versions(db)
        try:
            created_admin = ensure_admin(db)
        except BaseException:
            db.dispose()
            raise
        authenticator = Authenticator(db, versions)
        users = Users(db, versions, default)
        services["users"] = users
        proxy = proxy_identity(settings, users, versions)
        sessions = Sessions(db, versions, settings.auth_session_hours * 3600)
        services["signin"] = sign_in(settings, authenticator, sessions, users)
        gate.install(gate.Gate(db, default, versions))
    else:
        sessions = None
        gate.install(None)
    return Application(
        settings, db, destination, artifacts, services, created, authenticator, created_admin, proxy, sessions
    )


def sign_in(settings: Settings, authenticator: Authenticator, sessions: Sessions, users: Users) -> SignIn:
    """The dashboard's ways in: a password, and single sign-on when an issuer is configured."""
    oidc = None
    if settings.auth_oidc_issuer and settings.auth_oidc_client_id:
        oidc = OidcClient(
            OidcSettings(
                issuer=settings.auth_oidc_issuer,
                client_id=settings.auth_oidc_client_id,
                client_secret=settings.auth_oidc_client_secret,
                scopes=settings.auth_oidc_scopes,
                username_claim=settings.auth_oidc_username_claim,
                groups_claim=settings.auth_oidc_groups_claim,
            )
        )
    return SignIn(
        authenticator,
        sessions,
        users,
        password_login=settings.auth_password_login,
        oidc=oidc,
        rules=GroupRules(
            admin=frozenset(settings.auth_oidc_admin_groups),
            allowed=frozenset(settings.auth_oidc_allowed_groups),
        ),
        provider_name=settings.auth_oidc_provider_name,
    )
