"""Dummy credentials that must never reach a file the toolkit writes (promise 7).

Unique, random-looking values (fixed, so a failure is reproducible) for every credential
the toolkit or its users keep in the environment or a secret store. The leak test
(tests/integration/test_secret_leaks.py) runs every notebook with them set and searches
every archived file for them, also base64- and URL-encoded (:func:`encoded_forms`).

The alert URL points at a loopback port nothing listens on (the discard port, 9), so a run
that sends an alert through it fails to deliver at once, with no network wait; its secret
parts (password, path, token) are also listed on their own in :data:`ALERT_URL_PARTS`, so
a leak of one part, not only of the whole URL, is found.
"""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

__all__ = ["ALERT_URL_PARTS", "DUMMY_SECRETS", "encoded_forms", "leaks_in"]

DUMMY_SECRETS = {
    "APCA_API_KEY_ID": "PKLEAK7Q2M9X4VBN8TZR",
    "APCA_API_SECRET_KEY": "lk-apca-Sx81dWq0Ze4nRb7Jc2Hu5Ym9Tg3Kf6Pv",
    "ALPACA_API_KEY": "lk-alpaca-key-Hq5Nw2Ld8Rz4",
    "ALPACA_SECRET_KEY": "lk-alpaca-secret-Mf3Bt9Xc6Vs1",
    "SCHWAB_API_KEY": "lk-schwab-key-Jd7Ke2Wp4Qa8Uo1Ty",
    "SCHWAB_APP_KEY": "lk-schwab-appkey-Ge6Ri3Nu9Lm",
    "SCHWAB_APP_SECRET": "lk-schwab-secret-Ov5Cz8Fh2Ix",
    "SCHWAB_ACCOUNT_NUMBER": "90817263544",
    "TOOLKIT_ALERT_URLS": "json://lk-alert-user:lk-alert-pw-Rb5Xe8Qn2@127.0.0.1:9/lk-alert/Bd4Yq7Wn1?token=lk+Ua9/Zr=3&x=1",
    "TOOLKIT_DASHBOARD_TOKEN": "lk-dash-Pm2Vx6Hs0Kc4Ef8Ln",
    "TOOLKIT_DASHBOARD_PASSWORD": "lk-dash-pass-Wt9Gb3Jy7Dq",
    "VAULT_TOKEN": "hvs.LKvault2Ra8Mk4Ns6Py0Ct",
    "AWS_SECRET_ACCESS_KEY": "lkAWS/Ex3Hj7Qo1Ug5Zw9Ib2Nf6Vl8Sd4Ka0Rm",
}

#: The secret parts of ``DUMMY_SECRETS["TOOLKIT_ALERT_URLS"]``, each searched for on its own.
ALERT_URL_PARTS = {
    "TOOLKIT_ALERT_URLS password": "lk-alert-pw-Rb5Xe8Qn2",
    "TOOLKIT_ALERT_URLS path": "Bd4Yq7Wn1",
    "TOOLKIT_ALERT_URLS token": "Ua9/Zr=3",
}
assert all(part in DUMMY_SECRETS["TOOLKIT_ALERT_URLS"] for part in ALERT_URL_PARTS.values())


def encoded_forms(secret: str) -> set[str]:
    """``secret`` as written, URL-encoded, and base64 (standard and URL-safe) at any alignment.

    Inside a larger base64 blob the secret's bytes start at one of three offsets within a
    3-byte group; the encoding of its whole groups from each offset appears verbatim.
    """
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode()
    for k in range(3):
        whole = raw[k: k + 3 * ((len(raw) - k) // 3)]
        forms.add(base64.b64encode(whole).decode())
        forms.add(base64.urlsafe_b64encode(whole).decode())
    return {f for f in forms if len(f) >= 8}


def leaks_in(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets found in ``text`` in any of their :func:`encoded_forms`."""
    return [name for name, value in secrets.items() if any(form in text for form in encoded_forms(value))]
