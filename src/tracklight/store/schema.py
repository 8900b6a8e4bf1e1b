"""SQL schema of the metadata store, as SQLAlchemy Core tables.

Metric points are the bulk of every deployment, so they get the narrowest rows we can give them:
an integer series id (one series per run and key) plus step, timestamp and value. The series row
also holds the latest point, which is what search filters and orders by.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only turns INTEGER PRIMARY KEY into a rowid alias; BIGINT would lose autoincrement there.
IntId = BigInteger().with_variant(Integer(), "sqlite")
# MySQL's FLOAT is single precision; metric values are doubles everywhere.
Double = Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
# Keys are compared byte for byte, as MLflow does (LIKE is case-sensitive even on SQLite).
Key = String(250).with_variant(
    mysql.VARCHAR(250, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


def _text(length: int) -> Text:
    return Text().with_variant(
        mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def _name(length: int) -> String:
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


experiments = Table(
    "experiments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", _name(500), nullable=False, unique=True),
    Column("artifact_location", _text(2000), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(20000), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), nullable=False, unique=True),
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("name", _name(250), nullable=False),
    Column("user_id", _name(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("artifact_uri", _name(1000), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "lifecycle_stage", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", IntId, ForeignKey("runs.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(6000), nullable=False),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", IntId, ForeignKey("runs.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(8000), nullable=False),
)

metric_series = Table(
    "metric_series",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("run_id", IntId, ForeignKey("runs.id"), nullable=False),
    Column("key", Key, nullable=False),
    # The latest point: the largest (step, timestamp, value), as MLflow defines it.
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Index("uq_metric_series_run_key", "run_id", "key", unique=True),
)

# NaN is stored as value 0 with is_nan set: SQLite turns NaN into NULL and MySQL rejects it.
# The whole row is the primary key, which de-duplicates identical points and, on SQLite
# (WITHOUT ROWID) and InnoDB, makes the table its own clustered index.
metrics = Table(
    "metrics",
    metadata,
    Column("series_id", IntId, primary_key=True, autoincrement=False),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Double, primary_key=True),
    Column("is_nan", Boolean, primary_key=True),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("name", _name(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", _text(65535), nullable=False),
    Column("schema", _text(1048575), nullable=True),
    Column("profile", _text(16777215), nullable=True),
    Index("uq_datasets_experiment_name_digest", "experiment_id", "name", "digest", unique=True),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", IntId, ForeignKey("runs.id"), primary_key=True),
    Column("dataset_id", IntId, ForeignKey("datasets.id"), primary_key=True),
    # The input tags, as a JSON list of {key, value}; mlflow.data.context is copied out for search.
    Column("tags", _text(65535), nullable=False),
    Column("context", _name(500), nullable=True),
)

run_model_links = Table(
    "run_model_links",
    metadata,
    Column("run_id", IntId, ForeignKey("runs.id"), primary_key=True),
    Column("direction", String(8), primary_key=True),  # "input" or "output"
    Column("model_id", String(64), primary_key=True),
    Column("step", BigInteger, nullable=True),
)

# -- MLflow 3 logged models ---------------------------------------------------------------------------

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", String(64), primary_key=True),  # "m-<32 hex>", as the client expects
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("name", _name(500), nullable=False),
    Column("model_type", _name(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", _text(1000), nullable=True),
    Column("artifact_uri", _name(1000), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index("ix_logged_models_experiment_created", "experiment_id", "creation_time"),
    Index("ix_logged_models_source_run", "source_run_id"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", String(64), ForeignKey("logged_models.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(6000), nullable=False),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", String(64), ForeignKey("logged_models.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(8000), nullable=False),
)

# Metrics logged with a model_id (and optionally the dataset they were computed on). The run's own
# history keeps the point too; this table is what a logged model's data.metrics and searches read.
# '' stands for "no dataset", so the key can stay NOT NULL on every backend; the digest identifies the
# dataset in the key (a name would push the key past InnoDB's 3072 bytes).
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_id", String(64), ForeignKey("logged_models.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("dataset_name", _name(500), nullable=False),
    Column("dataset_digest", String(36), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
)

# -- model registry ---------------------------------------------------------------------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("name", _name(256), nullable=False, unique=True),
    Column("description", _text(5000), nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # The highest version number ever handed out. Incremented under the row's lock, so concurrent
    # creators (several replicas included) get consecutive numbers, and a deleted number never returns.
    Column("last_version", Integer, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("registered_model_id", IntId, ForeignKey("registered_models.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(5000), nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("registered_model_id", IntId, ForeignKey("registered_models.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", _text(5000), nullable=True),
    Column("user_id", _name(256), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", _text(500), nullable=False),
    Column("storage_location", _text(500), nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("run_link", _text(500), nullable=True),
    Column("model_id", String(64), nullable=True),
    Column("status", String(20), nullable=False),
    Column("status_message", _text(500), nullable=True),
    Index("ix_model_versions_run", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("registered_model_id", IntId, primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("key", Key, primary_key=True),
    Column("value", _text(5000), nullable=False),
    ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("registered_model_id", IntId, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", _name(256), primary_key=True),
    Column("version", Integer, nullable=False),
)

# -- MLflow 3 evaluation datasets -----------------------------------------------------------------------

evaluation_datasets = Table(
    "evaluation_datasets",
    metadata,
    Column("id", String(64), primary_key=True),  # "d-<32 hex>", as the client expects
    Column("name", _name(500), nullable=False),
    # Changes with every records upsert, so a run input naming the dataset pins one state of it.
    Column("digest", String(64), nullable=False),
    # JSON: field name -> inferred type for inputs, outputs and expectations; NULL until records arrive.
    Column("schema", _text(1048575), nullable=True),
    Column("profile", _text(65535), nullable=True),  # JSON: {"num_records": n}; NULL when empty
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", _name(256), nullable=True),
    Column("last_updated_by", _name(256), nullable=True),
    Index("ix_evaluation_datasets_created_time", "created_time"),
    Index("ix_evaluation_datasets_name", "name"),
)

evaluation_dataset_tags = Table(
    "evaluation_dataset_tags",
    metadata,
    Column("dataset_id", String(64), ForeignKey("evaluation_datasets.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(5000), nullable=False),
)

evaluation_dataset_experiments = Table(
    "evaluation_dataset_experiments",
    metadata,
    Column("dataset_id", String(64), ForeignKey("evaluation_datasets.id"), primary_key=True),
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), primary_key=True),
    Index("ix_evaluation_dataset_experiments_experiment", "experiment_id"),
)

# One row per distinct inputs: input_hash (SHA-256 of the canonical inputs JSON) is what an upsert
# matches on. The JSON columns hold the client's values as JSON text; outputs NULL means None.
evaluation_dataset_records = Table(
    "evaluation_dataset_records",
    metadata,
    Column("id", String(64), primary_key=True),  # "dr-<32 hex>"
    Column("dataset_id", String(64), ForeignKey("evaluation_datasets.id"), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("inputs", _text(16777215), nullable=False),
    Column("outputs", _text(16777215), nullable=True),
    Column("expectations", _text(16777215), nullable=True),
    Column("tags", _text(65535), nullable=True),
    Column("source", _text(65535), nullable=True),
    Column("source_type", String(16), nullable=True),
    Column("source_id", _name(500), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", _name(256), nullable=True),
    Column("last_updated_by", _name(256), nullable=True),
    Index("uq_evaluation_dataset_records_dataset_input", "dataset_id", "input_hash", unique=True),
    # The records listing pages in (created_time, id) order within a dataset.
    Index("ix_evaluation_dataset_records_dataset_created", "dataset_id", "created_time", "id"),
)

# -- MLflow 3 registered scorers -------------------------------------------------------------------------

# One row per (experiment, name); the row stays when its versions are deleted one by one, so the scorer
# keeps its id (and online configuration), as in the reference. Deleting all versions at once removes it.
scorers = Table(
    "scorers",
    metadata,
    Column("id", String(36), primary_key=True),  # a UUID string, as the client expects
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("name", _name(256), nullable=False),
    Index("uq_scorers_experiment_name", "experiment_id", "name", unique=True),
)

scorer_versions = Table(
    "scorer_versions",
    metadata,
    Column("scorer_id", String(36), ForeignKey("scorers.id"), primary_key=True),
    # The highest existing version + 1, computed under the scorer row's lock.
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("serialized_scorer", _text(16777215), nullable=False),  # the client's JSON, kept verbatim
    Column("creation_time", BigInteger, nullable=False),
)

# At most one per scorer (each upsert replaces it). Online scoring needs an AI gateway, which Tracklight
# does not have: the configuration is kept for the client and the UI, and only a stopped one (sample
# rate 0) is accepted, as the reference accepts for a scorer without a gateway model.
online_scoring_configs = Table(
    "online_scoring_configs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("scorer_id", String(36), ForeignKey("scorers.id"), nullable=False),
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("sample_rate", Double, nullable=False),
    Column("filter_string", _text(65535), nullable=True),
    Index("uq_online_scoring_configs_scorer", "scorer_id", unique=True),
)

# -- MLflow 3 issues ---------------------------------------------------------------------------------------

issues = Table(
    "issues",
    metadata,
    Column("id", String(36), primary_key=True),  # "iss-<32 hex>"
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("name", _name(250), nullable=False),
    Column("description", _text(65535), nullable=False),
    Column("status", String(50), nullable=False),
    Column("severity", String(50), nullable=True),
    # The severity's rank (-1 when unset), which searches order by first: highest severity first.
    Column("severity_rank", Integer, nullable=False),
    Column("root_causes", _text(65535), nullable=True),  # JSON list of strings; NULL when empty
    Column("categories", _text(65535), nullable=True),  # JSON list of strings; NULL when empty
    Column("source_run_id", String(32), nullable=True),
    Column("created_by", _name(255), nullable=True),
    Column("created_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    # A search pages through one experiment in (severity, creation time, id) order, newest first.
    Index("ix_issues_experiment_order", "experiment_id", "severity_rank", "created_timestamp", "id"),
    Index("ix_issues_source_run", "source_run_id"),
)

# -- MLflow 3 traces ------------------------------------------------------------------------------------

# One row per trace (MLflow's trace_info). The state is the v3 name (OK, ERROR, IN_PROGRESS,
# STATE_UNSPECIFIED); the v2 API's status names are the same words. Previews are what the client
# sent, or the root span's inputs and outputs cut short when only spans arrived.
traces = Table(
    "traces",
    metadata,
    Column("id", String(128), primary_key=True),  # "tr-<32 hex>" from the client, or any id it chose
    Column("experiment_id", BigInteger, ForeignKey("experiments.id"), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger, nullable=True),
    Column("state", String(32), nullable=False),
    Column("client_request_id", _name(250), nullable=True),
    Column("request_preview", _text(65535), nullable=True),
    Column("response_preview", _text(65535), nullable=True),
    # Searches list an experiment's traces newest first, with the id as the tie-break.
    Index("ix_traces_experiment_timestamp", "experiment_id", "timestamp_ms", "id"),
    # A filter on the state (`trace.status = 'ERROR'`) reads only the matching traces, in time order.
    Index("ix_traces_experiment_state_timestamp", "experiment_id", "state", "timestamp_ms", "id"),
)

# How much of a tag's value the search index holds: values run to 8,000 characters, beyond what a
# PostgreSQL b-tree entry or a MySQL index key can take.
TAG_VALUE_PREFIX = 64

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_id", String(128), ForeignKey("traces.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(8000), nullable=False),
    # Copies of the trace's experiment and start time, and the value's first TAG_VALUE_PREFIX
    # characters, so that `tag.k = 'v'` finds an experiment's matching traces newest first in one
    # index range, instead of probing every trace by time until a page is full (store.traces keeps
    # them in step with the trace).
    Column("experiment_id", BigInteger, nullable=True),
    Column("timestamp_ms", BigInteger, nullable=True),
    Column(
        "value_prefix",
        String(TAG_VALUE_PREFIX).with_variant(
            mysql.VARCHAR(TAG_VALUE_PREFIX, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
        ),
        nullable=True,
    ),
)
# The id descending: read backwards, the newest traces come first with ids ascending among equal times,
# the order searches list them in, with no sort.
Index(
    "ix_trace_tags_search",
    trace_tags.c.experiment_id,
    trace_tags.c.key,
    trace_tags.c.value_prefix,
    trace_tags.c.timestamp_ms,
    trace_tags.c.trace_id.desc(),
)

trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_id", String(128), ForeignKey("traces.id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(8000), nullable=False),
)

# Spans as MLflow 3.4+ keeps them in the tracking store: the columns searches filter on, and the span
# itself as JSON (`content`, in the form of the client's traces.json entries) served verbatim.
spans = Table(
    "spans",
    metadata,
    Column("trace_id", String(128), ForeignKey("traces.id"), primary_key=True),
    Column("span_id", String(16), primary_key=True),  # 16 hex digits
    Column("parent_span_id", String(16), nullable=True),
    Column("name", _text(65535), nullable=True),
    Column("type", _name(500), nullable=True),
    Column("status", String(32), nullable=False),  # OK, ERROR or UNSET
    Column("start_time_unix_nano", BigInteger, nullable=False),
    Column("end_time_unix_nano", BigInteger, nullable=True),
    # LONGTEXT on MySQL: one span's inputs and outputs can pass MEDIUMTEXT's 16 MiB.
    Column(
        "content",
        Text().with_variant(mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"),
        nullable=False,
    ),
    # A trace's spans are read root first, then by start time (see store.traces.span_page).
    Index("ix_spans_trace_start", "trace_id", "start_time_unix_nano", "span_id"),
)

# Traces linked to runs (MLflow's entity associations of type trace -> run). No foreign key to traces:
# the client links a trace as soon as it ends, often before its asynchronous export has reached us.
trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("trace_id", String(128), primary_key=True),
    Column("run_id", String(32), primary_key=True),
    Index("ix_trace_run_links_run", "run_id"),
)

# Feedback, expectations and issue references attached to a trace (MLflow's assessments). `kind` says
# which of the three `body` holds: the JSON of that part of the wire message, kept as the client sent it.
# An assessment that overrides another points at it, and the other is then no longer valid.
assessments = Table(
    "assessments",
    metadata,
    Column("id", String(64), primary_key=True),  # "a-<32 hex>", made here
    Column("trace_id", String(128), ForeignKey("traces.id"), nullable=False),
    Column("name", Key, nullable=False),
    Column("kind", String(16), nullable=False),  # feedback, expectation or issue
    Column("body", _text(65535), nullable=False),
    # The feedback's or expectation's value as JSON, as trace searches compare it (`feedback.x = 'yes'`).
    Column("value", _text(65535), nullable=True),
    Column("source_type", String(32), nullable=False),
    Column("source_id", _name(250), nullable=True),
    Column("span_id", String(16), nullable=True),
    Column("rationale", _text(65535), nullable=True),
    Column("metadata", _text(65535), nullable=True),  # a JSON object of strings
    Column("overrides", String(64), nullable=True),
    Column("valid", Boolean, nullable=False),
    Column("create_time_ms", BigInteger, nullable=False),
    Column("last_update_time_ms", BigInteger, nullable=False),
    # A trace's assessments are read in the order they were made.
    Index("ix_assessments_trace_created", "trace_id", "create_time_ms", "id"),
    # Issues count their traces through the assessments that reference them.
    Index("ix_assessments_kind_name", "kind", "name"),
)

# -- authentication and permissions ------------------------------------------------------------------

auth_users = Table(
    "auth_users",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("username", _name(256), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # argon2id, in its own PHC string format
    Column("is_admin", Boolean, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    # Bumped by every change that must reach cached verdicts on all replicas: password, admin flag,
    # grants, token revocation. Replicas re-read it every couple of seconds.
    Column("auth_version", BigInteger, nullable=False),
)

auth_permissions = Table(
    "auth_permissions",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("user_id", IntId, ForeignKey("auth_users.id"), nullable=False),
    Column("resource_type", String(32), nullable=False),  # experiment | registered_model
    Column("resource_id", _name(256), nullable=False),  # an experiment id, or a registered model's name
    Column("permission", String(32), nullable=False),
    Index("uq_auth_permissions_grant", "user_id", "resource_type", "resource_id", unique=True),
    # Renames and deletions of a resource touch every user's grant on it.
    Index("ix_auth_permissions_resource", "resource_type", "resource_id"),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("user_id", IntId, ForeignKey("auth_users.id"), nullable=False),
    Column("name", _name(256), nullable=False),
    # SHA-256 of the whole token, hex: the lookup key; the token itself is never stored.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),  # the token's first characters, to tell tokens apart
    Column("created_time", BigInteger, nullable=False),
    Column("expires_time", BigInteger, nullable=True),
    Column("last_used_time", BigInteger, nullable=True),
    Column("revoked_time", BigInteger, nullable=True),
    Index("ix_auth_tokens_user", "user_id"),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("user_id", IntId, ForeignKey("auth_users.id"), nullable=False),
    # SHA-256 of the browser cookie's secret, hex: the lookup key; the secret itself is never stored.
    Column("secret_hash", String(64), nullable=False, unique=True),
    # What the session rests on, as it was at sign-in: a new password (SHA-256 of the user's password
    # hash) or another admin flag ends it, on every replica, once the user's auth_version moves.
    Column("credential_hash", String(64), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("method", String(16), nullable=False),  # how the user signed in: password | oidc
    Column("created_time", BigInteger, nullable=False),
    Column("expires_time", BigInteger, nullable=False),
    Index("ix_auth_sessions_user", "user_id"),
    Index("ix_auth_sessions_expires", "expires_time"),  # expired sessions are swept by this
)

# -- registry webhooks ----------------------------------------------------------------------------

webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("name", _name(256), nullable=False),
    Column("description", String(1000), nullable=True),
    Column("url", String(500), nullable=False),
    Column("status", String(20), nullable=False),  # ACTIVE | DISABLED
    # The HMAC secret as a Fernet token (tracklight.services.sealed_secrets); never stored in clear.
    Column("secret", Text, nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # The listing pages in (creation_time, webhook_id) order, newest first.
    Index("ix_webhooks_created", "creation_time", "webhook_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id"), primary_key=True),
    Column("entity", String(50), primary_key=True),  # as MLflow stores them: registered_model, ...
    Column("action", String(50), primary_key=True),  # created, set, deleted, ...
    # A registry change looks up the webhooks subscribed to its event.
    Index("ix_webhook_events_event", "entity", "action"),
)

# The outbox: one row per (event, subscribed webhook), written in the transaction of the change itself,
# sent later by a delivery worker of any replica (tracklight.services.webhook_delivery).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", IntId, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.webhook_id"), nullable=False),
    Column("delivery_id", String(36), nullable=False, unique=True),  # X-MLflow-Delivery-Id, kept on retries
    Column("entity", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    Column("payload", _text(65535), nullable=False),  # the event's data object, as JSON
    Column("event_time", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_time", BigInteger, nullable=False),
    # Who is sending it now, and until when the claim holds: a crashed replica's claim runs out.
    Column("claimed_by", String(64), nullable=True),
    Column("claim_expires_time", BigInteger, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(1000), nullable=True),
    Column("finished_time", BigInteger, nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_time"),
    Index("ix_webhook_deliveries_webhook", "webhook_id"),
)

# -- AI gateway configuration (stored only: Tracklight does not proxy LLM calls) --------------------

gateway_secrets = Table(
    "gateway_secrets",
    metadata,
    Column("secret_id", String(64), primary_key=True),  # "s-<32 hex>", made here
    Column("name", _name(255), nullable=False, unique=True),
    # The credentials (a JSON object of strings) as a Fernet token (tracklight.services.sealed_secrets);
    # never stored in clear. What answers show instead is the masked form beside it.
    Column("sealed_value", Text, nullable=False),
    Column("masked_value", _text(65535), nullable=False),  # JSON object: key -> "abc...wxyz"
    Column("provider", String(64), nullable=True),
    Column("auth_config", _text(65535), nullable=True),  # JSON object, not secret (region, api_base)
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
)

gateway_model_definitions = Table(
    "gateway_model_definitions",
    metadata,
    Column("model_definition_id", String(64), primary_key=True),  # "d-<32 hex>"
    Column("name", _name(255), nullable=False, unique=True),
    # NULL once its secret is deleted: the definition stays, orphaned, as in MLflow.
    Column("secret_id", String(64), ForeignKey("gateway_secrets.secret_id"), nullable=True),
    Column("provider", String(64), nullable=False),
    Column("model_name", _name(256), nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
    Index("ix_gateway_model_definitions_secret_id", "secret_id"),
)

gateway_endpoints = Table(
    "gateway_endpoints",
    metadata,
    Column("endpoint_id", String(64), primary_key=True),  # "e-<32 hex>"
    Column("name", _name(255), nullable=False, unique=True),
    Column("routing_strategy", String(64), nullable=True),
    Column("fallback_config", Text, nullable=True),  # JSON {"strategy", "max_attempts"}; NULL: none
    # Where the gateway would log traces; not a foreign key, so purging an experiment leaves it dangling
    # as MLflow's SET NULL would leave it empty.
    Column("experiment_id", BigInteger, nullable=True),
    Column("usage_tracking", Boolean, nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
)

gateway_endpoint_models = Table(
    "gateway_endpoint_models",
    metadata,
    Column("mapping_id", String(64), primary_key=True),  # "m-<32 hex>"
    Column("endpoint_id", String(64), ForeignKey("gateway_endpoints.endpoint_id"), nullable=False),
    Column(
        "model_definition_id",
        String(64),
        ForeignKey("gateway_model_definitions.model_definition_id"),
        nullable=False,
    ),
    Column("linkage_type", String(16), nullable=False),  # PRIMARY | FALLBACK
    Column("position", Integer, nullable=False),  # the order the endpoint's models were given in
    Column("weight", Double, nullable=False),
    Column("fallback_order", Integer, nullable=True),
    Column("created_by", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # A model definition is attached to an endpoint once per kind of linkage.
    Index(
        "ix_gateway_endpoint_models_linkage",
        "endpoint_id",
        "model_definition_id",
        "linkage_type",
        unique=True,
    ),
    # Deleting a model definition asks whether an endpoint still uses it.
    Index("ix_gateway_endpoint_models_model_definition_id", "model_definition_id"),
)

gateway_endpoint_bindings = Table(
    "gateway_endpoint_bindings",
    metadata,
    Column("endpoint_id", String(64), ForeignKey("gateway_endpoints.endpoint_id"), primary_key=True),
    Column("resource_type", String(50), primary_key=True),
    Column("resource_id", _name(255), primary_key=True),
    Column("display_name", _name(255), nullable=True),
    Column("created_by", String(255), nullable=True),
    Column("last_updated_by", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_updated_at", BigInteger, nullable=False),
    # Bindings are listed by resource as well as by endpoint.
    Index("ix_gateway_endpoint_bindings_resource", "resource_type", "resource_id"),
)

gateway_endpoint_tags = Table(
    "gateway_endpoint_tags",
    metadata,
    Column("endpoint_id", String(64), ForeignKey("gateway_endpoints.endpoint_id"), primary_key=True),
    Column("key", Key, primary_key=True),
    Column("value", _text(5000), nullable=True),
)

for _table in metadata.tables.values():
    _table.dialect_options["mysql"]["charset"] = "utf8mb4"
    _table.dialect_options["mysql"]["engine"] = "InnoDB"
