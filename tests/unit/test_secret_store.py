"""The secret store's backends through their real libraries: python-dotenv on real files,
keyring with keyrings.alt's file keyring, hvac against Vault's HTTP API faked by
``responses``, boto3 against moto's AWS Secrets Manager.

What each test guards: credentials come from the backend ``TOOLKIT_SECRETS`` names,
the environment fills in what it lacks, a bad choice or a missing setting is one
clear line, and an audit sees every lookup but never a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from toolkit.connections import AlpacaCredentials
from toolkit.connections.secrets import SecretStore, SecretStoreError, open_secret_store
from toolkit.errors import ParamsError

KEY, SECRET = "PKSTOREKEY7Hq2Zt", "store-secret-Vx91Lp"
VAULT = "http://vault.test:8200"
VAULT_TOKEN = "hvs.token-Qm38Wd"
VAULT_URL = f"{VAULT}/v1/secret/data/toolkit"


class Audit(list[tuple[str, str, bool]]):
    def __call__(self, name: str, backend: str, found: bool) -> None:
        self.append((name, backend, found))


# ----------------------------------------------------------------------------- choosing


@pytest.mark.parametrize("choice", ["bogus", "Vault", "env,vault"])
def test_a_bad_choice_is_one_line_naming_the_variable_value_and_choices(choice: str) -> None:
    with pytest.raises(ParamsError) as err:
        open_secret_store({"TOOLKIT_SECRETS": choice})
    assert str(err.value) == (f"TOOLKIT_SECRETS: got {choice!r}; allowed: one of env, keyring, vault, aws "
                              "(unset: env)")


def test_a_bad_choice_stops_the_cli_with_exit_2_and_one_line(toolkit_cli, monkeypatch) -> None:
    monkeypatch.setenv("TOOLKIT_SECRETS", "gpg")
    res = toolkit_cli(["broker", "check", "--broker", "alpaca"])
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: TOOLKIT_SECRETS: got 'gpg'; allowed: one of env, keyring, vault, aws "
                                  "(unset: env)")


# ----------------------------------------------------------------------------- environment and .env


def test_environment_wins_over_the_env_file_and_the_audit_names_the_source(tmp_path: Path) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text(f"APCA_API_KEY_ID=from-file\nAPCA_API_SECRET_KEY={SECRET}\nEMPTY\n")
    audit = Audit()
    store = open_secret_store({"TOOLKIT_ENV_FILE": str(env_file), "APCA_API_KEY_ID": KEY}, audit)
    assert store["APCA_API_KEY_ID"] == KEY and store["APCA_API_SECRET_KEY"] == SECRET
    assert "EMPTY" not in store and store.get("MISSING") is None
    assert audit == [("APCA_API_KEY_ID", "env", True), ("APCA_API_SECRET_KEY", "dotenv", True),
                     ("EMPTY", "env", False), ("MISSING", "env", False)]
    assert set(store) == {"TOOLKIT_ENV_FILE", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY"}
    assert KEY not in repr(store) and SECRET not in repr(store)


def test_the_process_store_finds_dot_env_from_a_subdirectory(tmp_path: Path, monkeypatch) -> None:
    """A papermill kernel runs in notebooks/: it finds the project's ./.env one level up."""
    (tmp_path / ".env").write_text(f"APCA_API_KEY_ID={KEY}\nAPCA_API_SECRET_KEY={SECRET}\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "TOOLKIT_ENV_FILE", "TOOLKIT_SECRETS"):
        monkeypatch.delenv(name, raising=False)
    creds = AlpacaCredentials.from_env()  # the default path: the secret store
    assert (creds.key_id, creds.secret_key) == (KEY, SECRET)
    # an explicit mapping (a test's) reads no .env it was not given
    assert open_secret_store({}).get("APCA_API_KEY_ID") is None


def test_a_named_env_file_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"^TOOLKIT_ENV_FILE: got '.*nope.env'; allowed: the path of an existing "):
        open_secret_store({"TOOLKIT_ENV_FILE": str(tmp_path / "nope.env")})


