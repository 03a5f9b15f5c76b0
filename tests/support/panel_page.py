"""The control panel page as a test reads and drives it, by the class names of toolkit.widgets.dom.

Every wait is a ``WebDriverWait`` on a condition (text shown, element present), never a
fixed sleep; a timeout only bounds how long a broken page may take to fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.widgets import dom

#: Upper bound of any wait on the page (a kernel on a loaded 2-core machine can be slow).
TIMEOUT_S = 60.0


@dataclass
class PanelPage:
    """One browser tab showing the panel at ``url``."""

    driver: Any
    url: str

    # ----------------------------------------------------------------- reading

    def open(self) -> PanelPage:
        """Navigate and wait until the panel has drawn its first ledger read (dom.READY)."""
        self.driver.get(self.url)
        self.wait_css(f".{dom.PANEL}.{dom.READY}")
        return self

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, cls: str) -> str:
        """The visible text of the element of class ``cls`` ('' when there is none)."""
        found = self.find_all(f".{cls}")
        return str(found[0].text) if found else ""

    def rows(self, cls: str) -> list[list[str]]:
        """The cells of each body row (a ``tr`` with ``td`` cells) of the tables inside ``cls``."""
        script = """return Array.from(arguments[0].querySelectorAll('tr')).filter(r => r.querySelector('td'))
                      .map(r => Array.from(r.querySelectorAll('td'), c => c.textContent.trim()));"""
        return [list(r) for r in self.driver.execute_script(script, self.find(f".{cls}"))]

    def wait(self, condition: Callable[[], Any], message: str = "", timeout: float = TIMEOUT_S) -> Any:
        """Wait until ``condition()`` is truthy; returns its value."""
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(lambda _: condition(), message)

    def wait_css(self, css: str, timeout: float = TIMEOUT_S) -> Any:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)),
                                                         f"nothing matches {css}")

    def wait_text(self, cls: str, *needles: str, timeout: float = TIMEOUT_S) -> str:
        """Wait until the text of ``cls`` holds every one of ``needles``; returns that text."""
        return str(self.wait(lambda: (t := self.text(cls)) and all(n in t for n in needles) and t,
                             f".{cls} never showed {needles!r}; it shows {self.text(cls)!r}", timeout))

    # ----------------------------------------------------------------- acting

    def select_account(self, name: str) -> None:
        """Choose ``name`` in the account dropdown (its label starts with the account name)."""
        from selenium.webdriver.support.ui import Select

        select = Select(self.find(f".{dom.ACCOUNT} select"))
        labels = [o.text for o in select.options]
        chosen = [label for label in labels if label == name or label.startswith(f"{name} ")]
        assert chosen, f"account {name!r} is not offered; the dropdown has {labels}"
        select.select_by_visible_text(chosen[0])

    def type_into(self, cls: str, text: str) -> None:
        """Replace the value of the input inside (or of) the element of class ``cls`` with ``text``, as typed.

        Select-all, then the keys: the first key replaces the old value. (``clear()`` first
        would leave a number box empty, which ipywidgets answers by putting the old value
        back, so the keys would be appended to it.)
        """
        from selenium.webdriver.common.keys import Keys

        box = self.find(f".{cls}")
        field = box if box.tag_name in ("input", "textarea") else box.find_element("css selector", "input, textarea")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(text or Keys.DELETE)

    def click(self, cls: str) -> None:
        """Click the button of class ``cls`` once it is enabled."""
        self.wait(lambda: self.enabled(cls), f".{cls} stays disabled")
        self.button(cls).click()

    def button(self, cls: str) -> Any:
        box = self.find(f".{cls}")
        return box if box.tag_name == "button" else box.find_element("css selector", "button")

    def enabled(self, cls: str) -> bool:
        return bool(self.button(cls).is_enabled())

    # ----------------------------------------------------------------- layout

    def horizontal_overflow(self) -> dict[str, int]:
        """Widths of the panel's root and of the viewport: scrolled (content) vs shown."""
        script = """const r = document.querySelector(arguments[0]);
            return {root_scroll: r.scrollWidth, root_client: r.clientWidth,
                    root_right: Math.ceil(r.getBoundingClientRect().right), viewport: window.innerWidth,
                    document_scroll: document.documentElement.scrollWidth};"""
        return {k: int(v) for k, v in self.driver.execute_script(script, f".{dom.PANEL}").items()}
