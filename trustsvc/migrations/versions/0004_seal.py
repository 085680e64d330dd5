"""Seal registry: seals, seal versions, signers, grants, status events, esID counter.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("es_id", sa.String(length=32), nullable=False),
        sa.Column("org_uscc", sa.String(length=18), nullable=False),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("valid_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cert_list_type", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seal_der", sa.LargeBinary(), nullable=False),
        sa.Column("seal_sm3", sa.String(length=64), nullable=False),
        sa.Column("maker_ca", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seals")),
        sa.UniqueConstraint("es_id", name=op.f("uq_seals_es_id")),
    )
    op.create_index(op.f("ix_seals_org_uscc_kind"), "seals", ["org_uscc", "kind"])
    op.create_table(
        "seal_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("seal_der", sa.LargeBinary(), nullable=False),
        sa.Column("seal_sm3", sa.String(length=64), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_seal_versions_seal_id_seals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_versions")),
        sa.UniqueConstraint("seal_id", "version", name=op.f("uq_seal_versions_seal_id_version")),
        sa.UniqueConstraint("seal_sm3", name=op.f("uq_seal_versions_seal_sm3")),
    )
    op.create_table(
        "seal_signers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("cert_sm3", sa.String(length=64), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_seal_signers_seal_id_seals")),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_seal_signers_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_signers")),
        sa.UniqueConstraint("seal_id", "cert_sm3", name=op.f("uq_seal_signers_seal_id_cert_sm3")),
    )
    op.create_table(
        "seal_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_seal_grants_seal_id_seals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_grants")),
        sa.UniqueConstraint(
            "seal_id", "principal", "role", name=op.f("uq_seal_grants_seal_id_principal_role")
        ),
    )
    op.create_index(op.f("ix_seal_grants_principal"), "seal_grants", ["principal"])
    op.create_table(
        "seal_status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["seals.id"], name=op.f("fk_seal_status_events_seal_id_seals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_status_events")),
    )
    op.create_index(op.f("ix_seal_status_events_seal_id_at"), "seal_status_events", ["seal_id", "at"])
    op.create_table(
        "seal_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_seal_counter_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_counter")),
    )
    op.execute(sa.text("INSERT INTO seal_counter (id, last_serial) VALUES (1, 0)"))


def downgrade() -> None:
    op.drop_table("seal_counter")
    op.drop_index(op.f("ix_seal_status_events_seal_id_at"), table_name="seal_status_events")
    op.drop_table("seal_status_events")
    op.drop_index(op.f("ix_seal_grants_principal"), table_name="seal_grants")
    op.drop_table("seal_grants")
    op.drop_table("seal_signers")
    op.drop_table("seal_versions")
    op.drop_index(op.f("ix_seals_org_uscc_kind"), table_name="seals")
    op.drop_table("seals")
