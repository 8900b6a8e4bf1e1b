"""AI gateway configuration: secrets, model definitions, endpoints, their models, bindings and tags

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:45:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _name(length: int) -> sa.types.TypeEngine:
    return (
        sa.String(length=length)
        .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length), "mariadb")
        .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length), "mysql")
    )


def _text() -> sa.types.TypeEngine:
    return (
        sa.Text()
        .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mariadb")
        .with_variant(mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql")
    )


def _double() -> sa.types.TypeEngine:
    return (
        sa.Float(precision=53).with_variant(mysql.DOUBLE(), "mariadb").with_variant(mysql.DOUBLE(), "mysql")
    )


def _audit() -> list[sa.Column]:
    return [
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    ]


_TABLE = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "gateway_secrets",
        sa.Column("secret_id", sa.String(length=64), nullable=False),
        sa.Column("name", _name(255), nullable=False),
        sa.Column("sealed_value", sa.Text(), nullable=False),
        sa.Column("masked_value", _text(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("auth_config", _text(), nullable=True),
        *_audit(),
        sa.PrimaryKeyConstraint("secret_id", name=op.f("pk_gateway_secrets")),
        sa.UniqueConstraint("name", name=op.f("uq_gateway_secrets_name")),
        **_TABLE,
    )
    op.create_table(
        "gateway_model_definitions",
        sa.Column("model_definition_id", sa.String(length=64), nullable=False),
        sa.Column("name", _name(255), nullable=False),
        sa.Column("secret_id", sa.String(length=64), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model_name", _name(256), nullable=False),
        *_audit(),
        sa.ForeignKeyConstraint(
            ["secret_id"],
            ["gateway_secrets.secret_id"],
            name=op.f("fk_gateway_model_definitions_secret_id_gateway_secrets"),
        ),
        sa.PrimaryKeyConstraint("model_definition_id", name=op.f("pk_gateway_model_definitions")),
        sa.UniqueConstraint("name", name=op.f("uq_gateway_model_definitions_name")),
        **_TABLE,
    )
    with op.batch_alter_table("gateway_model_definitions", schema=None) as batch_op:
        batch_op.create_index("ix_gateway_model_definitions_secret_id", ["secret_id"], unique=False)

    op.create_table(
        "gateway_endpoints",
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("name", _name(255), nullable=False),
        sa.Column("routing_strategy", sa.String(length=64), nullable=True),
        sa.Column("fallback_config", sa.Text(), nullable=True),
        sa.Column("experiment_id", sa.BigInteger(), nullable=True),
        sa.Column("usage_tracking", sa.Boolean(), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("endpoint_id", name=op.f("pk_gateway_endpoints")),
        sa.UniqueConstraint("name", name=op.f("uq_gateway_endpoints_name")),
        **_TABLE,
    )
    op.create_table(
        "gateway_endpoint_models",
        sa.Column("mapping_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("model_definition_id", sa.String(length=64), nullable=False),
        sa.Column("linkage_type", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("weight", _double(), nullable=False),
        sa.Column("fallback_order", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway_endpoints.endpoint_id"],
            name=op.f("fk_gateway_endpoint_models_endpoint_id_gateway_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["model_definition_id"],
            ["gateway_model_definitions.model_definition_id"],
            name=op.f("fk_gateway_endpoint_models_model_definition_id_gateway_model_definitions"),
        ),
        sa.PrimaryKeyConstraint("mapping_id", name=op.f("pk_gateway_endpoint_models")),
        **_TABLE,
    )
    with op.batch_alter_table("gateway_endpoint_models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gateway_endpoint_models_linkage",
            ["endpoint_id", "model_definition_id", "linkage_type"],
            unique=True,
        )
        batch_op.create_index(
            "ix_gateway_endpoint_models_model_definition_id", ["model_definition_id"], unique=False
        )

    op.create_table(
        "gateway_endpoint_bindings",
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=50), nullable=False),
        sa.Column("resource_id", _name(255), nullable=False),
        sa.Column("display_name", _name(255), nullable=True),
        *_audit(),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway_endpoints.endpoint_id"],
            name=op.f("fk_gateway_endpoint_bindings_endpoint_id_gateway_endpoints"),
        ),
        sa.PrimaryKeyConstraint(
            "endpoint_id", "resource_type", "resource_id", name=op.f("pk_gateway_endpoint_bindings")
        ),
        **_TABLE,
    )
    with op.batch_alter_table("gateway_endpoint_bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gateway_endpoint_bindings_resource", ["resource_type", "resource_id"], unique=False
        )

    op.create_table(
        "gateway_endpoint_tags",
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column(
            "key",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column("value", _text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["gateway_endpoints.endpoint_id"],
            name=op.f("fk_gateway_endpoint_tags_endpoint_id_gateway_endpoints"),
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "key", name=op.f("pk_gateway_endpoint_tags")),
        **_TABLE,
    )


def downgrade() -> None:
    op.drop_table("gateway_endpoint_tags")
    with op.batch_alter_table("gateway_endpoint_bindings", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_endpoint_bindings_resource")
    op.drop_table("gateway_endpoint_bindings")
    with op.batch_alter_table("gateway_endpoint_models", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_endpoint_models_model_definition_id")
        batch_op.drop_index("ix_gateway_endpoint_models_linkage")
    op.drop_table("gateway_endpoint_models")
    op.drop_table("gateway_endpoints")
    with op.batch_alter_table("gateway_model_definitions", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_model_definitions_secret_id")
    op.drop_table("gateway_model_definitions")
    op.drop_table("gateway_secrets")
