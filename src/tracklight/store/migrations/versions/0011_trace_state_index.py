"""traces: an index for searches by state

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:20:00.000000
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `trace.status = 'ERROR'` newest first: without it a search walks every trace of the experiment
    # by time and keeps one in twenty.
    op.create_index(
        "ix_traces_experiment_state_timestamp", "traces", ["experiment_id", "state", "timestamp_ms", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_traces_experiment_state_timestamp", table_name="traces")
