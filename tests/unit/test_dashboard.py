"""``toolkit dashboard`` before voila starts: what is refused, what voila is told, what is printed.

The served dashboard (voila, kernels, the token asked by a real server, Ctrl-C) is
tested in tests/browser/test_dashboard_server.py.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from toolkit.errors import ParamsError
from toolkit.ops.dashboard import (
    ENV_PASSWORD,
    ENV_TOKEN,
    FILE_ALLOWLIST,
    FILE_DENYLIST,
    NOTEBOOK,
    Dashboard,
    dashboard_from_env,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-unit-0123456789"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with a control panel notebook (its content does not matter before voila starts).

    It is the working directory, without ``$TOOLKIT_DB_URL``: the default ledger is its
    ``outputs/ledger.sqlite``, which does not exist.
    """
    (tmp_path / NOTEBOOK).parent.mkdir(parents=True)
    (tmp_path / NOTEBOOK).write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOOLKIT_DB_URL", raising=False)
    return tmp_path


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """An existing (empty) SQLite ledger file."""
    from toolkit.ledger import open_ledger

    path = tmp_path / "existing.sqlite"
    open_ledger(f"sqlite:///{path}").close()
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("ip", ["127.0.0.1", "localhost", "127.0.0.2", "127.1.2.3"])
def test_loopback_needs_no_token(root: Path, ip: str) -> None:
    Dashboard(root=root, ip=ip, port=_free_port()).check()


def test_ipv6_loopback_needs_no_token(root: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        port = _free_port()
        Dashboard(root=root, ip="::1", port=port).check()
    except ParamsError as err:  # a machine whose kernel has IPv6 but no ::1 configured
        if err.field == "--ip" and "address of this machine" in str(err):
            pytest.skip(str(err))
        raise


@pytest.mark.parametrize("ip", ["0.0.0.0", "::", "192.168.1.10", "myhost.example"])
def test_other_addresses_are_refused_without_token_or_password(root: Path, ip: str) -> None:
    with pytest.raises(ParamsError) as err:
        Dashboard(root=root, ip=ip, port=_free_port()).check()
    assert err.value.field == "--ip"
    assert ENV_TOKEN in str(err.value) and ENV_PASSWORD in str(err.value)
    assert "\n" not in str(err.value)


def test_another_address_is_accepted_with_a_token(root: Path) -> None:
    Dashboard(root=root, ip="0.0.0.0", port=_free_port(), token=TOKEN).check()
    Dashboard(root=root, ip="0.0.0.0", port=_free_port(), password="pw").check()


def test_a_busy_port_is_one_line_naming_the_port(root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ParamsError) as err:
            Dashboard(root=root, port=port).check()
    assert err.value.field == "--port" and err.value.value == port
    assert "in use" in str(err.value)


def test_an_address_this_machine_has_not_is_refused(root: Path) -> None:
    with pytest.raises(ParamsError) as err:
        Dashboard(root=root, ip="192.0.2.1", port=_free_port(), token=TOKEN).check()  # TEST-NET-1
    assert err.value.field == "--ip"


def test_a_missing_notebook_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParamsError) as err:
        Dashboard(root=tmp_path, port=_free_port()).check()
    assert err.value.field == "notebook"


def test_secrets_are_never_in_repr_or_the_first_line(root: Path) -> None:
    d = Dashboard(root=root, ip="0.0.0.0", token=TOKEN, password="pw-secret",
                  db_url="postgresql+psycopg://trader:db-secret@db.example/ledger")
    shown = repr(d) + d.first_line()
    for secret in (TOKEN, "pw-secret", "db-secret"):
        assert secret not in shown
    assert f"${ENV_TOKEN}" in d.first_line()
    assert "***" in d.first_line()  # the ledger URL is shown with its password hidden


