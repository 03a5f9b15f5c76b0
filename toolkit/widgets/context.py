"""What every section of the panel is given: the account, its cached ledger reads, who acts.

A section (:class:`Section`) declares the ledger parts it draws from (``parts``, names of
:meth:`toolkit.ledger.Ledger.change_stamp`) and redraws in :meth:`Section.update` from an
:class:`AccountView`; the panel calls it only when one of those parts changed, or when
another account is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import ipywidgets as w

    from toolkit.ledger import Ledger
    from toolkit.widgets.accounts import AccountInfo
    from toolkit.widgets.archive import RunArchive
    from toolkit.widgets.reader import AccountReader

__all__ = ["AccountView", "Section"]


@dataclass
class AccountView:
    """One account as the sections see it."""

    ledger: Ledger
    account: AccountInfo
    reader: AccountReader
    #: The mode whose figures are shown: the mode of the account's newest run, else its configured mode.
    mode: str | None
    #: Who acts: the panel's actor field (checked by the ledger when it writes).
    actor: Callable[[], str]
    #: Re-read the ledger now (a section calls it after it wrote, to show the result at once).
    refresh: Callable[[], object]
    clock: Callable[[], datetime]
    archive: RunArchive
    project_root: Path
    db_url: str


class Section:
    """Base of the panel's sections: ``widget`` to show, ``update`` to redraw."""

    #: Ledger parts this section draws from.
    parts: ClassVar[frozenset[str]] = frozenset()
    widget: w.Widget

    def update(self, view: AccountView) -> None:  # pragma: no cover - every section overrides it
        raise NotImplementedError

    def tick(self, view: AccountView) -> None:
        """Called on every poll of the refresh loop (a background run's status); cheap by default."""
