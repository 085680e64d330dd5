"""Audit log (records, head row, append-only triggers) and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "00" * 32

_SQLITE_TRIGGERS = {
    "audit_records_no_update": "BEFORE UPDATE ON audit_records",
    "audit_records_no_delete": "BEFORE DELETE ON audit_records",
    "audit_head_no_delete": "BEFORE DELETE ON audit_head",
}


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_records")),
    )
    op.create_index(op.f("ix_audit_records_subject"), "audit_records", ["subject"])
    op.create_index(op.f("ix_audit_records_time"), "audit_records", ["time"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )

    op.execute(
        sa.text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :genesis)").bindparams(
            genesis=GENESIS_HASH
        )
    )

    # Audit records are append-only and the head row stays; the hash chain shows tampering by anyone
    # who gets past these.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
    else:
        for name, when in _SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_no_delete ON audit_head")
        op.execute("DROP TRIGGER audit_records_no_truncate ON audit_records")
        op.execute("DROP TRIGGER audit_records_append_only ON audit_records")
        op.execute("DROP FUNCTION audit_append_only()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_audit_records_time"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_subject"), table_name="audit_records")
    op.drop_table("audit_records")
    op.drop_table("audit_head")
