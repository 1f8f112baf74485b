"""The Great Expectations Data Docs open from disk with no network: no page loads anything remote
(GX's templates load their CSS and JS from CDNs and the logo from a URL carrying the data
context id; gx_runner._make_offline rewrites them), and in headless Chromium with every remote
request blocked the index lists the suite and a validation page shows its failure.

The browser half needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium
chromium-driver`, done by .ci/run): skipped without them on a developer machine, a failure in CI.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from headless_chromium import CHROMEDRIVER, CHROMIUM, headless_chromium
from dagster_project.lib.quality.gx_runner import GxFolders
from test_gx_suites import COHORT, VALID, check
from schemas import gx_suites as S

TABLE = "marts.agg_consort"
SUITE = S.suite_name(TABLE)
needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
REMOTE = re.compile(r"^\s*(?:https?:)?//", re.I)
CSS_REMOTE = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> GxFolders:
    """Data Docs of one suite: a passing run, then a run with one step count off."""
    root = tmp_path_factory.mktemp("data_docs")
    folders = GxFolders(root=root / "gx", docs=root / "docs")
    expectations = S.agg_consort(COHORT)
    assert check(SUITE, expectations, VALID[TABLE], folders, run_name="passing").success
    broken = VALID[TABLE].assign(n_subjects=[3, 9, 1, 2, 2, 1, 1, 0, 1, 1])  # more infused than enrolled
    failed = check(SUITE, expectations, broken, folders, run_name="failing")
    assert not failed.success and failed.validation_page is not None
    return folders


class _Resources(HTMLParser):
    """What a page would load: the src of scripts, images, frames and media, the href of every
    <link>, CSS urls and imports in <style> and style attributes. (An <a href> is not loaded.)"""

    LOADING = {"script": "src", "img": "src", "iframe": "src", "frame": "src", "embed": "src", "source": "src",
               "video": "src", "audio": "src", "track": "src", "input": "src", "object": "data", "link": "href"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.LOADING and attrs.get(self.LOADING[tag]):
            self.urls.append(attrs[self.LOADING[tag]])
        if attrs.get("srcset"):
            self.urls.append(attrs["srcset"])
        if attrs.get("style"):
            self.css.append(attrs["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)


def test_no_page_loads_anything_remote(docs):
    pages = sorted(docs.docs.rglob("*.html"))
    kinds = {p.relative_to(docs.docs).parts[0] for p in pages}
    assert {"index.html", "expectations", "validations"} <= kinds, pages
    assert len(list((docs.docs / "validations").rglob("*.html"))) == 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parser = _Resources()
        parser.feed(text)
        remote = [u for u in parser.urls if REMOTE.match(u)]
        assert not remote, f"{page.relative_to(docs.docs)} loads {remote}"
        remote_css = [c for c in parser.css if CSS_REMOTE.search(c)]
        assert not remote_css, f"{page.relative_to(docs.docs)} styles load {remote_css}"
        assert "dataContextId" not in text, page
        local = [u for u in parser.urls if not u.startswith(("data:", "#"))]
        missing = [u for u in local if not (page.parent / u.split("?")[0]).exists()]
        assert not missing, f"{page.relative_to(docs.docs)} refers to missing local files {missing}"
    for sheet in (docs.docs / "static").rglob("*.css"):
        assert not CSS_REMOTE.search(sheet.read_text(encoding="utf-8")), sheet


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium whose host names all fail to resolve, with every http(s) URL blocked
    (DevTools), and a log of each request the page makes."""
    with headless_chromium(tmp_path_factory.mktemp("chromium"), window="1600,1000", page_load_timeout=30,
                           extra_flags=["--host-resolver-rules=MAP * ~NOTFOUND"], request_log=True) as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        yield driver


def _requests(driver) -> list[str]:
    """The URLs requested since the last call (the performance log is drained by reading it)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@needs_browser
def test_index_lists_the_suite_with_the_network_blocked(docs, browser, tmp_path):
    from selenium.webdriver.common.by import By

    _requests(browser)
    browser.get(docs.index.as_uri())
    text = browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(tmp_path / "index.png"))
    requested = _requests(browser)
    assert requested and all(u.startswith(("file:", "data:")) for u in requested), requested
    # both runs in the validation results, the suite in the list of suites, styled by the local CSS
    assert text.count(SUITE) >= 3, text
    assert "passing" in text and "failing" in text and "Expectation Suites" in text
    title = browser.find_element(By.CSS_SELECTOR, ".alert-secondary")
    assert title.value_of_css_property("background-color") == "rgba(226, 227, 229, 1)"
    logo = browser.find_element(By.CSS_SELECTOR, ".navbar-brand img")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", logo) > 0


@needs_browser
def test_a_failed_validation_opens_from_the_index_and_filters_to_its_failures(docs, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(docs.index.as_uri())
    _requests(browser)
    rows = browser.find_elements(By.CSS_SELECTOR, "#Validation-Results tbody tr")
    failing = [r for r in rows if "failing" in r.text]
    assert len(rows) == 2 and len(failing) == 1, [r.text for r in rows]
    failing[0].find_element(By.CSS_SELECTOR, "a.row-link").click()
    assert "/validations/" in browser.current_url and "failing" in browser.current_url
    requested = _requests(browser)
    assert all(u.startswith(("file:", "data:")) for u in requested), requested
    body = browser.find_element(By.TAG_NAME, "body")
    assert "Expectation Validation Result" in body.text and "Failed" in body.text

    def shown(selector):
        return [e for e in browser.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]

    passed, failed = "tr:has(> .hide-succeeded-validation-target-child)", ".text-danger.fa-times"
    assert shown(passed) and shown(failed)
    browser.find_element(By.XPATH, "//label[contains(., 'Failed Only')]").click()
    browser.save_screenshot(str(tmp_path / "validation_failed_only.png"))
    assert not shown(passed) and shown(failed)