def test_first_line_names_the_url(root: Path) -> None:
    line = Dashboard(root=root, port=8899).first_line()
    assert "http://127.0.0.1:8899/" in line and "Ctrl-C" in line
    assert "\n" not in line
    assert "http://[::1]:8899/" in Dashboard(root=root, ip="::1", port=8899).first_line()


def test_voila_is_told_the_address_token_pool_and_files(root: Path) -> None:
    cfg = Dashboard(root=root, ip="0.0.0.0", port=8899, token=TOKEN).voila_config()
    assert (cfg.Voila.ip, cfg.Voila.port, cfg.Voila.port_retries) == ("0.0.0.0", 8899, 0)
    assert cfg.Voila.token == TOKEN and cfg.Voila.open_browser is False
    assert cfg.Voila.root_dir == str(root)
    assert cfg.VoilaConfiguration.preheat_kernel is True and cfg.VoilaConfiguration.default_pool_size == 1
    assert cfg.VoilaKernelManager.fill_delay > 1  # the next kernel starts after the page is drawn
    assert "jupyterlab-plotly" in cfg.VoilaConfiguration.extension_denylist  # 4.8 MB of JS the panel never uses
    assert "@jupyter-widgets/jupyterlab-manager" not in cfg.VoilaConfiguration.extension_denylist
    assert Dashboard(root=root).voila_config().Voila.token is None
    assert Dashboard(root=root, preheat=False).voila_config().VoilaConfiguration.preheat_kernel is False


def test_a_password_reaches_voila_hashed(root: Path) -> None:
    from jupyter_server.auth import passwd_check

    hashed = Dashboard(root=root, password="pw-secret").voila_config().PasswordIdentityProvider.hashed_password
    assert "pw-secret" not in hashed and passwd_check(hashed, "pw-secret")


@pytest.mark.parametrize(("path", "served"), [
    ("outputs/daily_dry_run/20180601T000000-abc/report.html", True),
    ("outputs/backtest/x/trades.csv", True),
    ("outputs/backtest/x/manifest.json", True),
    ("outputs/backtest/x/equity.png", True),
    ("outputs/ledger.sqlite", False),
    ("outputs/backtest/x/executed.ipynb", False),
    ("params/live/alpaca_paper.yaml", False),
    ("pyproject.toml", False),
    ("toolkit/cli.py", False),
    # voila matches the path as asked, before any normalisation: no way out of outputs/
    ("outputs/../secret.json", False),
    ("outputs/x/../../params/secret.csv", False),
    ("outputs/..", False),
    ("outputs//x.json", False),
    ("outputs/.hidden/x.json", False),
    ("outputs/x/.env.json", False),
    ("OUTPUTS/../x.html", False),
])
def test_only_archived_reports_and_tables_are_served(path: str, served: bool) -> None:
    # voila matches each pattern against the whole path under its root (re.fullmatch, no
    # case) and serves a path matching an allow pattern and no deny pattern
    allowed = any(re.fullmatch(p, path, re.IGNORECASE) for p in FILE_ALLOWLIST)
    denied = any(re.fullmatch(p, path, re.IGNORECASE) for p in FILE_DENYLIST)
    assert (allowed and not denied) is served


@pytest.mark.parametrize("path", ["outputs/../secret.json", "outputs/x/../../a.csv", "x/.git/y.json", ".env"])
def test_the_denylist_alone_refuses_dot_segments(path: str) -> None:
    assert any(re.fullmatch(p, path, re.IGNORECASE) for p in FILE_DENYLIST)


