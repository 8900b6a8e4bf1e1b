"""scorers and issues

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scorers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=256)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_scorers_experiment_id_experiments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorers")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("scorers", schema=None) as batch_op:
        batch_op.create_index("uq_scorers_experiment_name", ["experiment_id", "name"], unique=True)

    op.create_table(
        "scorer_versions",
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "serialized_scorer",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scorer_id"],
            ["scorers.id"],
            name=op.f("fk_scorer_versions_scorer_id_scorers"),
        ),
        sa.PrimaryKeyConstraint("scorer_id", "version", name=op.f("pk_scorer_versions")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )

    op.create_table(
        "online_scoring_configs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("scorer_id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "sample_rate",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(), "mariadb")
            .with_variant(mysql.DOUBLE(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "filter_string",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_online_scoring_configs_experiment_id_experiments"),
        ),
        sa.ForeignKeyConstraint(
            ["scorer_id"],
            ["scorers.id"],
            name=op.f("fk_online_scoring_configs_scorer_id_scorers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_scoring_configs")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("online_scoring_configs", schema=None) as batch_op:
        batch_op.create_index("uq_online_scoring_configs_scorer", ["scorer_id"], unique=True)

    op.create_table(
        "issues",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "description",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("severity", sa.String(length=50), nullable=True),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column(
            "root_causes",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "categories",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column("source_run_id", sa.String(length=32), nullable=True),
        sa.Column(
            "created_by",
            sa.String(length=255)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=255), "mysql"),
            nullable=True,
        ),
        sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_issues_experiment_id_experiments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issues")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.create_index(
            "ix_issues_experiment_order",
            ["experiment_id", "severity_rank", "created_timestamp", "id"],
            unique=False,
        )
        batch_op.create_index("ix_issues_source_run", ["source_run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index("ix_issues_source_run")
        batch_op.drop_index("ix_issues_experiment_order")

    op.drop_table("issues")
    with op.batch_alter_table("online_scoring_configs", schema=None) as batch_op:
        batch_op.drop_index("uq_online_scoring_configs_scorer")

    op.drop_table("online_scoring_configs")
    op.drop_table("scorer_versions")
    with op.batch_alter_table("scorers", schema=None) as batch_op:
        batch_op.drop_index("uq_scorers_experiment_name")

    op.drop_table("scorers")
