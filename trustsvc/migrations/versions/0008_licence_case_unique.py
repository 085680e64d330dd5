"""E-licences: a case id names one licence version, whatever its version number.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

0006 made ``(system, case_id, version)`` unique; since a change (变更) is a case of its own, an issuance and a
change sent at the same moment under one new case id could both have been stored. ``(system, case_id)`` is
unique now, so the database settles that race as it settles two racing issuances.

Hand-written and reviewed: autogenerate output is a draft, never the migration.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint("uq_licences_system_case_id_version", type_="unique")
        batch.create_unique_constraint("uq_licences_system_case_id", ["system", "case_id"])


def downgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint("uq_licences_system_case_id", type_="unique")
        batch.create_unique_constraint("uq_licences_system_case_id_version", ["system", "case_id", "version"])
