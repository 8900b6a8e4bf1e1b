"""trace_tags: the trace's experiment and time, and a value prefix, under an index for tag searches

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:20:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trace_tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experiment_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("timestamp_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "value_prefix",
                sa.String(length=64)
                .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=64), "mariadb")
                .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=64), "mysql"),
                nullable=True,
            )
        )
    # Tags written before this revision get what the server now writes with every tag.
    op.execute(
        "UPDATE trace_tags SET"
        " experiment_id = (SELECT t.experiment_id FROM traces t WHERE t.id = trace_tags.trace_id),"
        " timestamp_ms = (SELECT t.timestamp_ms FROM traces t WHERE t.id = trace_tags.trace_id),"
        " value_prefix = SUBSTR(value, 1, 64)"
    )
    with op.batch_alter_table("trace_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trace_tags_search",
            ["experiment_id", "key", "value_prefix", "timestamp_ms", sa.text("trace_id DESC")],
        )


def downgrade() -> None:
    with op.batch_alter_table("trace_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_trace_tags_search")
        batch_op.drop_column("value_prefix")
        batch_op.drop_column("timestamp_ms")
        batch_op.drop_column("experiment_id")