@pytest.mark.parametrize(("db_url", "shown", "because"), [
    ("nonsense://x", "nonsense://x", ""),
    ("postgresql+nodriver://u:db-secret@h/db", "postgresql+nodriver://u:***@h/db", ""),
    ("mysql+mysqldb://u:db-secret@h/db", "mysql+mysqldb://u:***@h/db", "MySQLdb is missing: pip install mysqlclient"),
    ("sqlite://", "sqlite://", ""),
])
def test_a_ledger_url_the_panel_cannot_open_is_one_line(root: Path, db_url: str, shown: str, because: str) -> None:
    with pytest.raises(ParamsError) as err:
        Dashboard(root=root, port=_free_port(), db_url=db_url).check()
    assert err.value.field == "--db-url" and err.value.value == shown
    message = str(err.value)
    assert "\n" not in message and "db-secret" not in message
    assert "SQLite ledger file" in message and "SQLAlchemy URL" in message  # what is allowed
    assert because in message


def test_a_mistyped_ledger_file_is_refused_and_not_created(root: Path, tmp_path: Path) -> None:
    typo = tmp_path / "ledgr.sqlite"
    for db_url in (str(typo), f"sqlite:///{typo}"):
        with pytest.raises(ParamsError) as err:
            Dashboard(root=root, port=_free_port(), db_url=db_url).check()
        assert err.value.field == "--db-url" and err.value.value == f"sqlite:///{typo}"
        assert f"there is no file {typo}" in str(err.value)
    assert not typo.exists()


def test_an_existing_ledger_file_is_accepted(root: Path, ledger: Path) -> None:
    Dashboard(root=root, port=_free_port(), db_url=str(ledger)).check()
    Dashboard(root=root, port=_free_port(), db_url=f"sqlite:///{ledger}").check()


def test_toolkit_db_url_is_checked_like_the_option(root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_DB_URL", str(tmp_path / "missing.sqlite"))
    with pytest.raises(ParamsError) as err:
        Dashboard(root=root, port=_free_port()).check()
    assert err.value.field == "$TOOLKIT_DB_URL"
    assert "(ledger" in Dashboard(root=root).first_line() and "not created yet" not in Dashboard(root=root).first_line()


def test_a_missing_default_ledger_is_served_and_said_in_the_first_line(root: Path) -> None:
    d = Dashboard(root=root, port=_free_port())
    d.check()  # the panel of a fresh checkout shows an empty ledger
    line = d.first_line()
    assert str(root / "outputs" / "ledger.sqlite") in line
    assert "not created yet: the panel shows an empty ledger" in line and "\n" not in line
    (root / "outputs").mkdir()
    (root / "outputs" / "ledger.sqlite").write_bytes(b"")
    assert "not created yet" not in d.first_line()


def test_kernel_env_names_the_root_and_the_resolved_ledger(root: Path, tmp_path: Path) -> None:
    env = Dashboard(root=root, db_url=str(tmp_path / "l.sqlite")).kernel_env()
    assert env == {"TOOLKIT_DASHBOARD_ROOT": str(root), "TOOLKIT_DB_URL": f"sqlite:///{tmp_path / 'l.sqlite'}"}
    assert "TOOLKIT_DB_URL" not in Dashboard(root=root).kernel_env()  # the kernels keep this process's


def test_token_and_password_come_from_the_environment(root: Path) -> None:
    d = dashboard_from_env(root, environ={ENV_TOKEN: f" {TOKEN} ", ENV_PASSWORD: ""})
    assert d.token == TOKEN and d.password is None
    assert dashboard_from_env(root, environ={}).protected is False


def test_cli_refuses_another_address_with_one_line(toolkit_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    monkeypatch.delenv(ENV_PASSWORD, raising=False)
    done = toolkit_cli(["dashboard", "--ip", "0.0.0.0", "--port", str(_free_port())])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: --ip: got '0.0.0.0'")


def test_cli_refuses_a_ledger_url_it_cannot_read_with_one_line(toolkit_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    monkeypatch.delenv(ENV_PASSWORD, raising=False)
    done = toolkit_cli(["dashboard", "--port", str(_free_port()), "--db-url", "nonsense://x"])
    assert done.returncode == 2
    assert done.stdout == ""  # nothing was served: the first line is printed only before voila starts
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: --db-url: got 'nonsense://x'; allowed: ")
