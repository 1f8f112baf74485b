"""The Dagster UI in a real browser: `dagster dev` on a free loopback port, Debian's headless
Chromium driven by Selenium to the asset graph and an asset page, screenshots, clean shutdown.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium chromium-driver`,
done by .ci/run); skipped without them. Screenshots go to the test's tmp folder and are copied
to data/screenshots/ (git-ignored).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import sys
import time
import urllib.parse
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import psutil
import pytest

from conftest import generate_cohort, warehouse_env
from dagster_dev import REPO, DagsterDev, is_alive
from headless_chromium import CHROMEDRIVER, CHROMIUM, headless_chromium

SCREENSHOTS = REPO / "data" / "screenshots"

INGEST_ASSET = "raw/toxicity_assessments"
INGEST_CHECK = "rows_accounted"
MART_ASSET = "marts/agg_toxicity_rates"
# Every asset on a path from the ingest asset to the mart (Dagster's selection syntax).
PATH_SELECTION = f'key:"{INGEST_ASSET}"+ and +key:"{MART_ASSET}"'

# The instance of this test: no telemetry, and no run is ever launched by the daemon (the
# nightly schedule is RUNNING by default); the UI only reads what the fixture materialized.
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 0
"""

pytestmark = [
    # On a developer machine without the browser the module is skipped; in CI (.ci/run installs
    # it) a missing browser is a failure, never a silent skip.
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get("CI"),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
    pytest.mark.timeout(900),
]

# CSS-module class names carry a build hash; match on their stable prefix.
NODE_NAMES_JS = """
return Array.from(document.querySelectorAll('[class*="AssetNode_assetName"]')).map(e => {
  const t = e.querySelector('[title]');
  return (t ? t.getAttribute('title') : e.textContent).trim();
});
"""
EDGES_JS = "return document.querySelectorAll('svg path[marker-end]').length;"


def _label_matches(label: str, name: str) -> bool:
    """A node label is the name, or the name middle-truncated with an ellipsis."""
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return name.startswith(head) and name.endswith(tail) and len(head) + len(tail) < len(name)


