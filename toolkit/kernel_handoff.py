"""Hand the warm kernel's connected client to papermill instead of connecting a second one.

:mod:`toolkit.warm_kernel` connects a client to the kernel it starts, to import the
notebook's modules. nbclient (papermill's engine) would then connect its own and
handshake again (``wait_for_ready``), which costs 0.2 s on every run: after the
kernel_info reply it waits that long for an IOPub message the kernel published
before the new subscription took. nbclient gets its client from ``km.client()``,
so the manager below returns the warm client there once; that client is already
started and ready, so nbclient's ``start_channels()`` and ``wait_for_ready()`` on
it return at once. Any later ``client()`` call is an ordinary new client.
"""

from __future__ import annotations

from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager


class ReadyClient(BlockingKernelClient):
    """A blocking client that starts its channels once and skips the handshake once :meth:`mark_ready`."""

    _started = False
    _ready = False

    def start_channels(self, shell: bool = True, iopub: bool = True, stdin: bool = True, hb: bool = True,
                       control: bool = True) -> None:
        if not self._started:  # channels are threads: a second start would raise
            self._started = True
            super().start_channels(shell=shell, iopub=iopub, stdin=stdin, hb=hb, control=control)

    def mark_ready(self) -> None:
        """The kernel answered a request on this client and its IOPub messages arrived."""
        self._ready = True

    def wait_for_ready(self, timeout: float | None = None) -> None:
        if not self._ready:
            super().wait_for_ready(timeout)


class HandingKernelManager(KernelManager):
    """A KernelManager whose next ``client()`` is the one :meth:`hand_over` was given."""

    _handed: ReadyClient | None = None

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("client_class", f"{__name__}.ReadyClient")
        super().__init__(**kwargs)

    def hand_over(self, kc: ReadyClient) -> None:
        kc.mark_ready()
        self._handed = kc

    def client(self, **kwargs: Any) -> Any:
        kc, self._handed = self._handed, None
        return kc if kc is not None else super().client(**kwargs)
