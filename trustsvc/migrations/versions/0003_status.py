"""Status services: pre-signed OCSP responses and the time-stamp token register.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ocsp_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cert_id_hash", sa.String(length=64), nullable=False),
        sa.Column("ca_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("cert_status_version", sa.BigInteger(), nullable=False),
        sa.Column("responder_certificate_id", sa.Integer(), nullable=False),
        sa.Column("cert_status", sa.String(length=16), nullable=False),
        sa.Column("produced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["ca_id"], ["cas.id"], name=op.f("fk_ocsp_responses_ca_id_cas")),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_ocsp_responses_certificate_id_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["responder_certificate_id"],
            ["certificates.id"],
            name=op.f("fk_ocsp_responses_responder_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocsp_responses")),
        sa.UniqueConstraint("cert_id_hash", name=op.f("uq_ocsp_responses_cert_id_hash")),
    )
    op.create_index(op.f("ix_ocsp_responses_ca_id_serial"), "ocsp_responses", ["ca_id", "serial"])
    op.create_table(
        "timestamp_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tsa_certificate_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("hash_algorithm", sa.String(length=16), nullable=False),
        sa.Column("message_imprint", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["tsa_certificate_id"],
            ["certificates.id"],
            name=op.f("fk_timestamp_tokens_tsa_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timestamp_tokens")),
        sa.UniqueConstraint("serial", name=op.f("uq_timestamp_tokens_serial")),
    )
    op.create_index(op.f("ix_timestamp_tokens_gen_time"), "timestamp_tokens", ["gen_time"])


def downgrade() -> None:
    op.drop_index(op.f("ix_timestamp_tokens_gen_time"), table_name="timestamp_tokens")
    op.drop_table("timestamp_tokens")
    op.drop_index(op.f("ix_ocsp_responses_ca_id_serial"), table_name="ocsp_responses")
    op.drop_table("ocsp_responses")
