"""Alert channels that need no network: apprise custom handlers registered with ``@notify``.

apprise keeps one registry of URL schemes per process, so they are declared once, here,
and every test that needs them imports this module. ``tkinbox://`` takes the alert and
keeps it in :data:`INBOX`; ``tkrefuse://`` answers that it was not delivered (a service
saying no); ``tkraise://`` raises inside the handler (a broken plugin). The URLs tests
use carry made-up secrets (:data:`SECRET`) so they can assert no stored or printed text
holds one.
"""

from __future__ import annotations

from typing import Any

from apprise.decorators import notify

#: Every alert ``tkinbox://`` received: title, body, apprise's type and the URL's host.
INBOX: list[dict[str, Any]] = []
#: A made-up credential inside the test URLs (never to appear in the ledger or any output).
SECRET = "s3cr3t-alert-token-0042"
INBOX_URL = f"tkinbox://alice:{SECRET}@inbox.example/{SECRET}"
REFUSE_URL = f"tkrefuse://bob:{SECRET}@refuse.example/hook?token={SECRET}"
RAISE_URL = f"tkraise://{SECRET}@raise.example"
#: Port 1 on this machine: nothing listens, the connection is refused at once (no network wait).
UNREACHABLE_URL = f"json://carol:{SECRET}@127.0.0.1:1/{SECRET}"


@notify(on="tkinbox", name="Test inbox")
def _inbox(body: str, title: str, notify_type: Any, meta: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
    INBOX.append({"title": title, "body": body, "type": str(getattr(notify_type, "value", notify_type)),
                  "host": meta.get("host")})
    return True


@notify(on="tkrefuse", name="Test refusal")
def _refuse(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    return False


@notify(on="tkraise", name="Test broken plugin")
def _raise(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    raise RuntimeError(f"handler broke while holding {SECRET}")
