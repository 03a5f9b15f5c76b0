"""`make screenshots`: the README's pictures of the control panel, regenerated from real runs.

The panel is served by ``toolkit dashboard`` over the bench's ledger (5 years of the SMA
crossover's daily dry-run sessions, ``toolkit replay`` 2014..2018, account ``dry-run``, plus
two years of the v3.5b dry-run account) and photographed whole in headless Chromium: the
v3.5b account at 1280 px (desktop: its regime cells colour the equity chart) and the SMA
account at 768 px (tablet).
The PNGs are reduced to a 256-colour palette (flat UI colours survive it) so the
repository stays small:

    docs/screenshots/control-panel-1280.png
    docs/screenshots/control-panel-768.png

and the top of the backtest report (headline and first chart, 1280 px) of a fresh
``toolkit run backtest`` on the default params, opened from file:// as a reader would:

    docs/screenshots/backtest_report.png

``python bench/screenshots.py report`` (or ``panel``) makes only that one (those).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import ACCOUNT, V35B_ACCOUNT, served_five_years, wait_idle  # noqa: E402
from support.browser import TOOLKIT, browser_missing, full_page_png, new_browser  # noqa: E402
from support.panel_page import PanelPage  # noqa: E402

from toolkit.widgets import dom  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SHOTS = ((1280, V35B_ACCOUNT, "QQQ"), (768, ACCOUNT, "NASDAQ"))


def small_png(png: bytes) -> bytes:
    """``png`` with a 256-colour palette, optimised."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


#: Extra CSS px below the report's first chart in its picture.
REPORT_MARGIN_PX = 16
_FIRST_CHART_BOTTOM_JS = """const div = document.querySelector('div.plotly-graph-div');
if (!div || !div.querySelector('.main-svg')) return null;
return Math.ceil(div.getBoundingClientRect().bottom + window.scrollY);"""


def backtest_report_shot(tmp: Path) -> Path:
    """docs/screenshots/backtest_report.png: the top of a fresh default backtest's report.html."""
    from selenium.webdriver.support.ui import WebDriverWait

    done = subprocess.run([*TOOLKIT, "run", "backtest", "--params", "params/backtest/sma_crossover.yaml",
                           "--outputs", str(tmp / "out")], cwd=ROOT, check=True, capture_output=True, text=True)
    report = Path(done.stdout.strip().splitlines()[-1]) / "report.html"
    driver = new_browser(1280, tmp / "profile-report")
    try:
        driver.get(report.resolve().as_uri())
        driver.execute_script("document.documentElement.style.overflow = 'hidden'")  # no scrollbar in the picture
        bottom = int(WebDriverWait(driver, 60).until(lambda d: d.execute_script(_FIRST_CHART_BOTTOM_JS)))
        size = {"width": 1280, "height": bottom + REPORT_MARGIN_PX, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", size)
        path = OUT / "backtest_report.png"
        path.write_bytes(small_png(driver.get_screenshot_as_png()))
    finally:
        driver.quit()
    return path


def panel_shots(tmp: Path) -> list[Path]:
    """docs/screenshots/control-panel-{1280,768}.png from the bench's served ledger."""
    paths = []
    with served_five_years(tmp, with_v35b=True) as (server, _):
        for width, account, symbol in SHOTS:
            wait_idle(server)
            driver = new_browser(width, tmp / f"profile-{width}")
            try:
                page = PanelPage(driver, server.url).open()
                page.select_account(account)
                page.wait_text(dom.POSITIONS, symbol)
                page.wait_css(f".{dom.EQUITY} svg")
                path = OUT / f"control-panel-{width}.png"
                path.write_bytes(small_png(full_page_png(driver)))
            finally:
                driver.quit()
            paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    if reason := browser_missing():
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1
    which = set(argv) or {"panel", "report"}
    if which - {"panel", "report"}:
        print(f"error: screenshots: got {' '.join(sorted(which))}; allowed: panel, report", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = (panel_shots(Path(tmp)) if "panel" in which else []) + \
            ([backtest_report_shot(Path(tmp))] if "report" in which else [])
    for path in paths:
        print(f"{path.relative_to(ROOT)}  ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
