"""A real headless browser for tests: Debian's chromium driven by its chromium-driver.

`make install` (and .ci/run) install both from Debian when missing; no browser is ever
downloaded. Screenshots go to `test-artifacts/` (or SHIPCREW_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("SHIPCREW_TEST_ARTIFACTS")
                 or Path(__file__).parents[1] / "test-artifacts")
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _find(names: tuple[str, ...]) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


@pytest.fixture
def browser() -> Iterator[object]:
    """A selenium WebDriver on headless chromium; skips only if no chromium can be had."""
    binary, driver = _find(CHROMIUM), _find(("chromedriver",))
    if not binary or not driver:
        pytest.skip("no chromium + chromedriver on PATH: `apt-get install chromium "
                    "chromium-driver` (make install does this as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1400", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def screenshot(drv: object, name: str) -> Path:
    """Save a full-page PNG under the artifacts directory; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    height = drv.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    drv.set_window_size(1280, max(800, min(int(height) + 40, 4000)))  # type: ignore[attr-defined]
    drv.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def wait_text(drv: object, needle: str, timeout: float = 20) -> str:
    """The page's text once it shows `needle` (after a click, the next page may still load)."""
    import time

    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            text = str(drv.find_element(By.TAG_NAME, "body").text)  # type: ignore[attr-defined]
        except (StaleElementReferenceException, WebDriverException):
            text = ""
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"the page never showed {needle!r}; it shows:\n{text[:2000]}")


def click(drv: object, css: str) -> None:
    from selenium.webdriver.common.by import By

    drv.find_element(By.CSS_SELECTOR, css).click()  # type: ignore[attr-defined]
