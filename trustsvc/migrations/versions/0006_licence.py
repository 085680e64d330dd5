"""E-licences: issued licences (files, hashes, lifecycle) and the per-(type, issuer) serial counters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "licence_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_counters")),
        sa.UniqueConstraint(
            "type_code", "issuer_code", name=op.f("uq_licence_counters_type_code_issuer_code")
        ),
    )
    op.create_table(
        "licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=128), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column("issuer_name", sa.String(length=200), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_code", sa.String(length=32), nullable=False),
        sa.Column("holder_code_type", sa.String(length=3), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("request_sm3", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revocation_kind", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("es_id", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sm3", sa.String(length=64), nullable=False),
        sa.Column("ofd", sa.LargeBinary(), nullable=False),
        sa.Column("ofd_sm3", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('valid', 'revoked')", name=op.f("ck_licences_status")),
        sa.CheckConstraint("version BETWEEN 1 AND 999", name=op.f("ck_licences_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint("identifier", name=op.f("uq_licences_identifier")),
        sa.UniqueConstraint("system", "case_id", "version", name=op.f("uq_licences_system_case_id_version")),
        sa.UniqueConstraint(
            "type_code",
            "issuer_code",
            "serial",
            "version",
            name=op.f("uq_licences_type_code_issuer_code_serial_version"),
        ),
    )
    op.create_index(op.f("ix_licences_holder_code"), "licences", ["holder_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_licences_holder_code"), table_name="licences")
    op.drop_table("licences")
    op.drop_table("licence_counters")
