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
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import ACCOUNT, V35B_ACCOUNT, served_five_years, wait_idle  # noqa: E402
from support.browser import browser_missing, full_page_png, new_browser  # noqa: E402
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


def main() -> int:
    if reason := browser_missing():
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, served_five_years(Path(tmp), with_v35b=True) as (server, _):
        for width, account, symbol in SHOTS:
            wait_idle(server)
            driver = new_browser(width, Path(tmp) / f"profile-{width}")
            try:
                page = PanelPage(driver, server.url).open()
                page.select_account(account)
                page.wait_text(dom.POSITIONS, symbol)
                page.wait_css(f".{dom.EQUITY} svg")
                path = OUT / f"control-panel-{width}.png"
                path.write_bytes(small_png(full_page_png(driver)))
            finally:
                driver.quit()
            print(f"{path.relative_to(ROOT)}  ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