def _run_in_process(root: Path) -> tuple[int, str]:
    """The whole pipeline, as `make demo` runs it, into the instance under root."""
    from dagster_project.run import run_pipeline

    saved = dict(os.environ)
    buffer = io.StringIO()
    try:
        os.environ.update(warehouse_env(root))
        with redirect_stdout(buffer):
            code = run_pipeline()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, buffer.getvalue()


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The park2023 cohort run as `make demo` runs it, and `warehouse dev` (what `make dev` runs)
    serving its instance; stopped with its whole group."""
    root = tmp_path_factory.mktemp("ui")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    generate_cohort("park2023", root)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    env = warehouse_env(root)
    # The landing-folder sensor (RUNNING by default) would queue a refresh for the deliveries
    # loaded below, and the UI would then show every asset and check "in progress": the server
    # watches an empty landing folder instead.
    env["WAREHOUSE_LANDING_DIR"] = str(root / "landing_watched_by_ui")
    (root / "landing_watched_by_ui").mkdir()
    timings["cohort"] = time.monotonic() - t0

    dev = DagsterDev(env, root / "dagster_dev.log", command=[sys.executable, "-m", "dagster_project.cli", "dev"])
    dev.start()
    try:
        t1 = time.monotonic()
        code, output = _run_in_process(root)  # while the server loads the definitions
        timings["run"] = time.monotonic() - t1
        dev.demo_run_id = re.search(r"run (\S+) succeeded", output).group(1)
        assert code == 0, output[-3000:]
        timings["server_ready"] = dev.wait_ready(timeout=240)
        dev.graphql("mutation { setNuxSeen }")  # no "Join the Dagster community" dialog
        shots = root / "screenshots"
        shots.mkdir()
        yield dev, root, shots, timings
    finally:
        report = dev.stop(grace=30)
        print(f"\ntimings (s): {timings}; dagster dev stop: {report}")
    assert not report["left"], f"processes left after stopping dagster dev: {report['left']}"
    assert not [p for p in dev.processes() if is_alive(p)]


@pytest.fixture(scope="module")
def browser(ui):
    _, root, _, _ = ui
    with headless_chromium(root) as driver:
        yield driver


def _wait(driver, condition, timeout: float, what: str, page_dump: Path):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # an element read while the page re-renders is stale: poll again (selenium's own remedy)
        return WebDriverWait(driver, timeout, poll_frequency=0.5,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))
    except TimeoutException:
        page_dump.write_text(driver.page_source)
        driver.save_screenshot(str(page_dump.with_suffix(".png")))
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; page saved to {page_dump}") from None


def _shot(driver, shots: Path, name: str) -> Path:
    path = shots / name
    assert driver.save_screenshot(str(path)), f"screenshot {name} not saved"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / name)
    return path


def test_webserver_listens_on_loopback_only(ui):
    dev, _, _, _ = ui
    listening = dev.listening()
    assert (dev.url.split("//")[1].split(":")[0], dev.port) in {(ip, port) for _, ip, port in listening}
    assert all(ip in ("127.0.0.1", "::1") for _, ip, _ in listening), listening  # code servers use unix sockets
    others = [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
              if a.family == socket.AF_INET and not a.address.startswith("127.")]
    for address in others:
        with pytest.raises(OSError):
            socket.create_connection((address, dev.port), timeout=3).close()


def test_asset_graph_shows_lineage_from_ingest_to_mart(ui, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    dev, _, shots, timings = ui
    t0 = time.monotonic()
    # The global asset graph ("Lineage" in the navigation), filtered to every path from the
    # ingest asset to the mart: /asset-groups~<selection>.
    browser.get(f"{dev.url}/asset-groups~" + urllib.parse.quote(PATH_SELECTION, safe=""))
    _wait(browser, lambda d: all(g in d.find_element("tag name", "body").text for g in ("ingest", "staging", "marts")),
          120, "the groups of the selection in the asset graph", shots / "graph_timeout.html")
    body = browser.find_element("tag name", "body").text
    assert "Global asset lineage" in body and PATH_SELECTION in body  # the filter box holds the selection
    for button in browser.find_elements("xpath", "//input[@placeholder='Jump to…']/following::button[1]"):
        button.click()  # hide the asset tree beside the graph: more room, full-size nodes
    time.sleep(1)
    if not browser.execute_script(NODE_NAMES_JS):  # groups start collapsed: ⌥E expands them all
        ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    # the path of the adjudicated grades to the rates: daily grades by criteria (with the rows
    # holding them), the criteria a study reports, the max grade per subject (daily grades, else
    # the summary)
    expected = ["toxicity_assessments", "stg_clinical__toxicity_assessments", "int_toxicity_adjudicated_daily",
                "int_toxicity_criteria", "int_toxicity_max_grades", "agg_toxicity_rates"]
    names = _wait(browser, lambda d: (n := d.execute_script(NODE_NAMES_JS)) and all(
        any(_label_matches(label, e) for label in n) for e in expected) and n,
        60, f"asset nodes {expected}", shots / "graph_timeout.html")
    assert len(names) == len(expected), names  # nothing but the path is selected
    # Edges are drawn after the nodes (layout animation): wait for all of them.
    edges = _wait(browser, lambda d: (e := d.execute_script(EDGES_JS)) >= len(expected) - 1 and e,
                  30, f"{len(expected) - 1} edges between {names}", shots / "edges_timeout.html")
    assert edges >= len(expected) - 1, f"{edges} edges drawn between {names}"
    time.sleep(1)  # let the fit-to-screen animation settle
    _shot(browser, shots, "asset_graph_lineage.png")

    # The mart's own lineage tab, everything upstream: the ingest group with its assets.
    browser.get(f"{dev.url}/assets/{MART_ASSET}?view=lineage&lineageScope=upstream&lineageDepth=10")
    upstream = ["agg_toxicity_rates", "toxicity_assessments", "subjects"]  # the mart, two ingest assets
    names = _wait(browser, lambda d: (n := d.execute_script(NODE_NAMES_JS)) and all(
        any(_label_matches(label, e) for label in n) for e in upstream) and n,
        120, f"the upstream lineage graph with {upstream}", shots / "upstream_timeout.html")
    assert len(names) > len(expected), names
    assert "ingest" in browser.find_element("tag name", "body").text
    zoom_out = browser.find_elements("xpath", "//button[.//*[@aria-label='zoom_out']]")
    if zoom_out:  # the graph opens centred on the mart; one step out shows the ingest group too
        zoom_out[0].click()
    time.sleep(1)
    _shot(browser, shots, "agg_toxicity_rates_upstream.png")
    timings["browser_lineage"] = time.monotonic() - t0


def test_asset_page_shows_checks_and_metadata(ui, browser):
    from dagster_project.defs.ingest.assets import accounting

    dev, root, shots, timings = ui
    t0 = time.monotonic()
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute('select count(*) from raw."toxicity_assessments"').fetchone()[0]
        totals = accounting(con, "toxicity_assessments")
    assert rows > 0 and totals["delivered"] > 0

    # Overview: the latest materialization's metadata table and the row count.
    browser.get(f"{dev.url}/assets/{INGEST_ASSET}")
    xpath_keys = "//table[thead//td[normalize-space(.)='Key']]/tbody/tr/td[1]"
    keys = _wait(browser, lambda d: (k := {e.text.strip() for e in d.find_elements("xpath", xpath_keys)})
                 and {"new_deliveries", "total_delivered", "deliveries"} <= k and k,
                 90, "the materialization metadata table", shots / "overview_timeout.html")
    assert {"new_rows_accepted", "total_accepted", "total_quarantined"} <= keys, keys
    row_count_xpath = "//span[normalize-space(.)='Row count']/following-sibling::*[1]"
    _wait(browser, lambda d: (r := d.find_elements("xpath", row_count_xpath)) and r[0].text.replace(",", "").strip() == str(rows),
          30, f"Row count {rows} (dagster/row_count)", shots / "overview_timeout.html")
    _shot(browser, shots, "toxicity_assessments_overview.png")
    table = browser.find_element("xpath", "//table[thead//td[normalize-space(.)='Key']]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", table)
    time.sleep(0.5)
    assert table.is_displayed()
    _shot(browser, shots, "toxicity_assessments_metadata.png")

    # Checks tab: the blocking check listed, its latest evaluation passed, with its counts.
    browser.get(f"{dev.url}/assets/{INGEST_ASSET}?" + urllib.parse.urlencode({"view": "checks", "checkDetail": INGEST_CHECK}))
    status_xpath = f"//div[@title='{INGEST_CHECK}']/following-sibling::span"
    _wait(browser, lambda d: (s := d.find_elements("xpath", status_xpath)) and s[0].text.strip() == "Succeeded",
          90, f"check {INGEST_CHECK} listed as Succeeded", shots / "checks_timeout.html")
    # The detail pane of the check: its latest evaluation and the counts it carries as metadata.
    result_xpath = "//span[normalize-space(.)='Evaluation result']/following-sibling::div"
    _wait(browser, lambda d: (r := d.find_elements("xpath", result_xpath)) and r[0].text.strip() == "Passed",
          30, "evaluation result Passed", shots / "checks_timeout.html")
    body = browser.find_element("tag name", "body").text
    assert re.search(r"Checks \(\d+\)", body) and "This is a blocking asset check." in body
    cells_xpath = "//table[contains(@class, 'MetadataEntry_structuredContentTable')]//tr[td]"
    expected = {k: str(v) for k, v in totals.items()}
    shown = _wait(browser, lambda d: (t := {c.find_element("xpath", "td[1]").text: c.find_element("xpath", "td[2]").text
                                            for c in d.find_elements("xpath", cells_xpath)}) == expected and t,
                  30, f"check metadata {expected}", shots / "checks_timeout.html")
    assert shown["delivered"] == str(int(shown["accepted"]) + int(shown["quarantined"]))
    _shot(browser, shots, "toxicity_assessments_checks.png")
    timings["browser_asset_page"] = time.monotonic() - t0


RUNS_QUERY = "query { runsOrError(limit: 50) { ... on Runs { results { runId status } } } }"


def _body(driver) -> str:
    return driver.find_element("tag name", "body").text


def test_dev_shows_the_run_of_the_demo(ui, browser):
    """`make dev` serves the instance `make demo` wrote: its run is listed, succeeded."""
    dev, _, shots, _ = ui
    runs = dev.graphql(RUNS_QUERY)["data"]["runsOrError"]["results"]
    assert {"runId": dev.demo_run_id, "status": "SUCCESS"} in runs
    browser.get(f"{dev.url}/runs")
    _wait(browser, lambda d: dev.demo_run_id[:8] in _body(d), 90, "the demo's run in the run list",
          shots / "runs_timeout.html")
    _shot(browser, shots, "runs.png")


def test_toxicity_rates_page_shows_the_crs_any_row(ui, browser):
    """The headline of agg_toxicity_rates, visible on its asset page: CRS any as n/N, the counts
    taken here from fct_subject_endpoints (one row per infused subject)."""
    dev, root, shots, _ = ui
    with duckdb.connect(str(root / "serving.duckdb"), read_only=True) as con:
        n, total = con.execute("select count(*) filter (where crs_max_grade >= 1), count(*) "
                               "from marts.fct_subject_endpoints").fetchone()
    browser.get(f"{dev.url}/assets/{MART_ASSET}")
    _wait(browser, lambda d: f"{n}/{total}" in _body(d) and "CRS" in _body(d), 90,
          f"the CRS any cell {n}/{total} on the page", shots / "rates_timeout.html")
    _shot(browser, shots, "agg_toxicity_rates_headline.png")


def test_quarantine_page_lists_a_quarantined_row(ui, browser):
    dev, root, shots, _ = ui
    with duckdb.connect(str(root / "serving.duckdb"), read_only=True) as con:
        file_name, rule = con.execute("select file_name, rule from audit.quarantine "
                                      "order by quarantined_at desc, file_name, row_number limit 1").fetchone()
    browser.get(f"{dev.url}/assets/raw/quarantine")
    _wait(browser, lambda d: file_name in _body(d) and rule in _body(d), 90,
          f"quarantined row of {file_name} ({rule}) on the page", shots / "quarantine_timeout.html")
    _shot(browser, shots, "raw_quarantine.png")


def test_a_figure_renders_from_the_asset_page(ui, browser):
    """A figure is one click away on its asset page: Dagster 1.13 shows markdown metadata longer
    than 1,000 characters (every embedded PNG) behind "[Show Markdown]", in a pop-up the figure
    fits (figures/render.py keeps every figure within 1,100 px)."""
    dev, _, shots, _ = ui
    browser.get(f"{dev.url}/assets/analysis/km_curves")
    row = "//tr[.//*[normalize-space(.)='figure_km_os_overall']]"
    link = _wait(browser, lambda d: (a := d.find_elements("xpath", row + "//a[contains(., 'Show Markdown')]")) and a[0],
                 90, "the figure's metadata row", shots / "figure_timeout.html")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    link.click()
    images_js = ("return Array.from(document.images).filter(i => i.src.startsWith('data:image/png') && "
                 "i.naturalWidth > 0 && i.getBoundingClientRect().width > 0).map(i => i.naturalWidth);")
    widths = _wait(browser, lambda d: d.execute_script(images_js), 60, "the figure rendered in the pop-up",
                   shots / "figure_timeout.html")
    assert max(widths) <= 1100, widths
    _shot(browser, shots, "km_os_overall_figure.png")
