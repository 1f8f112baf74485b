"""The report's explain pages (issue 17): every published number with row-level lineage links to
a page listing what `warehouse explain` shows for it, written by the report asset in the same
run. On the session's park2023 run (conftest `park_run`): the toxicity rates, a response rate, a
Kaplan-Meier median and a CSF p-value, each link followed in headless Chromium and its page
checked against the delivered files; then the rendering on small documents (no run)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.report import explain_pages, html_report
from dagster_project.lib.report.explain_pages import (
    CONSORT_TABLE, CSF_TABLE, INTERVENTION_TABLE, KM_TABLE, LINKED, RATES_TABLE, RESPONSE_TABLE, cell_page, lineage_key, page_name,
    render_page, write_pages,
)
from dagster_project.lib.report.formatting import num, p_text, rate_text
from dagster_project.lib.report.html_report import read_tables, render_html
from headless_chromium import CHROMEDRIVER, CHROMIUM, headless_chromium
from schemas.lineage import ANALYSIS_LINEAGE_TABLE, LINEAGE_KEYS, key_sql
from schemas.vocabulary import GRADE_CATEGORIES, RESPONSE_MEASURES

NO_ANALYSIS_LINEAGE = (f"the serving file has no {ANALYSIS_LINEAGE_TABLE} yet (the analysis assets do not write "
                       "their edges): the analysis numbers are not linked")


@pytest.fixture(scope="module")
def park(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return park_run


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module's pages."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("no Chromium/chromedriver")
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


def report_path(run) -> Path:
    return run.root / "reports" / "warehouse_report.html"  # <data dir>/reports, data dir = the warehouse's


def serving_rows(run, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(run.serving), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def needs_analysis_lineage(run) -> None:
    """Skip until the analysis assets publish their edges (then the test runs by itself)."""
    schema, name = ANALYSIS_LINEAGE_TABLE.split(".")
    if not serving_rows(run, "select 1 from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]):
        pytest.skip(NO_ANALYSIS_LINEAGE)


class _Page(HTMLParser):
    """The links (href -> text) and the tagged rows (class subject / delivered: their attributes,
    and `text`, the row's text) of a page."""

    def __init__(self):
        super().__init__()
        self.links: dict[str, str] = {}
        self.rows: list[dict[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self._href, self._text = attrs["href"], []
        if tag == "tr" and attrs.get("class") in ("subject", "delivered"):
            self.rows.append(attrs)
            self._row = []
        if tag == "td" and self._row is not None:
            self._row.append("|")

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links[self._href] = "".join(self._text).strip()
            self._href = None
        if tag == "tr" and self._row is not None:
            self.rows[-1]["text"] = "".join(self._row)
            self._row = None

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)
        if self._row is not None:
            self._row.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def of_class(page: _Page, kind: str) -> list[dict[str, str]]:
    return [r for r in page.rows if r["class"] == kind]


@cache
def file_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def landing_row(run, row: dict[str, str]) -> dict[str, str]:
    """The cells of a page's delivered row, read from its file under the landing folder."""
    path = run.landing / row["data-file"]
    assert path.is_file(), row
    rows = file_rows(path)
    number = int(row["data-row"])
    assert 1 <= number <= len(rows), row
    return rows[number - 1]  # row 1 = the first data row after the header


def follow(driver, run, href: str) -> tuple[str, str]:
    """Open the report, click the link to `href`: (the link's text, the page's text)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(report_path(run).as_uri())
    link = driver.find_element("css selector", f"a[href='{href}']")
    text = link.text
    link.click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith(href))
    return text, driver.find_element("tag name", "body").text


def crs_any_cell(run) -> tuple[str, str, int, str]:
    """(study_id, key, n_subjects, the cell as the report prints it) of CRS any, overall."""
    [(study, key, n, total, pct, low, high)] = serving_rows(
        run, f"select study_id, {key_sql(RATES_TABLE)}, n_subjects, n_total, pct, ci_low_pct, ci_high_pct "
             f"from {RATES_TABLE} where toxicity = 'CRS' and group_by = 'overall' and grade_category = 'any'")
    return study, key, n, rate_text(n, total, pct, low, high)


# ---- on the park2023 run ----------------------------------------------------------------------

def test_every_rate_shown_links_to_an_existing_page(park):
    report = report_path(park)
    links = {h: t for h, t in parse(report).links.items() if h.startswith("explain/")}
    pages = {p.name for p in (report.parent / "explain").glob("*.html")}
    shown = serving_rows(park, f"select study_id, {key_sql(RATES_TABLE)} from {RATES_TABLE} "
                               "where grade_category in (select unnest(?::varchar[]))", [list(GRADE_CATEGORIES)])
    rates = {f"explain/{page_name(s, RATES_TABLE, k)}" for s, k in shown}
    assert len(rates) == len(shown) > 0 and rates <= set(links)
    assert {h.removeprefix("explain/") for h in links} == pages  # no page without a link, none stale
    for href in rates:
        assert re.fullmatch(r"\d+/\d+ \d+\.\d% \(\d+\.\d-\d+\.\d\)", links[href]), (href, links[href])  # the rate
    for href in links:
        assert "../warehouse_report.html" in parse(report.parent / href).links


def test_the_crs_any_page_lists_its_counted_subjects_and_their_delivered_rows(park):
    study, key, n_subjects, cell = crs_any_cell(park)
    report = report_path(park)
    href = f"explain/{page_name(study, RATES_TABLE, key)}"
    assert parse(report).links[href] == cell
    page = parse(report.parent / href)
    subjects = [r["data-subject"] for r in of_class(page, "subject")]
    with_crs = {s for (s,) in serving_rows(
        park, "select subject_id from marts.fct_subject_endpoints where study_id = ? and crs_max_grade >= 1", [study])}
    assert len(subjects) == len(set(subjects)) == n_subjects > 0
    assert set(subjects) == with_crs
    delivered = of_class(page, "delivered")
    assert {r["data-subject"] for r in delivered} == with_crs  # every counted subject has its deciding rows
    for row in delivered:
        cells = landing_row(park, row)
        assert cells["subject_id"] == row["data-subject"], row
        assert int(cells["crs_grade"]) >= 1, row


def test_a_rate_link_opens_its_page_in_a_browser(park, browser):
    study, key, n_subjects, cell = crs_any_cell(park)
    href = f"explain/{page_name(study, RATES_TABLE, key)}"
    with_crs = sorted(s for (s,) in serving_rows(
        park, "select subject_id from marts.fct_subject_endpoints where study_id = ? and crs_max_grade >= 1", [study]))
    text, body = follow(browser, park, href)
    assert text == cell
    assert f"{n_subjects} counted subjects" in body
    assert all(s in body for s in with_crs)
    assert "toxicity_assessments/" in body
    rows = browser.find_elements("css selector", "table.subjects tr.subject")
    assert sorted(r.get_attribute("data-subject") for r in rows) == with_crs


def test_a_response_rate_link_opens_its_page_in_a_browser(park, browser):
    """ORR, overall: exactly its counted subjects, and for each the delivered assessment that
    holds its best response by day 100, a CR or PR in the file itself."""
    measure = "ORR"
    [(study, key, n, total, pct, low, high)] = serving_rows(
        park, f"select study_id, {key_sql(RESPONSE_TABLE)}, n_subjects, n_total, pct, ci_low_pct, ci_high_pct "
              f"from {RESPONSE_TABLE} where measure = ? and group_by = 'overall'", [measure])
    href = f"explain/{page_name(study, RESPONSE_TABLE, key)}"
    text, body = follow(browser, park, href)
    assert text == rate_text(n, total, pct, low, high)
    assert f"{n} counted subjects" in body and "response_assessments/" in body
    assert len(browser.find_elements("css selector", "table.subjects tr.subject")) == n

    best = dict(serving_rows(park, "select subject_id, best_response_d100 from marts.fct_subject_endpoints "
                                   "where study_id = ?", [study]))
    responders = {s for s, r in best.items() if r in RESPONSE_MEASURES[measure]}
    page = parse(report_path(park).parent / href)
    subjects = [r["data-subject"] for r in of_class(page, "subject")]
    assert len(subjects) == len(set(subjects)) == n > 0
    assert set(subjects) == responders
    delivered = of_class(page, "delivered")
    assert {r["data-subject"] for r in delivered} == responders  # each one's deciding assessment
    for row in delivered:
        cells = landing_row(park, row)
        assert cells["subject_id"] == row["data-subject"], row
        assert cells["response"] in RESPONSE_MEASURES[measure], row
        assert cells["response"] == best[row["data-subject"]], row


def test_a_km_median_link_opens_its_page_in_a_browser(park, browser):
    """OS, overall: the subjects whose event time is the median (every subject used when it is
    not reached), each with its time, and its delivered rows giving that time: the outcomes row
    (death, or last known alive) minus the infusion date of its subjects row."""
    needs_analysis_lineage(park)
    [(study, key, n, median)] = serving_rows(
        park, f"select study_id, {key_sql(KM_TABLE)}, n_subjects, median_days from {KM_TABLE} "
              "where endpoint = 'OS' and group_by = 'overall'")
    href = f"explain/{cell_page(study, KM_TABLE, key, 'median_days')}"
    text, body = follow(browser, park, href)
    assert text == num(median, 0)  # the median's number is the link: NR when not reached
    assert "outcomes/" in body

    endpoints = {s: (days, event) for s, days, event in serving_rows(
        park, "select subject_id, os_days, os_event from marts.fct_subject_endpoints where study_id = ?", [study])}
    page = parse(report_path(park).parent / href)
    subjects = [r["data-subject"] for r in of_class(page, "subject")]
    assert len(subjects) == len(set(subjects)) > 0
    if median is None:
        assert len(subjects) == n
    else:
        times = {endpoints[s][0] for s in subjects}
        assert all(endpoints[s][1] for s in subjects) and len(times) <= 2 and min(times) <= median <= max(times)
    for row in of_class(page, "subject"):  # each subject's time as published
        days = endpoints[row["data-subject"]][0]
        shown = format(days, ".15g") if isinstance(days, float) else str(days)
        assert f"os_days = {shown}" in row["text"], row
    delivered: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for row in of_class(page, "delivered"):
        cells = landing_row(park, row)
        assert cells["subject_id"] == row["data-subject"], row
        delivered[row["data-subject"]][row["data-source"]].append(cells)
    assert set(delivered) == set(subjects)  # the delivered files name exactly the subjects listed
    for subject in subjects:
        [outcome] = delivered[subject]["outcomes"]
        [infusion] = delivered[subject]["subjects"]
        died = bool(outcome["died_on"])
        assert died == bool(endpoints[subject][1]), subject
        end = dt.date.fromisoformat(outcome["died_on"] if died else outcome["last_known_alive_on"])
        assert (end - dt.date.fromisoformat(infusion["infused_on"])).days == endpoints[subject][0], subject


def csf_chosen_rows(run, analyte: str) -> tuple[set, set]:
    """(pre, post): the (file, row) of each subject's sample chosen for `analyte`, recomputed
    from the landing files (derivations.md, "CSF before and after": pre = the last sample on days
    -14..0, post = the one on days 3..7 closest to day 5, the earlier on a tie; study day =
    collection date - infused_on)."""
    def rows(source):
        for path in sorted((run.landing / source).glob("*.csv")):
            for i, cells in enumerate(file_rows(path), 1):
                yield f"{source}/{path.name}", i, cells

    infused = {c["subject_id"]: dt.date.fromisoformat(c["infused_on"]) for _, _, c in rows("subjects") if c["infused_on"]}
    pre: dict[str, tuple] = {}
    post: dict[str, tuple] = {}
    for file, i, cells in rows("csf_cytokines"):
        subject = cells["subject_id"]
        if cells["analyte"] != analyte or subject not in infused:
            continue
        at = dt.datetime.fromisoformat(cells["collected_at"])
        day = (at.date() - infused[subject]).days
        if -14 <= day <= 0 and (subject not in pre or at > pre[subject][0]):
            pre[subject] = (at, (file, i))
        if 3 <= day <= 7 and (subject not in post or (abs(day - 5), day, at) < post[subject][0]):
            post[subject] = ((abs(day - 5), day, at), (file, i))
    return {v[1] for v in pre.values()}, {v[1] for v in post.values()}


def test_a_csf_p_link_opens_its_page_in_a_browser(park, browser):
    """CSF IL-6 before vs after: the p links to the delivered rows of every sample chosen,
    directly (no subject level): n_pre + n_post rows of IL6, the rows recomputed from the files."""
    needs_analysis_lineage(park)
    analyte = "IL6"
    [(study, key, n_pre, n_post, n_paired, p)] = serving_rows(
        park, f"select study_id, {key_sql(CSF_TABLE)}, n_pre, n_post, n_paired, p_value from {CSF_TABLE} "
              "where analyte = ?", [analyte])
    href = f"explain/{cell_page(study, CSF_TABLE, key, 'p_value')}"
    text, body = follow(browser, park, href)
    assert text == p_text(p)
    assert f"{n_pre + n_post} delivered rows" in body and "csf_cytokines/" in body
    assert not browser.find_elements("css selector", "table.subjects")  # no subject level

    page = parse(report_path(park).parent / href)
    assert not of_class(page, "subject")
    delivered = of_class(page, "delivered")
    assert len(delivered) == n_pre + n_post > 0
    shown = {(r["data-file"], int(r["data-row"])) for r in delivered}
    assert len(shown) == len(delivered)
    for row in delivered:
        assert landing_row(park, row)["analyte"] == analyte, row
    pre, post = csf_chosen_rows(park, analyte)
    assert (len(pre), len(post)) == (n_pre, n_post)
    assert shown == pre | post
    subjects = {landing_row(park, {"data-file": f, "data-row": str(i)})["subject_id"]: None for f, i in pre}
    assert sum(landing_row(park, {"data-file": f, "data-row": str(i)})["subject_id"] in subjects
               for f, i in post) == n_paired


def test_a_consort_link_opens_the_rows_of_the_subjects_it_counts(park, browser):
    """CONSORT infused: the count links to the delivered subjects row of every infused subject,
    each read from its file (infused_on given), as many as the count."""
    [(study, key, n)] = serving_rows(
        park, f"select study_id, {key_sql(CONSORT_TABLE)}, n_subjects from {CONSORT_TABLE} where step = 'infused'")
    href = f"explain/{cell_page(study, CONSORT_TABLE, key, 'n_subjects')}"
    text, body = follow(browser, park, href)
    assert text == str(n) and "subjects/" in body
    delivered = of_class(parse(report_path(park).parent / href), "delivered")
    assert len(delivered) == n > 0
    cells = [landing_row(park, row) for row in delivered]
    assert all(c["infused_on"] for c in cells)
    assert len({c["subject_id"] for c in cells}) == n


def test_a_study_above_the_page_limit_is_not_linked_and_says_why(park, tmp_path):
    """WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS: park2023 (34 subjects) gets no page under a limit of
    33 and the reason names the limit; at 34 its numbers link again."""
    figures = park.root / "figures"
    report = html_report.build_report(park.serving, figures, tmp_path / "small" / "r.html", run_id="r",
                                      warehouse_path=park.warehouse, explain_max_subjects=33)
    assert report.explain_pages == 0 and not (tmp_path / "small" / "explain").exists()
    [(study, reason)] = report.explain_errors.items()
    assert "34 subjects, more than WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS (33)" in reason
    assert "href='explain/" not in report.path.read_text()
    report = html_report.build_report(park.serving, figures, tmp_path / "at" / "r.html", run_id="r",
                                      warehouse_path=park.warehouse, explain_max_subjects=34)
    assert report.explain_pages > 0 and not report.explain_errors


@pytest.fixture(scope="module")
def wehrli(wehrli_run):
    assert wehrli_run.exit_code == 0, wehrli_run.output[-3000:]
    return wehrli_run


def test_an_intervention_p_link_opens_its_page_in_a_browser(wehrli, browser):
    """wehrli2022, TMAX around the anakinra course: the p links to its pairs, each subject's two
    temperature readings, read from the vitals files: the subject's, and the pair of values the
    window row holds."""
    [(study, key, n_pairs, p)] = serving_rows(
        wehrli, f"select study_id, {key_sql(INTERVENTION_TABLE)}, n_pairs, p_value from {INTERVENTION_TABLE} "
                "where measure = 'TMAX'")
    pairs = {s: sorted([b, a]) for s, b, a in serving_rows(
        wehrli, "select subject_id, before_value, after_value from analysis.intervention_windows "
                "where measure = 'TMAX' and status = 'paired'")}
    href = f"explain/{cell_page(study, INTERVENTION_TABLE, key, 'p_value')}"
    text, body = follow(browser, wehrli, href)
    assert text == p_text(p)
    assert "vitals/" in body

    page = parse(report_path(wehrli).parent / href)
    subjects = of_class(page, "subject")
    assert len(subjects) == n_pairs == len(pairs) > 1
    by_subject = defaultdict(list)
    for row in of_class(page, "delivered"):
        cells = landing_row(wehrli, row)
        by_subject[cells["subject_id"]].append(float(cells["temperature_c"]))
    assert set(by_subject) == set(pairs)
    for subject, temperatures in by_subject.items():
        assert sorted(temperatures) == pytest.approx(pairs[subject]), subject


# ---- rendering, without a run ------------------------------------------------------------------

def _delivered(source: str, file_name: str, row: int, values: dict, day: float | None = None) -> dict:
    return {"kind": "delivered_row", "study_id": "s", "source": source, "file_name": file_name,
            "delivery_sha256": "ab" * 32, "row_number": row, "record_seq": None, "study_day": day, "values": values,
            "in_force": True, "superseded_by_this": []}


def _document(table: str, values: dict, column: str, upstream: list[dict]) -> dict:
    key = lineage_key(table, values)
    return {"table": table, "where": {"study_id": "s", **{c: values[c] for c in LINEAGE_KEYS[table]}},
            "column": column, "n_rows": 1,
            "rows": [{"study_id": "s", "key": key, "values": values,
                      "explained": [{"kind": "target", "study_id": "s", "table": table, "key": key, "column": column,
                                     "value": values[column], "note": None, "upstream": upstream}]}]}


def test_a_km_median_page_lists_each_subject_once_with_its_time_and_event():
    evil = "<b>LBCL</b>"
    outcome = _delivered("outcomes", "outcomes/a.csv", 4, {"subject_id": "P-1", "died_on": "2022-01-01"})
    subject = [{"kind": "target", "study_id": "s", "table": "marts.fct_subject_endpoints", "key": "subject_id=P-1",
                "column": column, "value": value, "row": {"subject_id": "P-1"}, "note": None, "upstream": [outcome]}
               for column, value in (("os_event", True), ("os_days", 412))]
    values = {"endpoint": "OS", "group_by": "disease", "group_value": evil, "median_days": 412.0, "n_subjects": 9}
    page = render_page(_document(KM_TABLE, values, "median_days", subject))
    assert "<h1>OS median, disease &lt;b&gt;LBCL&lt;/b&gt;: 412 days</h1>" in page and "<b>" not in page
    assert page.count("<tr class='subject'") == 1 and "os_days = 412; os_event = True" in page
    assert page.count("<tr class='delivered'") == 1  # the same outcomes row under the time and the event
    assert "--where &#x27;group_value=&lt;b&gt;LBCL&lt;/b&gt;&#x27; --column median_days" in page  # shell-quoted
    not_reached = render_page(_document(KM_TABLE, {**values, "median_days": None}, "median_days", subject))
    assert "OS median, disease &lt;b&gt;LBCL&lt;/b&gt;: NR (not reached)" in not_reached


def test_a_csf_page_lists_the_delivered_rows_directly():
    rows = [_delivered("csf_cytokines", "csf_cytokines/x.csv", i, {"subject_id": f"P-{i}", "analyte": "IL6",
                                                                     "result": "<script>"}, day=d)
            for i, d in ((1, -2.0), (2, 5.0), (3, 4.0))]
    values = {"analyte": "IL6", "unit": "pg/mL", "n_pre": 1, "n_post": 2, "median_pre": 4.29, "median_post": 32.41,
              "p_value": 0.00012}
    page = render_page(_document(CSF_TABLE, values, "p_value", rows))
    assert "<h1>CSF IL6 before vs after infusion, p: 0.00012</h1>" in page
    assert "3 delivered rows" in page and page.count("<tr class='delivered'") == 3
    assert "class='t subjects'" not in page and "data-subject" not in page
    assert "<script>" not in page and "result=&lt;script&gt;" in page
    assert "data-day='-2'" in page
    median = render_page(_document(CSF_TABLE, values, "median_post", rows[1:]))
    assert "<h1>CSF IL6 median after infusion: 32.41 pg/mL</h1>" in median


def test_write_pages_links_what_it_can_and_keeps_why_not(tmp_path, monkeypatch):
    """One explain per study and table; a table explain cannot answer is left unlinked (its
    reason kept), the others linked; a page no longer linked is removed."""
    calls = []
    values = {"analyte": "IL6", "unit": "pg/mL", "n_pre": 1, "n_post": 0, "median_pre": 4.0, "median_post": None,
              "p_value": None}

    def fake_explain(serving, warehouse, table, where, column=None):
        calls.append((table, tuple(where), column))
        if table != CSF_TABLE:
            raise explain_pages.ExplainError(f"{table}.n_subjects has no lineage: explain follows nothing yet")
        document = _document(CSF_TABLE, values, "p_value", [])
        row = document["rows"][0]
        row["explained"] = [{**row["explained"][0], "column": c, "value": values[c], "upstream": []}
                            for c in ("n_pre", "median_pre", "median_post", "p_value")]
        return document

    monkeypatch.setattr(explain_pages, "explain", fake_explain)
    stale = tmp_path / "explain" / "0123456789abcdef.html"
    stale.parent.mkdir()
    stale.write_text("old")
    key = "analyte=IL6"
    pages = write_pages(tmp_path / "serving.duckdb", tmp_path / "warehouse.duckdb", tmp_path,
                        [("s", CSF_TABLE, key), ("s", RESPONSE_TABLE, "measure=ORR|group_by=overall|group_value=all")])
    assert calls == [(RESPONSE_TABLE, (("study_id", "s"),), "n_subjects"), (CSF_TABLE, (("study_id", "s"),), None)]
    assert set(pages.links) == {("s", CSF_TABLE, key, c) for c in LINKED[CSF_TABLE]}  # not n_pre: not shown linked
    assert len(set(pages.links.values())) == 3
    assert pages.links[("s", CSF_TABLE, key, "p_value")] == f"explain/{page_name('s', CSF_TABLE, key, 'p_value')}"
    assert list(pages.errors) == [RESPONSE_TABLE] and "has no lineage" in pages.errors[RESPONSE_TABLE]
    assert not stale.exists() and len(list((tmp_path / "explain").glob("*.html"))) == 3


def test_the_report_links_each_kind_of_number_and_says_so(tmp_path):
    from test_report import make_serving

    serving = tmp_path / "serving.duckdb"
    make_serving(serving)
    tables = read_tables(serving)
    unlinked = render_html(tables, [], run_id="r", data_version="v")
    assert "href='explain/" not in unlinked and "links to" not in unlinked and "link to" not in unlinked

    def cell(table, values, column):
        return ("default", table, lineage_key(table, values), column)

    links = {
        cell(RESPONSE_TABLE, {"measure": "ORR", "group_by": "overall", "group_value": "all"}, "n_subjects"): "explain/orr.html",
        cell(KM_TABLE, {"endpoint": "OS", "group_by": "overall", "group_value": "all"}, "median_days"): "explain/os.html",
        cell(KM_TABLE, {"endpoint": "PFS", "group_by": "overall", "group_value": "all"}, "median_days"): "explain/pfs.html",
        cell(CSF_TABLE, {"analyte": "WBC"}, "median_pre"): "explain/pre.html",
        cell(CSF_TABLE, {"analyte": "WBC"}, "p_value"): "explain/p.html",
    }
    text = render_html(tables, [], run_id="r", data_version="v", links=links)
    assert "<a href='explain/orr.html'>23/31 74.2% (0.8-88.1)</a>" in text
    assert "<a href='explain/os.html'>NR</a> (NR-NR)" in text and "<a href='explain/pfs.html'>395</a> (262-NR)" in text
    assert "<a href='explain/pre.html'>2.00</a> [1.50-3.00]" in text and "<a href='explain/p.html'>0.00321</a>" in text
    assert text.count("href='explain/") == len(links)  # nothing else linked (not the table's keys)
    assert "Each rate links to its counted subjects and the delivered assessment" in text
    assert "Each rate links to its counted subjects and the delivered rows that decided their grades" not in text
    assert "Each median links to the subjects it rests on" in text and "Each log-rank p" not in text
    assert set(html_report._LINKED_TABLES) == set(LINKED)  # every linked table is one the report shows
    assert ("The medians before infusion and the p-values link to the delivered rows of the samples they were "
            "computed from.") in text
