"""The panel's live refresh: a coroutine on the kernel's event loop that polls the ledger.

In a Jupyter or voila kernel the cell code runs on a running asyncio loop; a task started
there keeps running after the cell has finished, and the widget updates it makes reach
the page (measured with voila 0.5). Each poll costs one change-stamp query
(:meth:`toolkit.ledger.Ledger.change_stamp`); only sections whose ledger parts changed
are redrawn, so a poll every 0.25 s shows a change within a second without loading the
kernel. Outside a running loop (a plain script, a test) no task is started and the owner
calls ``refresh()`` itself. A poll that fails is reported and the loop goes on: a locked
database for a moment must not end the live view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["RefreshLoop"]


class RefreshLoop:
    """Calls ``poll`` every ``seconds`` on the running event loop until :meth:`stop`."""

    def __init__(self, poll: Callable[[], object], seconds: float,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        if not seconds > 0:
            raise ValueError(f"refresh_seconds: got {seconds!r}; allowed: a number of seconds > 0")
        self.poll = poll
        self.seconds = float(seconds)
        self.on_error = on_error
        self.task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> bool:
        """Start polling if this thread runs an event loop (a kernel); False otherwise."""
        if self.running:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self.task = loop.create_task(self._run())
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            try:
                self.poll()
            except Exception as exc:  # reported on the panel; the next poll tries again
                if self.on_error is not None:
                    self.on_error(exc)

    def stop(self) -> None:
        """Stop polling (idempotent)."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
