"""voila's application with two gaps of voila 0.5.13 closed.

* Files behind the login. voila serves ``/voila/files/<path>`` (files matching
  ``VoilaConfiguration.file_allowlist``) with a plain tornado static file handler that
  asks for no token: with ``--token`` set, the page is refused but the archived reports
  the panel links to (positions, equity, trades) are not. :class:`ProtectedVoila` swaps
  that handler for one that also passes jupyter_server's authentication (token, login
  cookie or password), exactly like voila's own pages and kernel API.
* Kernels shut down when their page closes. The page's ``beforeunload`` handler posts
  ``voila/api/shutdown/<kernel>`` with the ``_xsrf`` value it reads from the cookies, but
  nothing sets that cookie, so the post is refused (403 "'_xsrf' argument missing") and
  every page ever opened keeps its kernel (and the panel's refresh loop) until the
  server stops. The page handler now sets the cookie.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.base.handlers import AuthenticatedFileHandler
from tornado.web import HTTPError, RequestHandler, authenticated
from voila.app import Voila
from voila.static_file_handler import AllowListFileHandler
from voila.tornado.handler import TornadoVoilaHandler

from toolkit.ops.dashboard import FILES_DIR

__all__ = ["AllowListAuthenticatedFileHandler", "ProtectedVoila", "XsrfCookieVoilaHandler"]


class AllowListAuthenticatedFileHandler(AuthenticatedFileHandler, AllowListFileHandler):
    """voila's allow-list file handler behind jupyter_server's login.

    ``get``/``head`` come from :class:`AuthenticatedFileHandler` (``@web.authenticated``,
    a sandboxing content security policy for HTML, hidden files refused); the path check
    against the allow and deny lists from :class:`AllowListFileHandler`; and, whatever
    those lists say, only files that resolve (``..`` and symlinks followed) to a place
    under ``<root>/outputs``.
    """

    def validate_absolute_path(self, root: str, absolute_path: str) -> str:
        checked = super().validate_absolute_path(root, absolute_path)
        served = os.path.join(os.path.realpath(root), FILES_DIR)
        if os.path.commonpath([served, os.path.realpath(checked)]) != served:
            raise HTTPError(403, "File outside the served folder")
        return checked

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # jupyter_server's error page needs templates and a static path voila's app has
        # not got (the error would end in a second traceback): tornado's plain page.
        RequestHandler.write_error(self, status_code, **kwargs)


class XsrfCookieVoilaHandler(TornadoVoilaHandler):
    """voila's page handler that also sets the ``_xsrf`` cookie the page's shutdown call sends back."""

    @authenticated
    async def get(self, path: str | None = None) -> None:
        _ = self.xsrf_token  # tornado sets the _xsrf cookie on first use (before the page is written)
        await super().get(path)


#: voila's handlers and what :class:`ProtectedVoila` serves in their place.
_REPLACED: dict[type, type] = {
    AllowListFileHandler: AllowListAuthenticatedFileHandler,
    TornadoVoilaHandler: XsrfCookieVoilaHandler,
}


class ProtectedVoila(Voila):
    """``voila.app.Voila`` with its files behind the login and page kernels shut down when the page closes."""

    def init_handlers(self) -> list[Any]:
        handlers: list[Any] = super().init_handlers()
        return [(h[0], _REPLACED.get(h[1], h[1]), *h[2:]) for h in handlers]