def test_missing_credentials_say_where_to_put_them_never_a_value(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"APCA_API_KEY_ID={KEY}\n")
    from toolkit.errors import BrokerAuthError

    with pytest.raises(BrokerAuthError) as err:
        AlpacaCredentials.from_env(open_secret_store({"TOOLKIT_ENV_FILE": str(env_file)}))
    assert f"set APCA_API_SECRET_KEY in the environment or {env_file}" in str(err.value)
    assert KEY not in str(err.value)


def test_the_env_backend_cannot_store() -> None:
    with pytest.raises(SecretStoreError, match="TOOLKIT_SECRETS=env: this backend cannot store SCHWAB_TOKEN"):
        open_secret_store({}).store("SCHWAB_TOKEN", "{}")


# ----------------------------------------------------------------------------- keyring


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[object]:
    """keyrings.alt's plaintext file keyring in tmp_path, set as the process's keyring."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    before = keyring.get_keyring()
    ring = PlaintextKeyring()
    ring.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


def test_keyring_answers_first_and_the_environment_fills_in(file_keyring) -> None:
    import keyring

    keyring.set_password("toolkit", "APCA_API_KEY_ID", KEY)
    keyring.set_password("toolkit", "APCA_API_SECRET_KEY", SECRET)
    audit = Audit()
    store = open_secret_store({"TOOLKIT_SECRETS": "keyring", "APCA_API_KEY_ID": "env-key-loses",
                               "APCA_API_BASE_URL": "http://127.0.0.1:9"}, audit)
    creds = AlpacaCredentials.from_env(store)
    assert (creds.key_id, creds.secret_key, creds.base_url) == (KEY, SECRET, "http://127.0.0.1:9")
    assert ("APCA_API_KEY_ID", "keyring", True) in audit and ("APCA_API_BASE_URL", "env", True) in audit
    store.store("SCHWAB_TOKEN", '{"t": 1}')
    assert keyring.get_password("toolkit", "SCHWAB_TOKEN") == '{"t": 1}'
    other = open_secret_store({"TOOLKIT_SECRETS": "keyring", "TOOLKIT_KEYRING_SERVICE": "other"})
    assert other.get("APCA_API_KEY_ID") is None


def test_no_keyring_backend_is_one_line_saying_what_to_install() -> None:
    import keyring
    from keyring.backends import fail

    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(SecretStoreError, match=r"no keyring backend .* install keyrings\.alt"):
            open_secret_store({"TOOLKIT_SECRETS": "keyring"})["APCA_API_KEY_ID"]
    finally:
        keyring.set_keyring(before)


# ----------------------------------------------------------------------------- Vault (KV v2 over HTTP)


def vault_env(**more: str) -> dict[str, str]:
    return {"TOOLKIT_SECRETS": "vault", "VAULT_ADDR": VAULT, "VAULT_TOKEN": VAULT_TOKEN, **more}


def kv_answer(data: dict[str, str], version: int) -> dict:
    return {"data": {"data": data, "metadata": {"version": version, "deletion_time": "", "destroyed": False}}}


@responses.activate
def test_vault_reads_the_secret_once_and_sends_the_token_header() -> None:
    responses.get(VAULT_URL, json=kv_answer({"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET}, 3))
    audit = Audit()
    store = open_secret_store(vault_env(APCA_API_DATA_URL="http://127.0.0.1:9"), audit)
    creds = AlpacaCredentials.from_env(store)
    assert (creds.key_id, creds.secret_key, creds.data_url) == (KEY, SECRET, "http://127.0.0.1:9")
    assert len(responses.calls) == 1 and responses.calls[0].request.headers["X-Vault-Token"] == VAULT_TOKEN
    assert audit == [("APCA_API_KEY_ID", "vault", True), ("APCA_API_SECRET_KEY", "vault", True),
                     ("APCA_API_BASE_URL", "vault", False),  # found nowhere: the chosen backend is named
                     ("APCA_API_DATA_URL", "env", True)]
    assert {"APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "VAULT_ADDR"} <= set(store)


@responses.activate
def test_vault_mount_and_path_from_the_environment_and_a_write_uses_check_and_set() -> None:
    url = f"{VAULT}/v1/kv/data/team/trading"
    responses.get(url, json=kv_answer({"SCHWAB_TOKEN": "old"}, 7))
    responses.post(url, json={"data": {"version": 8}})
    store = open_secret_store(vault_env(TOOLKIT_VAULT_MOUNT="kv", TOOLKIT_VAULT_PATH="team/trading"))
    store.store("SCHWAB_TOKEN", "new")
    body = json.loads(responses.calls[1].request.body)
    assert body == {"data": {"SCHWAB_TOKEN": "new"}, "options": {"cas": 7}}
    assert store["SCHWAB_TOKEN"] == "new" and len(responses.calls) == 2


@responses.activate
def test_a_vault_path_not_created_yet_reads_empty_and_the_first_write_creates_it() -> None:
    responses.get(VAULT_URL, status=404, json={"errors": []})
    responses.post(VAULT_URL, json={"data": {"version": 1}})
    store = open_secret_store(vault_env(APCA_API_KEY_ID="env-fallback"))
    assert store["APCA_API_KEY_ID"] == "env-fallback" and store.get("SCHWAB_TOKEN") is None
    store.store("SCHWAB_TOKEN", "{}")
    assert json.loads(responses.calls[-1].request.body)["options"] == {"cas": 0}


@responses.activate
@pytest.mark.parametrize(("status", "name"), [(403, "Forbidden"), (503, "VaultDown")])
def test_a_vault_refusal_is_one_line_without_the_token(status: int, name: str) -> None:
    responses.get(VAULT_URL, status=status, json={"errors": [f"permission denied for {VAULT_TOKEN}"]})
    with pytest.raises(SecretStoreError) as err:
        open_secret_store(vault_env())["APCA_API_KEY_ID"]
    text = str(err.value)
    assert text.startswith(f"TOOLKIT_SECRETS=vault: reading secret/toolkit at VAULT_ADDR={VAULT} failed: {name}")
    assert VAULT_TOKEN not in text and "\n" not in text


def test_an_unreachable_vault_is_one_line() -> None:
    with responses.RequestsMock(), pytest.raises(SecretStoreError, match="failed: ConnectionError"):
        open_secret_store(vault_env())["APCA_API_KEY_ID"]


@pytest.mark.parametrize(("env", "field"), [
    ({"TOOLKIT_SECRETS": "vault", "VAULT_TOKEN": VAULT_TOKEN}, "VAULT_ADDR"),
    ({"TOOLKIT_SECRETS": "vault", "VAULT_ADDR": "vault.test:8200", "VAULT_TOKEN": VAULT_TOKEN}, "VAULT_ADDR"),
    ({"TOOLKIT_SECRETS": "vault", "VAULT_ADDR": VAULT}, "VAULT_TOKEN"),
])
def test_vault_settings_missing_are_one_line(env: dict[str, str], field: str) -> None:
    with pytest.raises(ParamsError, match=rf"^{field}: got .*; allowed: ") as err:
        open_secret_store(env)
    assert VAULT_TOKEN not in str(err.value)


# ----------------------------------------------------------------------------- AWS Secrets Manager (moto)


@pytest.fixture
def aws(monkeypatch) -> Iterator[object]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="eu-west-1")


def test_aws_reads_prefixed_secrets_and_the_environment_fills_in(aws) -> None:
    aws.create_secret(Name="toolkit/APCA_API_KEY_ID", SecretString=KEY)
    aws.create_secret(Name="toolkit/APCA_API_SECRET_KEY", SecretString=SECRET)
    aws.create_secret(Name="other/APCA_API_KEY_ID", SecretString="not-ours")
    audit = Audit()
    store = open_secret_store({"TOOLKIT_SECRETS": "aws", "AWS_REGION": "eu-west-1",
                               "APCA_API_BASE_URL": "http://127.0.0.1:9"}, audit)
    creds = AlpacaCredentials.from_env(store)
    assert (creds.key_id, creds.secret_key, creds.base_url) == (KEY, SECRET, "http://127.0.0.1:9")
    assert ("APCA_API_KEY_ID", "aws", True) in audit and ("APCA_API_BASE_URL", "env", True) in audit
    assert {"APCA_API_KEY_ID", "APCA_API_SECRET_KEY"} <= set(store)
    team = open_secret_store({"TOOLKIT_SECRETS": "aws", "AWS_DEFAULT_REGION": "eu-west-1",
                              "TOOLKIT_AWS_SECRET_PREFIX": "other/"})
    assert team["APCA_API_KEY_ID"] == "not-ours"


def test_aws_write_creates_then_puts_a_new_version(aws) -> None:
    store = open_secret_store({"TOOLKIT_SECRETS": "aws", "AWS_REGION": "eu-west-1"})
    store.store("SCHWAB_TOKEN", "v1")
    store.store("SCHWAB_TOKEN", "v2")
    assert aws.get_secret_value(SecretId="toolkit/SCHWAB_TOKEN")["SecretString"] == "v2"
    fresh = open_secret_store({"TOOLKIT_SECRETS": "aws", "AWS_REGION": "eu-west-1"})
    assert fresh["SCHWAB_TOKEN"] == "v2"


def test_aws_without_a_region_is_one_line(aws) -> None:
    with pytest.raises(ParamsError, match=r"^AWS_REGION: got None; allowed: the region of the secrets"):
        open_secret_store({"TOOLKIT_SECRETS": "aws"})


def test_aws_refusal_is_one_line(aws, monkeypatch) -> None:
    aws.create_secret(Name="toolkit/APCA_API_KEY_ID", SecretString=KEY)
    aws.delete_secret(SecretId="toolkit/APCA_API_KEY_ID")  # scheduled for deletion: reads are refused
    with pytest.raises(SecretStoreError, match=r"^TOOLKIT_SECRETS=aws: reading toolkit/APCA_API_KEY_ID in "
                                               r"eu-west-1 failed: InvalidRequestException$"):
        open_secret_store({"TOOLKIT_SECRETS": "aws", "AWS_REGION": "eu-west-1"})["APCA_API_KEY_ID"]


def test_the_store_is_a_read_only_mapping() -> None:
    store = open_secret_store({"A": "1"})
    assert isinstance(store, SecretStore) and dict(store) == {"A": "1"} and len(store) == 1
    with pytest.raises(TypeError):
        store["A"] = "2"  # type: ignore[index]


def test_the_ledger_url_is_exported_from_dotenv_only_when_the_environment_lacks_it(tmp_path: Path) -> None:
    """What ``toolkit`` and the runner do at start so that kernels under cron open the .env's ledger."""
    from toolkit.connections.secret_backends.dotenv_file import export_process_settings

    env_file = tmp_path / "project.env"
    env_file.write_text("TOOLKIT_DB_URL=postgresql+psycopg://team:s3cret@db.example/ledger\nOTHER_SECRET=x\n")
    bare = {"TOOLKIT_ENV_FILE": str(env_file)}
    assert export_process_settings(bare) == ["TOOLKIT_DB_URL"]
    assert bare == {"TOOLKIT_ENV_FILE": str(env_file),
                    "TOOLKIT_DB_URL": "postgresql+psycopg://team:s3cret@db.example/ledger"}  # nothing else
    for own in ("sqlite:///mine.sqlite", ""):  # set in the environment, even empty: the environment wins
        environ = {"TOOLKIT_ENV_FILE": str(env_file), "TOOLKIT_DB_URL": own}
        assert export_process_settings(environ) == [] and environ["TOOLKIT_DB_URL"] == own
    assert export_process_settings({}) == []  # no .env named and none searched for: nothing
