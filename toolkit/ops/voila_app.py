"""voila's application with the files it serves behind the same login as its pages.

voila 0.5.13 serves ``/voila/files/<path>`` (files matching
``VoilaConfiguration.file_allowlist``) with a plain tornado static file handler that
asks for no token: with ``--token`` set, the page is refused but the archived reports
the panel links to (positions, equity, trades) are not. :class:`ProtectedVoila` swaps
that handler for one that also passes jupyter_server's authentication (token, login
cookie or password), exactly like voila's own pages and kernel API.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import AuthenticatedFileHandler
from tornado.web import RequestHandler
from voila.app import Voila
from voila.static_file_handler import AllowListFileHandler

__all__ = ["AllowListAuthenticatedFileHandler", "ProtectedVoila"]


class AllowListAuthenticatedFileHandler(AuthenticatedFileHandler, AllowListFileHandler):
    """voila's allow-list file handler behind jupyter_server's login.

    ``get``/``head`` come from :class:`AuthenticatedFileHandler` (``@web.authenticated``,
    a sandboxing content security policy for HTML, hidden files refused); the path check
    against the allow and deny lists from :class:`AllowListFileHandler`.
    """

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # jupyter_server's error page needs templates and a static path voila's app has
        # not got (the error would end in a second traceback): tornado's plain page.
        RequestHandler.write_error(self, status_code, **kwargs)


class ProtectedVoila(Voila):
    """``voila.app.Voila`` whose file handler requires the token or password, if one is set."""

    def init_handlers(self) -> list[Any]:
        handlers: list[Any] = super().init_handlers()
        return [(h[0], AllowListAuthenticatedFileHandler, *h[2:]) if h[1] is AllowListFileHandler else h
                for h in handlers]
