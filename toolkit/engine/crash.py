"""The crash test's hook: ``TOOLKIT_CRASH_AT=<point>`` ends the process at that step of a session.

``tests/integration/test_crash_resume.py`` kills a real dry run at each point (like
SIGKILL: ``os._exit``, no cleanup) and checks that the next run completes it with no
order doubled. Never set outside tests.
"""

from __future__ import annotations

import os

__all__ = ["CRASH_ENV", "CRASH_EXIT_CODE", "CRASH_POINTS", "crash_point"]

CRASH_ENV = "TOOLKIT_CRASH_AT"
#: In the order a session passes them.
CRASH_POINTS = ("order_recorded", "broker_submitted", "fills_recorded", "snapshot_recorded")
CRASH_EXIT_CODE = 86


def crash_point(step: str) -> None:
    """Die here when the crash test asks for it."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(CRASH_EXIT_CODE)
