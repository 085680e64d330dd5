"""Trust lists: our published issues, imported lists of other territories and their entries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trust_list_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hierarchy", sa.String(length=16), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signer_certificate_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["signer_certificate_id"],
            ["certificates.id"],
            name=op.f("fk_trust_list_publications_signer_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_list_publications")),
        sa.UniqueConstraint(
            "sequence", "hierarchy", name=op.f("uq_trust_list_publications_sequence_hierarchy")
        ),
    )
    op.create_table(
        "trust_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("pin_spki_sha256", sa.String(length=64), nullable=False),
        sa.Column("pinned_certificate_der", sa.LargeBinary(), nullable=True),
        sa.Column("territory_code", sa.String(length=32), nullable=False),
        sa.Column("territory_name", sa.String(length=200), nullable=False),
        sa.Column("operator_name", sa.String(length=200), nullable=False),
        sa.Column("operator_uscc", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature_algorithm", sa.String(length=32), nullable=False),
        sa.Column("signer_sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_trust_lists_name")),
    )
    op.create_table(
        "trust_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("org_uscc", sa.String(length=32), nullable=True),
        sa.Column("org_name", sa.String(length=200), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("services", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["trust_lists.id"], name=op.f("fk_trust_entries_list_id_trust_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_entries")),
        sa.UniqueConstraint("list_id", "position", name=op.f("uq_trust_entries_list_id_position")),
    )
    op.create_index(op.f("ix_trust_entries_sha256"), "trust_entries", ["sha256"])
    op.create_index(op.f("ix_trust_entries_key_id"), "trust_entries", ["key_id"])
    op.create_index(op.f("ix_trust_entries_org_uscc"), "trust_entries", ["org_uscc"])


def downgrade() -> None:
    op.drop_index(op.f("ix_trust_entries_org_uscc"), table_name="trust_entries")
    op.drop_index(op.f("ix_trust_entries_key_id"), table_name="trust_entries")
    op.drop_index(op.f("ix_trust_entries_sha256"), table_name="trust_entries")
    op.drop_table("trust_entries")
    op.drop_table("trust_lists")
    op.drop_table("trust_list_publications")
