"""Certificate authority: CAs, issued certificates, CRLs, service certificates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("key_hash_sha1", sa.String(length=40), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crl_counter", sa.BigInteger(), nullable=False),
        sa.Column("status_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["cas.id"], name=op.f("fk_cas_parent_id_cas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cas")),
        sa.UniqueConstraint("key_hash_sha1", name=op.f("uq_cas_key_hash_sha1")),
        sa.UniqueConstraint("name", name=op.f("uq_cas_name")),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ca_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("org_uscc", sa.String(length=18), nullable=True),
        sa.Column("key_algorithm", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("invalidity_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["ca_id"], ["cas.id"], name=op.f("fk_certificates_ca_id_cas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("ca_id", "serial", name=op.f("uq_certificates_ca_id_serial")),
    )
    op.create_index(op.f("ix_certificates_ca_id_status"), "certificates", ["ca_id", "status"])
    op.create_index(
        op.f("ix_certificates_ca_id_status_version"), "certificates", ["ca_id", "status_version"]
    )
    op.create_index(op.f("ix_certificates_org_uscc"), "certificates", ["org_uscc"])
    op.create_table(
        "crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ca_id", sa.Integer(), nullable=False),
        sa.Column("crl_number", sa.BigInteger(), nullable=False),
        sa.Column("is_delta", sa.Boolean(), nullable=False),
        sa.Column("base_number", sa.BigInteger(), nullable=True),
        sa.Column("status_version", sa.BigInteger(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["ca_id"], ["cas.id"], name=op.f("fk_crls_ca_id_cas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crls")),
        sa.UniqueConstraint("ca_id", "crl_number", name=op.f("uq_crls_ca_id_crl_number")),
    )
    op.create_index(op.f("ix_crls_ca_id_is_delta_crl_number"), "crls", ["ca_id", "is_delta", "crl_number"])
    op.create_table(
        "ca_service_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ca_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ca_id"], ["cas.id"], name=op.f("fk_ca_service_certificates_ca_id_cas")
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_ca_service_certificates_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ca_service_certificates")),
        sa.UniqueConstraint("ca_id", "role", name=op.f("uq_ca_service_certificates_ca_id_role")),
    )


def downgrade() -> None:
    op.drop_table("ca_service_certificates")
    op.drop_index(op.f("ix_crls_ca_id_is_delta_crl_number"), table_name="crls")
    op.drop_table("crls")
    op.drop_index(op.f("ix_certificates_org_uscc"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_ca_id_status_version"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_ca_id_status"), table_name="certificates")
    op.drop_table("certificates")
    op.drop_table("cas")
