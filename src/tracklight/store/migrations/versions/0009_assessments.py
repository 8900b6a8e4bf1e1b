"""assessments

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 15:50:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _text() -> sa.types.TypeEngine:
    return (
        sa.Text()
        .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
        .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql")
    )


def _name(length: int) -> sa.types.TypeEngine:
    return (
        sa.String(length=length)
        .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length), "mariadb")
        .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length), "mysql")
    )


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trace_id", sa.String(length=128), nullable=False),
        sa.Column("name", _name(250), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", _text(), nullable=False),
        sa.Column("value", _text(), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", _name(250), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("rationale", _text(), nullable=True),
        sa.Column("metadata", _text(), nullable=True),
        sa.Column("overrides", sa.String(length=64), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("create_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["traces.id"], name=op.f("fk_assessments_trace_id_traces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessments_trace_created", ["trace_id", "create_time_ms", "id"], unique=False
        )
        batch_op.create_index("ix_assessments_kind_name", ["kind", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_assessments_kind_name")
        batch_op.drop_index("ix_assessments_trace_created")

    op.drop_table("assessments")
