"""The broker adapters read their credentials through the secret store, audited in the ledger.

- ``open_remote_broker`` with no mapping opens the store ``TOOLKIT_SECRETS`` names, and with
  a ledger every lookup lands in its audit log (``secret_read``: name, backend, found),
  never the value.
- A Schwab token kept in the keyring (keyrings.alt's file keyring) opens schwab-py's real
  client; Authlib's refresh (its token endpoint faked by respx) writes the new token back
  to the keyring, keeping the login's creation time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from toolkit.engine.remote import SECRET_READ, open_remote_broker
from toolkit.errors import BrokerAuthError
from toolkit.ledger import open_ledger

respx = pytest.importorskip("respx")
pytest.importorskip("schwab")
pytest.importorskip("alpaca")

KEY, SECRET = "PKAUDITKEY5Jd8Rw", "audit-secret-Nc62Tq"
APP_KEY, APP_SECRET = "schwab-app-key-Lk40Ud", "schwab-app-secret-Gh19Xo"
ACCESS, REFRESH = "access-old-Pe57Bv", "refresh-Yt84Mc"
API = "https://api.schwabapi.com"
HASH, ACCOUNT = "HASH9F1E", "11223344"


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    before = keyring.get_keyring()
    ring = PlaintextKeyring()
    ring.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(ring)
    monkeypatch.setenv("TOOLKIT_SECRETS", "keyring")
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "SCHWAB_API_KEY", "SCHWAB_APP_SECRET",
                 "SCHWAB_TOKEN_PATH", "SCHWAB_TOKEN", "TOOLKIT_ENV_FILE", "SCHWAB_ACCOUNT_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no project .env found upwards
    yield ring
    keyring.set_keyring(before)


def test_the_default_store_supplies_the_keys_and_the_ledger_audits_every_lookup_without_values(
        file_keyring) -> None:
    import keyring

    keyring.set_password("toolkit", "APCA_API_KEY_ID", KEY)
    keyring.set_password("toolkit", "APCA_API_SECRET_KEY", SECRET)
    with open_ledger("sqlite://") as ledger:
        broker = open_remote_broker("alpaca", mode="paper", ledger=ledger)
        try:
            assert broker.name == "alpaca"
        finally:
            broker.close()
        log = ledger.audit_log(action=SECRET_READ)
    details = list(log["detail"])
    assert {"name": "APCA_API_KEY_ID", "backend": "keyring", "found": True} in details
    assert {"name": "APCA_API_SECRET_KEY", "backend": "keyring", "found": True} in details
    assert {"name": "APCA_API_BASE_URL", "backend": "keyring", "found": False} in details
    assert all(set(d) == {"name", "backend", "found"} for d in details)
    dumped = log.to_json() + json.dumps(details)
    assert KEY not in dumped and SECRET not in dumped


def test_without_keys_anywhere_the_message_names_the_keyring_service(file_keyring) -> None:
    with pytest.raises(BrokerAuthError, match="set APCA_API_KEY_ID, APCA_API_SECRET_KEY in the keyring service "
                                              "'toolkit' \\(or the environment\\)"):
        open_remote_broker("alpaca", mode="paper")


# ----------------------------------------------------------------------------- a Schwab token in the store


def stored_token(created: float, access_expires_at: float) -> str:
    """The JSON text of a schwab-py token file, as a person stores it after logging in."""
    return json.dumps({"creation_timestamp": int(created), "token": {
        "access_token": ACCESS, "refresh_token": REFRESH, "token_type": "Bearer", "expires_in": 1800,
        "scope": "api", "id_token": "id-Rr02", "expires_at": int(access_expires_at)}})


def test_a_schwab_token_in_the_keyring_is_read_refreshed_and_written_back(file_keyring) -> None:
    import keyring

    from toolkit.brokers.schwab import SchwabBroker

    created = time.time() - 86400
    for name, value in {"SCHWAB_API_KEY": APP_KEY, "SCHWAB_APP_SECRET": APP_SECRET,
                        "SCHWAB_TOKEN": stored_token(created, time.time() - 60)}.items():
        keyring.set_password("toolkit", name, value)
    with respx.mock(assert_all_called=True) as mock:
        refresh = mock.post(f"{API}/v1/oauth/token").mock(return_value=httpx.Response(200, json={
            "access_token": "access-new-Kw31", "refresh_token": REFRESH, "token_type": "Bearer",
            "expires_in": 1800, "scope": "api"}))
        mock.get(f"{API}/trader/v1/accounts/accountNumbers").mock(
            return_value=httpx.Response(200, json=[{"accountNumber": ACCOUNT, "hashValue": HASH}]))
        account = mock.get(f"{API}/trader/v1/accounts/{HASH}").mock(return_value=httpx.Response(200, json={
            "securitiesAccount": {"type": "CASH", "accountNumber": ACCOUNT,
                                  "currentBalances": {"cashBalance": 2500.25}}}))
        broker = SchwabBroker.from_env()
        try:
            assert 5.9 < broker.token_days_left() < 6.1  # from the stored token's creation time
            assert broker.get_cash() == Decimal("2500.25")
        finally:
            broker.close()
    assert refresh.call_count == 1
    assert account.calls[0].request.headers["Authorization"] == "Bearer access-new-Kw31"
    kept = json.loads(keyring.get_password("toolkit", "SCHWAB_TOKEN"))
    assert kept["token"]["access_token"] == "access-new-Kw31"
    assert kept["creation_timestamp"] == int(created)  # a refresh does not extend the 7 days


def test_a_stored_token_past_seven_days_is_refused_before_any_call(file_keyring) -> None:
    import keyring

    from toolkit.brokers.schwab import SchwabBroker

    for name, value in {"SCHWAB_API_KEY": APP_KEY, "SCHWAB_APP_SECRET": APP_SECRET,
                        "SCHWAB_TOKEN": stored_token(time.time() - 8 * 86400, time.time() + 600)}.items():
        keyring.set_password("toolkit", name, value)
    with respx.mock(assert_all_called=False) as mock:
        with pytest.raises(BrokerAuthError, match=r"expired .* log in again"):
            SchwabBroker.from_env()
        assert not mock.calls


def test_a_schwab_token_in_the_env_backend_is_refused_it_cannot_be_written_back(tmp_path: Path) -> None:
    from toolkit.connections import SchwabCredentials
    from toolkit.connections.secrets import open_secret_store

    env = open_secret_store({"SCHWAB_API_KEY": APP_KEY, "SCHWAB_APP_SECRET": APP_SECRET,
                             "SCHWAB_TOKEN": stored_token(time.time(), time.time() + 600)})
    with pytest.raises(BrokerAuthError) as err:
        SchwabCredentials.from_env(env)
    assert "cannot keep the token schwab-py refreshes" in str(err.value)
    assert REFRESH not in str(err.value) and APP_SECRET not in str(err.value)
