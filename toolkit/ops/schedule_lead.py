"""How early a schedule entry fires: the one number ``install`` writes and ``fire`` reads back.

An entry fires ``lead`` minutes before the session's instant and the toolkit waits for
the exact minute. ``install --lead-minutes N`` writes ``fire --lead N`` into the entry,
so the firing knows how far ahead its session is (a firing that assumed another lead
would look in the wrong place and silently never run). Kept apart from the calendar
code so the command-line parser can show the range without importing pandas.
"""

from __future__ import annotations

from toolkit.errors import InvalidInput

__all__ = ["DEFAULT_LEAD_MINUTES", "LEAD_MINUTES", "check_lead"]

#: How many minutes before the session's instant an entry fires (the toolkit then waits).
DEFAULT_LEAD_MINUTES = 5
#: The leads an entry may have, first and last included (``install --lead-minutes``, ``fire --lead``).
LEAD_MINUTES = (1, 60)


def check_lead(value: object, field: str) -> int:
    """``value`` if it is a whole number of minutes in :data:`LEAD_MINUTES`; InvalidInput naming ``field``."""
    lo, hi = LEAD_MINUTES
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(field, value, f"a whole number of minutes from {lo} to {hi}")
    return value
