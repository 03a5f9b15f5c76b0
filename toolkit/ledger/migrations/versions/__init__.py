"""Ledger schema revisions, oldest first: ``0001_initial``, ``0002_snapshot_context``."""
