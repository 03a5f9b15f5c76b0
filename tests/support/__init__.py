"""Helpers that tests run beside the code under test (servers, stand-ins), not tests themselves.

``tests/`` is on ``sys.path`` under pytest (its ``conftest.py`` sits in a folder without
``__init__.py``), so tests import these as ``support.<module>``.
"""
