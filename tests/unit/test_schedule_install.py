"""``toolkit schedule install | list | remove``: real round trips through a crontab program and unit files.

The crontab program is a file-backed stand-in (tests/support/fake_crontab.py) called
exactly as the real one (``crontab -l``, ``crontab -``), so the user's crontab is never
touched; systemd is not PID 1 here, so the timer tests check the unit files written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.fake_crontab import write_fake_crontab

from toolkit.ops.crontab import Crontab, cron_schedule
from toolkit.ops.schedule_install import fire_instants, install, list_entries, remove
from toolkit.ops.schedule_target import load_target

ROOT = Path(__file__).resolve().parents[2]
USER_LINES = "# my own jobs\nMAILTO=me@example.org\n0 3 * * * /usr/local/bin/backup.sh\n"


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Crontab, Path]:
    tab = tmp_path / "crontab.txt"
    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(tab))
    monkeypatch.setenv("TOOLKIT_CRONTAB", str(write_fake_crontab(tmp_path)))
    return Crontab(), tab


def _params(tmp_path: Path, name: str, **extra: object) -> Path:
    import yaml

    folder = tmp_path / "params" / "daily_dry_run"
    folder.mkdir(parents=True, exist_ok=True)
    raw = {"strategy": "sma_crossover", "account": name, "execution_time": "5min_before_close", **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cron_lines_fire_on_every_wall_clock_minute_the_session_can_fall_on() -> None:
    instants = fire_instants("5min_before_close", lead_minutes=5, start="2026-01-01")
    # UTC: winter 20:50, summer 19:50, early closes 17:50 (winter) and 16:50 (summer), Monday to Friday
    assert cron_schedule(instants, "UTC") == ["50 16,17,19,20 * * 1,2,3,4,5"]
    # New York's wall clock: both daylight-saving lines are 15:50, every early close 12:50
    assert cron_schedule(instants, "America/New_York") == ["50 12,15 * * 1,2,3,4,5"]
    # Tokyo is ahead: a Friday close fires on Saturday morning there
    assert cron_schedule(instants, "Asia/Tokyo") == ["50 1,2,4,5 * * 2,3,4,5,6"]


def test_install_is_idempotent_and_leaves_other_lines_alone(tmp_path: Path, crontab) -> None:
    tab, file = crontab
    file.write_text(USER_LINES)
    target = load_target(_params(tmp_path, "acct-a"))
    first = install(target, root=ROOT, backend="cron", zone="UTC", start="2026-01-01")
    assert first.replaced == 0 and len(first.entries) == 2
    after_first = file.read_text()
    assert after_first.startswith(USER_LINES)
    fire, reboot = after_first[len(USER_LINES):].splitlines()
    assert fire.startswith("50 16,17,19,20 * * 1,2,3,4,5 cd ")
    assert " -m toolkit.cli schedule fire --params " + str(target.params_file) in fire
    assert fire.endswith(f"# toolkit-schedule id={target.entry_id} key=sma_crossover|acct-a|5min_before_close "
                         f"params={target.params_file}")
    assert reboot.startswith("@reboot sleep 120 && cd ") and " schedule run-due --params " in reboot

    again = install(target, root=ROOT, backend="cron", zone="UTC", start="2026-01-01")
    assert again.replaced == 2
    assert file.read_text() == after_first  # the same crontab, not twice the lines

    other = load_target(_params(tmp_path, "acct-b"))
    install(other, root=ROOT, backend="cron", zone="UTC", start="2026-01-01")
    listed = list_entries(backend="cron", crontab=tab)
    assert [(e.entry_id, e.when) for e in listed] == [
        (target.entry_id, "50 16,17,19,20 * * 1,2,3,4,5"), (target.entry_id, "@reboot"),
        (other.entry_id, "50 16,17,19,20 * * 1,2,3,4,5"), (other.entry_id, "@reboot")]
    assert {e.params_file for e in list_entries(other, backend="cron")} == {str(other.params_file)}

    assert remove(target, backend="cron") == 2
    assert [e.entry_id for e in list_entries(backend="cron")] == [other.entry_id] * 2
    assert file.read_text().startswith(USER_LINES)
    assert remove(None, backend="cron") == 2
    assert file.read_text() == USER_LINES
    assert remove(None, backend="cron") == 0


def test_a_user_without_a_crontab_gets_one(tmp_path: Path, crontab) -> None:
    _, file = crontab
    assert not file.exists()
    target = load_target(_params(tmp_path, "acct-a"))
    install(target, root=ROOT, backend="cron", zone="UTC", start="2026-01-01")
    assert len(list_entries(target, backend="cron")) == 2


def test_systemd_timer_units_are_written_listed_and_removed(tmp_path: Path) -> None:
    units = tmp_path / "units"
    target = load_target(_params(tmp_path, "acct-a"))
    done = install(target, root=ROOT, backend="systemd", units=units, start="2026-01-01")
    name = f"toolkit-{target.entry_id}"
    assert sorted(p.name for p in units.iterdir()) == sorted(
        f"{name}-{what}.{kind}" for what in ("fire", "run-due") for kind in ("service", "timer"))
    timer = (units / f"{name}-fire.timer").read_text()
    assert [ln for ln in timer.splitlines() if ln.startswith("OnCalendar=")] == [
        f"OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* {hm}:00 UTC" for hm in ("16:50", "17:50", "19:50", "20:50")]
    service = (units / f"{name}-fire.service").read_text()
    assert f"WorkingDirectory={ROOT}" in service
    assert f"schedule fire --params {target.params_file} --notebook daily_dry_run" in service
    assert "OnBootSec=2min" in (units / f"{name}-run-due.timer").read_text()
    assert any("systemd is not running here" in n for n in done.notes)
    listed = list_entries(backend="systemd", units=units)
    assert [(e.entry_id, e.key) for e in listed] == [(target.entry_id, target.key)] * 2
    assert install(target, root=ROOT, backend="systemd", units=units, start="2026-01-01").replaced == 4
    assert remove(target, backend="systemd", units=units) == 4
    assert list(units.iterdir()) == []


def test_cli_round_trip(tmp_path: Path, crontab, toolkit_cli) -> None:
    params = _params(tmp_path, "acct-a")
    done = toolkit_cli(["schedule", "install", "--params", str(params), "--backend", "cron"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("installed sma_crossover|acct-a|5min_before_close (cron, 2 entries):")
    listed = toolkit_cli(["schedule", "list", "--backend", "cron"])
    assert listed.stdout.count("sma_crossover|acct-a|5min_before_close") == 2
    gone = toolkit_cli(["schedule", "remove", "--params", str(params), "--backend", "cron"])
    assert gone.stdout.strip() == f"removed 2 toolkit entries of {params}"
    assert toolkit_cli(["schedule", "list", "--backend", "cron"]).stdout.strip() == "no toolkit schedule entries"


def test_bad_input_is_one_line(tmp_path: Path, toolkit_cli) -> None:
    fixed = _params(tmp_path, "acct-a", as_of="2018-06-01")
    done = toolkit_cli(["schedule", "next", "--params", str(fixed)])
    assert (done.returncode, done.stderr.strip()) == (
        2, "error: as_of: got '2018-06-01'; allowed: null in a scheduled params file (each firing trades its own "
           "session)")
    other = tmp_path / "elsewhere.yaml"
    other.write_text("strategy: sma_crossover\n")
    done = toolkit_cli(["schedule", "next", "--params", str(other)])
    assert done.returncode == 2
    assert done.stderr.startswith("error: --notebook: got None; allowed: daily_dry_run or live")
    done = toolkit_cli(["schedule", "next", "--params", str(_params(tmp_path, "b")), "--count", "0"])
    assert (done.returncode, done.stderr.strip()) == (2, "error: count: got 0; allowed: a whole number from 1 to 1000")
    done = toolkit_cli(["schedule", "install", "--params", str(_params(tmp_path, "c")), "--lead-minutes", "0"])
    assert done.returncode == 2 and "--lead-minutes: got 0" in done.stderr


def test_next_prints_new_york_and_utc_with_the_early_close_holiday_and_dst(tmp_path: Path, toolkit_cli) -> None:
    params = _params(tmp_path, "acct-a")
    done = toolkit_cli(["schedule", "next", "--params", str(params), "--after", "2026-11-25 00:00", "--count", "3"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "  session     New York       UTC                   note",
        "  2026-11-25  Wed 15:55 EST  2026-11-25 20:55 UTC",
        # 2026-11-26: Thanksgiving, no run
        "  2026-11-27  Fri 12:55 EST  2026-11-27 17:55 UTC  early close (13:00 New York)",
        "  2026-11-30  Mon 15:55 EST  2026-11-30 20:55 UTC"]
    done = toolkit_cli(["schedule", "next", "--params", str(params), "--after", "2026-03-06", "--count", "2"])
    assert done.stdout.splitlines()[2:] == [  # daylight saving starts on Sunday 2026-03-08
        "  2026-03-06  Fri 15:55 EST  2026-03-06 20:55 UTC",
        "  2026-03-09  Mon 15:55 EDT  2026-03-09 19:55 UTC"]


def test_next_refuses_a_wall_clock_time_the_dst_change_skips_or_repeats(tmp_path: Path, toolkit_cli) -> None:
    params = str(_params(tmp_path, "acct-a"))
    gap = toolkit_cli(["schedule", "next", "--params", params, "--after", "2026-03-08 02:30"])
    assert (gap.returncode, gap.stderr.strip()) == (
        2, "error: --after: got '2026-03-08 02:30'; allowed: a New York wall-clock time (this one is skipped by the "
           "daylight-saving change); give a zone, such as '2026-03-08 02:30-05:00'")
    twice = toolkit_cli(["schedule", "next", "--params", params, "--after", "2026-11-01 01:30"])
    assert (twice.returncode, twice.stderr.strip()) == (
        2, "error: --after: got '2026-11-01 01:30'; allowed: one New York wall-clock time (this one happens twice at "
           "the daylight-saving change); give a zone: '2026-11-01 01:30-04:00' (the first) or '-05:00' (the second)")
    zoned = toolkit_cli(["schedule", "next", "--params", params, "--after", "2026-11-01 01:30-05:00", "--count", "1"])
    assert zoned.returncode == 0 and "2026-11-02  Mon 15:55 EST" in zoned.stdout


def test_next_reaches_the_calendars_last_day(tmp_path: Path, toolkit_cli) -> None:
    done = toolkit_cli(["schedule", "next", "--params", str(_params(tmp_path, "acct-a")), "--after", "2035-12-25",
                        "--count", "10"])
    assert done.returncode == 0, done.stderr
    sessions = [line.split()[0] for line in done.stdout.splitlines()[2:] if line.startswith("  20")]
    assert sessions == ["2035-12-26", "2035-12-27", "2035-12-28", "2035-12-31"]
    assert done.stdout.rstrip().endswith("(the exchange calendar ends there)")


def test_install_without_a_crontab_program_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.errors import ToolkitError

    monkeypatch.setenv("TOOLKIT_CRONTAB", str(tmp_path / "no-such-crontab"))
    target = load_target(_params(tmp_path, "acct-a"))
    with pytest.raises(ToolkitError, match="no crontab program"):
        install(target, root=tmp_path / "project", backend="cron", zone="UTC", start="2026-01-01")
    assert not (tmp_path / "project").exists()


def test_systemd_install_says_how_to_keep_timers_after_logout(tmp_path: Path) -> None:
    import getpass

    target = load_target(_params(tmp_path, "acct-a"))
    off = install(target, root=ROOT, backend="systemd", units=tmp_path / "u", start="2026-01-01",
                  lingers=lambda: False)
    assert [n for n in off.notes if "linger" in n] == [
        "lingering is off for this user, so systemd stops the timers when you log out and no session runs: sudo "
        f"loginctl enable-linger {getpass.getuser()}"]
    for known in (True, None):  # on, or loginctl cannot say: nothing to add
        done = install(target, root=ROOT, backend="systemd", units=tmp_path / "u", start="2026-01-01",
                       lingers=lambda known=known: known)
        assert not [n for n in done.notes if "linger" in n]
