"""E-licence lifecycle: holder download tokens, change reasons, and administrator-added licence types.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Hand-written and reviewed: autogenerate output is a draft, never the migration. Licences issued before this
revision get a fresh random holder token here (``secrets``), so every stored licence has one.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.add_column(sa.Column("holder_token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("change_reason", sa.Text(), nullable=True))
    licences = sa.table("licences", sa.column("id", sa.Integer), sa.column("holder_token", sa.String))
    bind = op.get_bind()
    for (row_id,) in bind.execute(sa.select(licences.c.id).where(licences.c.holder_token.is_(None))):
        bind.execute(
            licences.update().where(licences.c.id == row_id).values(holder_token=secrets.token_urlsafe(24))
        )
    op.create_table(
        "licence_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("definition_sm3", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_types")),
        sa.UniqueConstraint("type_code", name=op.f("uq_licence_types_type_code")),
    )


def downgrade() -> None:
    op.drop_table("licence_types")
    with op.batch_alter_table("licences") as batch:
        batch.drop_column("change_reason")
        batch.drop_column("holder_token")
