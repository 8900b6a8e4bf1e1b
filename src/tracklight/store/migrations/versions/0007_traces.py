"""traces

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:46:19.736892
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column(
            "client_request_id",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "request_preview",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "response_preview",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.id"], name=op.f("fk_traces_experiment_id_experiments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.create_index(
            "ix_traces_experiment_timestamp", ["experiment_id", "timestamp_ms", "id"], unique=False
        )

    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(length=128), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column(
            "name",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "type",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mysql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("end_time_unix_nano", sa.BigInteger(), nullable=True),
        sa.Column(
            "content",
            sa.Text()
            .with_variant(mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["trace_id"], ["traces.id"], name=op.f("fk_spans_trace_id_traces")),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name=op.f("pk_spans")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_spans_trace_start", ["trace_id", "start_time_unix_nano", "span_id"], unique=False
        )

    op.create_table(
        "trace_metadata",
        sa.Column("trace_id", sa.String(length=128), nullable=False),
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
        sa.ForeignKeyConstraint(["trace_id"], ["traces.id"], name=op.f("fk_trace_metadata_trace_id_traces")),
        sa.PrimaryKeyConstraint("trace_id", "key", name=op.f("pk_trace_metadata")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "trace_run_links",
        sa.Column("trace_id", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "run_id", name=op.f("pk_trace_run_links")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("trace_run_links", schema=None) as batch_op:
        batch_op.create_index("ix_trace_run_links_run", ["run_id"], unique=False)

    op.create_table(
        "trace_tags",
        sa.Column("trace_id", sa.String(length=128), nullable=False),
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
        sa.ForeignKeyConstraint(["trace_id"], ["traces.id"], name=op.f("fk_trace_tags_trace_id_traces")),
        sa.PrimaryKeyConstraint("trace_id", "key", name=op.f("pk_trace_tags")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )


def downgrade() -> None:
    op.drop_table("trace_tags")
    with op.batch_alter_table("trace_run_links", schema=None) as batch_op:
        batch_op.drop_index("ix_trace_run_links_run")

    op.drop_table("trace_run_links")
    op.drop_table("trace_metadata")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index("ix_spans_trace_start")

    op.drop_table("spans")
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index("ix_traces_experiment_timestamp")

    op.drop_table("traces")
