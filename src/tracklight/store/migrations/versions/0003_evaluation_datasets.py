"""evaluation datasets

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 04:10:50.384039
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_datasets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "name",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mysql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
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
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_by",
            sa.String(length=256)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "last_updated_by",
            sa.String(length=256)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mysql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_datasets")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("evaluation_datasets", schema=None) as batch_op:
        batch_op.create_index("ix_evaluation_datasets_created_time", ["created_time"], unique=False)
        batch_op.create_index("ix_evaluation_datasets_name", ["name"], unique=False)

    op.create_table(
        "evaluation_dataset_experiments",
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["evaluation_datasets.id"],
            name=op.f("fk_evaluation_dataset_experiments_dataset_id_evaluation_datasets"),
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_evaluation_dataset_experiments_experiment_id_experiments"),
        ),
        sa.PrimaryKeyConstraint(
            "dataset_id", "experiment_id", name=op.f("pk_evaluation_dataset_experiments")
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("evaluation_dataset_experiments", schema=None) as batch_op:
        batch_op.create_index("ix_evaluation_dataset_experiments_experiment", ["experiment_id"], unique=False)

    op.create_table(
        "evaluation_dataset_records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "inputs",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "outputs",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "expectations",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "source",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql"),
            nullable=True,
        ),
        sa.Column("source_type", sa.String(length=16), nullable=True),
        sa.Column(
            "source_id",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=500), "mysql"),
            nullable=True,
        ),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_by",
            sa.String(length=256)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "last_updated_by",
            sa.String(length=256)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=256), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["evaluation_datasets.id"],
            name=op.f("fk_evaluation_dataset_records_dataset_id_evaluation_datasets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_dataset_records")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("evaluation_dataset_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_dataset_records_dataset_created",
            ["dataset_id", "created_time", "id"],
            unique=False,
        )
        batch_op.create_index(
            "uq_evaluation_dataset_records_dataset_input", ["dataset_id", "input_hash"], unique=True
        )

    op.create_table(
        "evaluation_dataset_tags",
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
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
            ["dataset_id"],
            ["evaluation_datasets.id"],
            name=op.f("fk_evaluation_dataset_tags_dataset_id_evaluation_datasets"),
        ),
        sa.PrimaryKeyConstraint("dataset_id", "key", name=op.f("pk_evaluation_dataset_tags")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )


def downgrade() -> None:
    op.drop_table("evaluation_dataset_tags")
    with op.batch_alter_table("evaluation_dataset_records", schema=None) as batch_op:
        batch_op.drop_index("uq_evaluation_dataset_records_dataset_input")
        batch_op.drop_index("ix_evaluation_dataset_records_dataset_created")

    op.drop_table("evaluation_dataset_records")
    with op.batch_alter_table("evaluation_dataset_experiments", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_dataset_experiments_experiment")

    op.drop_table("evaluation_dataset_experiments")
    with op.batch_alter_table("evaluation_datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_datasets_name")
        batch_op.drop_index("ix_evaluation_datasets_created_time")

    op.drop_table("evaluation_datasets")
