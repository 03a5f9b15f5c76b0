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
from toolkit.ops.dashboard import ENV_PASSWORD, ENV_TOKEN, FILE_ALLOWLIST, NOTEBOOK, Dashboard, dashboard_from_env

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-unit-0123456789"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project root with a control panel notebook (its content does not matter before voila starts)."""
    (tmp_path / NOTEBOOK).parent.mkdir(parents=True)
    (tmp_path / NOTEBOOK).write_text("{}")
    return tmp_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("ip", ["127.0.0.1", "localhost"])
def test_loopback_needs_no_token(root: Path, ip: str) -> None:
    Dashboard(root=root, ip=ip, port=_free_port()).check()


@pytest.mark.parametrize("ip", ["0.0.0.0", "::", "127.0.0.2", "192.168.1.10"])
def test_other_addresses_are_refused_without_token_or_password(root: Path, ip: str) -> None:
    with pytest.raises(ParamsError) as err:
        Dashboard(root=root, ip=ip, port=_free_port()).check()
    assert err.value.field == "--ip"
    assert ENV_TOKEN in str(err.value) and ENV_PASSWORD in str(err.value)
    assert "\n" not in str(err.value)


def test_another_address_is_accepted_with_a_token(root: Path) -> None:
    Dashboard(root=root, ip="127.0.0.2", port=_free_port(), token=TOKEN).check()
    Dashboard(root=root, ip="127.0.0.2", port=_free_port(), password="pw").check()


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
    cfg = Dashboard(root=root, ip="127.0.0.2", port=8899, token=TOKEN).voila_config()
    assert (cfg.Voila.ip, cfg.Voila.port, cfg.Voila.port_retries) == ("127.0.0.2", 8899, 0)
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
])
def test_only_archived_reports_and_tables_are_served(path: str, served: bool) -> None:
    # voila matches each pattern against the whole path under its root (re.fullmatch, no case)
    assert any(re.fullmatch(p, path, re.IGNORECASE) for p in FILE_ALLOWLIST) is served


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
