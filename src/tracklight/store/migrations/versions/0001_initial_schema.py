"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 22:12:31.636469
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "name",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "artifact_location",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("name", name=op.f("uq_experiments_name")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "metrics",
        sa.Column(
            "series_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("timestamp", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(), "mariadb")
            .with_variant(mysql.DOUBLE(), "mysql"),
            nullable=False,
        ),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "step", "timestamp", "value", "is_nan", name=op.f("pk_metrics")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mysql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=36), nullable=False),
        sa.Column("source_type", sa.String(length=36), nullable=False),
        sa.Column(
            "source",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "schema",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "profile",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name=op.f("fk_datasets_experiment_id_experiments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(
            "uq_datasets_experiment_name_digest", ["experiment_id", "name", "digest"], unique=True
        )

    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "key",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "value",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name=op.f("fk_experiment_tags_experiment_id_experiments")
        ),
        sa.PrimaryKeyConstraint("experiment_id", "key", name=op.f("pk_experiment_tags")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "runs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.String(length=256)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mysql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("lifecycle_stage", sa.String(length=16), nullable=False),
        sa.Column(
            "artifact_uri",
            sa.String(length=1000)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=1000), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=1000), "mysql"),
            nullable=False,
        ),
        sa.Column("deleted_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name=op.f("fk_runs_experiment_id_experiments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("run_uuid", name=op.f("uq_runs_run_uuid")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_runs_experiment_start", ["experiment_id", "lifecycle_stage", "start_time"], unique=False
        )

    op.create_table(
        "metric_series",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "key",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column(
            "value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(), "mariadb")
            .with_variant(mysql.DOUBLE(), "mysql"),
            nullable=False,
        ),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_metric_series_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_series")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("metric_series", schema=None) as batch_op:
        batch_op.create_index("uq_metric_series_run_key", ["run_id", "key"], unique=True)

    op.create_table(
        "params",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "key",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "value",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_params_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_params")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "tags",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "context",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_run_inputs_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_inputs_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "dataset_id", name=op.f("pk_run_inputs")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "run_model_links",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_model_links_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "direction", "model_id", name=op.f("pk_run_model_links")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "key",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "value",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_tags_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_tags")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )


def downgrade() -> None:
    op.drop_table("run_tags")
    op.drop_table("run_model_links")
    op.drop_table("run_inputs")
    op.drop_table("params")
    with op.batch_alter_table("metric_series", schema=None) as batch_op:
        batch_op.drop_index("uq_metric_series_run_key")

    op.drop_table("metric_series")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_experiment_start")

    op.drop_table("runs")
    op.drop_table("experiment_tags")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index("uq_datasets_experiment_name_digest")

    op.drop_table("datasets")
    op.drop_table("metrics")
    op.drop_table("experiments")
