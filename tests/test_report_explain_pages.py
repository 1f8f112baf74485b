"""The report's explain pages (issue 17): every toxicity rate the report shows links to a page
listing what `warehouse explain` shows for it, written by the report asset in the same run.
On the session's park2023 run (conftest `park_run`); one page opened in headless Chromium."""

from __future__ import annotations

import csv
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.report.explain_pages import RATES_TABLE, page_name
from dagster_project.lib.report.formatting import rate_text
from headless_chromium import CHROMEDRIVER, CHROMIUM, headless_chromium
from schemas.lineage import key_sql
from schemas.vocabulary import GRADE_CATEGORIES

CRS_ANY = "toxicity=CRS|criteria={criteria}|group_by=overall|group_value=all|grade_category=any"


@pytest.fixture(scope="module")
def park(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return park_run


def report_path(run) -> Path:
    return run.root / "reports" / "warehouse_report.html"  # <data dir>/reports, data dir = the warehouse's


def serving_rows(run, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(run.serving), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


class _Page(HTMLParser):
    """The links (href -> text) and the tagged rows (class subject / delivered) of a page."""

    def __init__(self):
        super().__init__()
        self.links: dict[str, str] = {}
        self.rows: list[dict[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self._href, self._text = attrs["href"], []
        if tag == "tr" and attrs.get("class") in ("subject", "delivered"):
            self.rows.append(attrs)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links[self._href] = "".join(self._text).strip()
            self._href = None

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@cache
def file_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def crs_any_cell(run) -> tuple[str, str, int, str]:
    """(study_id, key, n_subjects, the cell as the report prints it) of CRS any, overall."""
    [(study, key, n, total, pct, low, high)] = serving_rows(
        run, f"select study_id, {key_sql(RATES_TABLE)}, n_subjects, n_total, pct, ci_low_pct, ci_high_pct "
             f"from {RATES_TABLE} where toxicity = 'CRS' and group_by = 'overall' and grade_category = 'any'")
    return study, key, n, rate_text(n, total, pct, low, high)


def test_every_rate_shown_links_to_an_existing_page(park):
    report = report_path(park)
    links = {h: t for h, t in parse(report).links.items() if h.startswith("explain/")}
    pages = {p.name for p in (report.parent / "explain").glob("*.html")}
    shown = serving_rows(park, f"select study_id, {key_sql(RATES_TABLE)} from {RATES_TABLE} "
                               "where grade_category in (select unnest(?::varchar[]))", [list(GRADE_CATEGORIES)])
    assert len(links) == len(shown) > 0
    assert {f"explain/{page_name(s, RATES_TABLE, k)}" for s, k in shown} == set(links)
    assert {h.removeprefix("explain/") for h in links} == pages  # no page without a link, none stale
    for href, text in links.items():
        assert re.fullmatch(r"\d+/\d+ \d+\.\d% \(\d+\.\d-\d+\.\d\)", text), (href, text)  # the rate is the link
        assert "../warehouse_report.html" in parse(report.parent / href).links


def test_the_crs_any_page_lists_its_counted_subjects_and_their_delivered_rows(park):
    study, key, n_subjects, cell = crs_any_cell(park)
    report = report_path(park)
    href = f"explain/{page_name(study, RATES_TABLE, key)}"
    assert parse(report).links[href] == cell
    page = parse(report.parent / href)
    subjects = [r["data-subject"] for r in page.rows if r["class"] == "subject"]
    with_crs = {s for (s,) in serving_rows(
        park, "select subject_id from marts.fct_subject_endpoints where study_id = ? and crs_max_grade >= 1", [study])}
    assert len(subjects) == len(set(subjects)) == n_subjects > 0
    assert set(subjects) == with_crs
    delivered = [r for r in page.rows if r["class"] == "delivered"]
    assert {r["data-subject"] for r in delivered} == with_crs  # every counted subject has its deciding rows
    for row in delivered:
        path = park.landing / row["data-file"]
        assert path.is_file(), row
        rows = file_rows(path)
        number = int(row["data-row"])
        assert 1 <= number <= len(rows)
        cells = rows[number - 1]  # row 1 = the first data row after the header
        assert cells["subject_id"] == row["data-subject"], row
        assert int(cells["crs_grade"]) >= 1, row


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="no Chromium/chromedriver")
def test_a_rate_link_opens_its_page_in_a_browser(park, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    study, key, n_subjects, cell = crs_any_cell(park)
    href = f"explain/{page_name(study, RATES_TABLE, key)}"
    with_crs = sorted(s for (s,) in serving_rows(
        park, "select subject_id from marts.fct_subject_endpoints where study_id = ? and crs_max_grade >= 1", [study]))
    with headless_chromium(tmp_path) as driver:
        driver.get(report_path(park).as_uri())
        link = driver.find_element("css selector", f"a[href='{href}']")
        assert link.text == cell
        link.click()
        WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith(href))
        body = driver.find_element("tag name", "body").text
        assert f"{n_subjects} counted subjects" in body
        assert all(s in body for s in with_crs)
        assert "toxicity_assessments/" in body
        rows = driver.find_elements("css selector", "table.subjects tr.subject")
        assert sorted(r.get_attribute("data-subject") for r in rows) == with_crs
