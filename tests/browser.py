"""Headless Chromium for the tests of the HTML the project writes (Data Docs, `lake report`).

Chromium and its driver come from the system's packages (Debian: `chromium`,
`chromium-driver`; `scripts/setup.sh` checks for them). Selenium is given both paths, so its
driver manager never tries to download a browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def _which(names: tuple[str, ...], env: str) -> str:
    if os.environ.get(env):
        return os.environ[env]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        f"none of {', '.join(names)} is installed (set {env}); Debian/Ubuntu: apt-get install chromium chromium-driver"
    )


@contextmanager
def headless_chromium() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = _which(BROWSERS, "LAKE_CHROMIUM")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(_which(DRIVERS, "LAKE_CHROMEDRIVER")))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The page's console messages of level SEVERE (script errors, failed loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def open_file(driver: webdriver.Chrome, path: Path) -> None:
    driver.get(Path(path).resolve().as_uri())
