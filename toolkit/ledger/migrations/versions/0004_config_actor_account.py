"""Config overrides per account and who set them: ``actor``, ``account`` on ``config_overrides``, ``config_history``.

Revision ID: 0004_config_actor_account
Revises: 0003_run_halted_blocked
Create Date: 2025-01-04

``actor`` is not null with the server default ``'user'`` (what every earlier change
was made as: ``set_override`` defaulted to it), so existing rows need no backfill.
``account`` is nullable: NULL is a global override, as every existing row is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_config_actor_account"
down_revision = "0003_run_halted_blocked"
branch_labels = None
depends_on = None

_TABLES = ("config_overrides", "config_history")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("actor", sa.String(length=128), server_default="user", nullable=False))
            batch.add_column(sa.Column("account", sa.String(length=128), nullable=True))


def downgrade() -> None:
    # The older schema has no account: an account's active override would read as a global
    # one there, so it is switched off first. Every row is kept (the audit log still names
    # the account of each change); only the two columns go.
    # A bound false, not a literal 0: PostgreSQL refuses an integer for a boolean column.
    overrides = sa.table("config_overrides", sa.column("active", sa.Boolean), sa.column("account", sa.String))
    op.execute(overrides.update().where(overrides.c.account.is_not(None)).values(active=sa.false()))
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("account")
            batch.drop_column("actor")
