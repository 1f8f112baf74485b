"""Debian's headless Chromium driven by Selenium, for the tests that look at pages (the Dagster UI,
the Data Docs): started with one set of flags, and on exit quit with every process it spawned."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psutil

from dagster_dev import is_alive

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


@contextmanager
def headless_chromium(root: Path, *, window: str = "1920,1080", extra_flags: Sequence[str] = (),
                      page_load_timeout: float = 60, request_log: bool = False) -> Iterator:
    """A Chrome WebDriver with its profile and driver log under `root`; `request_log` keeps the
    DevTools performance log (every request a page makes)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--window-size={window}", f"--user-data-dir={root / 'chromium_profile'}", *extra_flags):
        options.add_argument(flag)
    if request_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(root / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(page_load_timeout)
    driver_proc = psutil.Process(service.process.pid)
    try:
        yield driver
    finally:
        spawned = [driver_proc, *driver_proc.children(recursive=True)]  # chromedriver, chromium and its helpers
        driver.quit()
        _, alive = psutil.wait_procs(spawned, timeout=15)
        for proc in alive:
            proc.kill()
        _, alive = psutil.wait_procs(alive, timeout=5)
        left = [p for p in alive if is_alive(p)]  # a zombie has exited, only not been reaped yet
        assert not left, f"browser processes left behind: {left}"
