"""Alembic migrations of the ledger (run programmatically by :func:`toolkit.ledger.open_ledger`)."""
