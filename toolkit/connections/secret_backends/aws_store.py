"""``TOOLKIT_SECRETS=aws``: AWS Secrets Manager, one secret per name, through boto3.

Settings (environment or ``.env``): ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``, required)
and ``TOOLKIT_AWS_SECRET_PREFIX`` (default ``toolkit/``): the name ``APCA_API_KEY_ID``
is the secret ``toolkit/APCA_API_KEY_ID`` with the value as its SecretString. AWS
credentials come from boto3's own chain (``AWS_ACCESS_KEY_ID``..., a profile, an
instance role); ``AWS_ENDPOINT_URL`` points it elsewhere (a local stand-in).
Each name is read at most once per store; a write (a refreshed Schwab token) puts a new
version, creating the secret the first time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.connections.secrets import ENV_CHOICE, AuditSink, SecretStore, SecretStoreError
from toolkit.errors import ParamsError

__all__ = ["AwsSecretsStore", "open_store"]

PREFIX_ENV = "TOOLKIT_AWS_SECRET_PREFIX"
#: Seconds to connect and to read (botocore's default is 60 each).
TIMEOUT = 10


class AwsSecretsStore(SecretStore):
    """Secrets named ``<prefix><name>`` in one region."""

    backend = "aws"
    writable = True

    def __init__(self, client: Any, region: str, prefix: str, *, fallback: SecretStore | None,
                 audit: AuditSink | None) -> None:
        super().__init__({}, audit, fallback=fallback)
        self._client = client
        self.region, self.prefix = region, prefix
        self._cache: dict[str, str | None] = {}

    def _failed(self, what: str, exc: Exception) -> SecretStoreError:
        from botocore.exceptions import ClientError

        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        return SecretStoreError(f"{ENV_CHOICE}=aws: {what} in {self.region} failed: {code or type(exc).__name__}")

    def _lookup(self, name: str) -> str | None:
        if name not in self._cache:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                answer = self._client.get_secret_value(SecretId=self.prefix + name)
                self._cache[name] = answer.get("SecretString")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise self._failed(f"reading {self.prefix}{name}", exc) from None
                self._cache[name] = None
            except BotoCoreError as exc:
                raise self._failed(f"reading {self.prefix}{name}", exc) from None
        return self._cache[name]

    def _names(self) -> Iterable[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self._client.get_paginator("list_secrets").paginate(
                Filters=[{"Key": "name", "Values": [self.prefix]}])
            return [s["Name"][len(self.prefix):] for page in pages for s in page.get("SecretList", [])
                    if s["Name"].startswith(self.prefix)]
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(f"listing {self.prefix}*", exc) from None

    @property
    def where(self) -> str:
        return f"AWS Secrets Manager ({self.region}) as {self.prefix}<NAME> (or the environment)"

    def store(self, name: str, value: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        secret_id = self.prefix + name
        try:
            try:
                self._client.put_secret_value(SecretId=secret_id, SecretString=value)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                self._client.create_secret(Name=secret_id, SecretString=value)
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(f"writing {secret_id}", exc) from None
        self._cache[name] = value


def open_store(settings: Mapping[str, str], *, fallback: SecretStore | None,
               audit: AuditSink | None) -> AwsSecretsStore:
    import boto3
    from botocore.config import Config

    region = (settings.get("AWS_REGION") or settings.get("AWS_DEFAULT_REGION") or "").strip()
    if not region:
        raise ParamsError("AWS_REGION", None, f"the region of the secrets, e.g. us-east-1 ({ENV_CHOICE}=aws; "
                                              "AWS_DEFAULT_REGION works too)")
    prefix = settings.get(PREFIX_ENV)
    prefix = "toolkit/" if prefix is None else prefix.strip()
    config = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 2})
    endpoint = (settings.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or settings.get("AWS_ENDPOINT_URL") or "").strip()
    client = boto3.session.Session().client("secretsmanager", region_name=region, config=config,
                                            endpoint_url=endpoint or None)
    return AwsSecretsStore(client, region, prefix, fallback=fallback, audit=audit)
