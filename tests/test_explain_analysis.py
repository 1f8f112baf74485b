"""`warehouse explain` on the analysis tables (issue 17): a CSF median or p-value down to the
samples' delivered rows, a Kaplan-Meier median or log-rank test down to the subjects it used.

The analysis code writes these edges with its tables (audit.analysis_lineage). Every check on the
park2023 run recomputes the expected rows or subjects from the landing files themselves (the
windows of derivations.md applied to the delivered dates), never from the warehouse's tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shlex
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import warehouse_env
from dagster_project.cli import main
from dagster_project.figures.catalogue import EXPLAINED_BY, explain_hint
from dagster_project.lib.analysis.survival import median_subjects
from stats.kaplan_meier import kaplan_meier

ANALYTE = "IL6"
PRE_DAYS, POST_DAYS, POST_TARGET = (-14, 0), (3, 7), 5  # derivations.md, "CSF before and after"


@pytest.fixture(scope="module")
def park(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return park_run


def explain_json(run, monkeypatch, capsys, *args: str) -> dict:
    for name, value in warehouse_env(run.root).items():
        monkeypatch.setenv(name, value)
    code = main(["explain", *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def serving(run, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.serving), read_only=True) as con:
        return con.execute(sql).fetchall()


def landing_rows(run, source: str) -> list[tuple[str, int, dict[str, str]]]:
    """(file name as the warehouse names it, row number, row) of every loaded, not quarantined
    row of `source` in the landing folder (a duplicate delivery is not loaded)."""
    loaded = {f for (f,) in serving(run, "select file_name from audit.deliveries where status = 'loaded'")}
    dropped = set(serving(run, "select file_name, row_number from audit.quarantine"))
    out = []
    for path in sorted((run.landing / source).glob("*.csv")):
        name = f"{source}/{path.name}"
        if name not in loaded:
            continue
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=1):
                if (name, number) not in dropped:
                    out.append((name, number, row))
    return out


def infusion_dates(run) -> dict[str, dt.date]:
    return {row["subject_id"]: dt.date.fromisoformat(row["infused_on"])
            for _, _, row in landing_rows(run, "subjects") if row.get("infused_on")}


def delivered(node: dict) -> set[tuple[str, int]]:
    return {(n["file_name"], n["row_number"]) for n in node["upstream"] if n["kind"] == "delivered_row"}


def subjects(node: dict) -> set[str]:
    return {n["row"]["subject_id"] for n in node["upstream"] if n["kind"] == "target"}


def expected_csf_samples(run) -> tuple[set, set]:
    """The pre and post IL-6 samples of derivations.md, from the delivered files: pre = the last
    sample on days -14..0, post = the one on days 3..7 closest to day 5 (the earlier on a tie);
    a study day is the calendar date collected minus the infusion date."""
    infused = infusion_dates(run)
    samples = []
    for name, number, row in landing_rows(run, "csf_cytokines"):
        if row["analyte"] != ANALYTE or row["subject_id"] not in infused or not row["result"].strip():
            continue
        at = dt.datetime.fromisoformat(row["collected_at"])
        samples.append({"subject": row["subject_id"], "at": at, "day": (at.date() - infused[row["subject_id"]]).days,
                        "ref": (name, number)})
    frame = pd.DataFrame(samples)
    pre = frame[frame["day"].between(*PRE_DAYS)].sort_values("at").groupby("subject").tail(1)
    post = frame[frame["day"].between(*POST_DAYS)].assign(distance=lambda f: (f["day"] - POST_TARGET).abs())
    post = post.sort_values(["distance", "day", "at"]).groupby("subject").head(1)
    return set(pre["ref"]), set(post["ref"])


def test_csf_medians_and_p_value_list_the_samples_the_windows_choose(park, monkeypatch, capsys):
    pre, post = expected_csf_samples(park)
    assert pre and post, "park2023 has IL-6 in CSF before and after infusion"
    document = explain_json(park, monkeypatch, capsys, "analysis.csf_pre_post", "--where", f"analyte={ANALYTE}")
    (row,) = document["rows"]
    nodes = {n["column"]: n for n in row["explained"]}
    assert delivered(nodes["median_pre"]) == pre
    assert delivered(nodes["median_post"]) == post
    assert delivered(nodes["p_value"]) == pre | post
    assert nodes["n_pre"]["value"] == len(pre) and nodes["n_post"]["value"] == len(post)
    paired_subjects = {s for s in (r["values"]["subject_id"] for r in nodes["median_pre"]["upstream"])} & {
        s for s in (r["values"]["subject_id"] for r in nodes["median_post"]["upstream"])}
    assert nodes["n_paired"]["value"] == len(paired_subjects)
    assert len(delivered(nodes["n_paired"])) == 2 * len(paired_subjects)
    for node in nodes["median_pre"]["upstream"]:  # the rows read back are the file's IL-6 rows
        assert node["values"]["analyte"] == ANALYTE and node["source"] == "csf_cytokines"


def test_a_csf_value_with_one_column_explains_only_it(park, monkeypatch, capsys):
    document = explain_json(park, monkeypatch, capsys, "analysis.csf_pre_post", "--where", f"analyte={ANALYTE}",
                            "--column", "median_post")
    (row,) = document["rows"]
    assert [n["column"] for n in row["explained"]] == ["median_post"]
    assert delivered(row["explained"][0]) == expected_csf_samples(park)[1]


def expected_os(run) -> tuple[set[str], set[str]]:
    """(subjects with an overall-survival time, those who died) from the delivered files: an
    infused subject with an outcomes row; died = a death date delivered."""
    infused = infusion_dates(run)
    rows = [r for _, _, r in landing_rows(run, "outcomes") if r["subject_id"] in infused]
    return {r["subject_id"] for r in rows}, {r["subject_id"] for r in rows if r["died_on"].strip()}


def test_the_log_rank_test_lists_the_subjects_it_compared_and_their_deaths(park, monkeypatch, capsys):
    used, died = expected_os(park)
    assert died, "park2023 has deaths"
    document = explain_json(park, monkeypatch, capsys, "analysis.km_logrank", "--where", "endpoint=OS")
    (row,) = document["rows"]
    nodes = {n["column"]: n for n in row["explained"]}
    assert subjects(nodes["p_value"]) == used  # every subject of park2023 has a disease
    assert subjects(nodes["n_events"]) == died
    assert {n["column"] for n in nodes["n_events"]["upstream"]} == {"os_event"}
    assert all(n["value"] is True for n in nodes["n_events"]["upstream"])


def test_a_median_not_reached_lists_every_subject_of_its_group(park, monkeypatch, capsys):
    used, _ = expected_os(park)
    document = explain_json(park, monkeypatch, capsys, "analysis.km_summary", "--where", "endpoint=OS",
                            "--where", "group_by=overall", "--column", "median_days")
    (row,) = document["rows"]
    node = row["explained"][0]
    if node["value"] is not None:
        pytest.skip("the OS median is reached in this cohort: the median's subjects are checked by the unit test")
    assert subjects(node) == used


@pytest.mark.parametrize(("times", "events", "deciding"), [
    # S = 3/4, 1/2 (flat from 2 to 3), 1/4, 0: R's survfit median is 2.5, the midpoint
    ([1, 2, 3, 4], [1, 1, 1, 1], {"b", "c"}),
    # S = 2/3, 1/3: the median is the event time 2
    ([1, 2, 3], [1, 1, 1], {"b"}),
    # a censoring at 2: S = 3/4 at 1, 3/8 at 3: the median is 3
    ([1, 2, 3, 4], [1, 0, 1, 0], {"c"}),
])
def test_the_subjects_deciding_a_median_are_those_with_the_event_where_the_curve_reaches_half(times, events, deciding):
    used = pd.DataFrame({"subject_id": list("abcd"[: len(times)]), "time": [float(t) for t in times],
                         "event": [float(e) for e in events]})
    median = kaplan_meier(used["time"].to_numpy(), used["event"].to_numpy()).summary.median_days
    assert set(median_subjects(used, median)) == deciding


def test_a_median_not_reached_is_decided_by_every_subject():
    used = pd.DataFrame({"subject_id": ["a", "b", "c"], "time": [1.0, 2.0, 3.0], "event": [1.0, 0.0, 0.0]})
    assert set(median_subjects(used, None)) == {"a", "b", "c"}
    assert set(median_subjects(used, float("nan"))) == {"a", "b", "c"}


def test_the_analysis_edges_are_published_with_their_tables(park):
    """audit.analysis_lineage names only the analysis tables and rows that exist."""
    missing = serving(park, """
        select l.target_table, l.target_key from audit.analysis_lineage as l
        where l.target_table = 'analysis.csf_pre_post'
          and l.target_key not in (select 'analyte=' || analyte from analysis.csf_pre_post)
        union all
        select l.target_table, l.target_key from audit.analysis_lineage as l
        where l.target_table = 'analysis.km_summary' and l.target_key not in (
            select 'endpoint=' || endpoint || '|group_by=' || group_by || '|group_value=' || coalesce(group_value, '')
            from analysis.km_summary)""")
    assert missing == []
    tables = {t for (t,) in serving(park, "select distinct target_table from audit.analysis_lineage")}
    assert tables == {"analysis.csf_pre_post", "analysis.km_summary", "analysis.km_logrank"}


# ---------------------------------------------------------------- wehrli2022: around an anakinra course

@pytest.fixture(scope="module")
def wehrli(wehrli_run):
    assert wehrli_run.exit_code == 0, wehrli_run.output[-3000:]
    return wehrli_run


def file_row(run, node: dict) -> dict[str, str]:
    with (run.landing / node["file_name"]).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[node["row_number"] - 1]


def test_an_intervention_test_lists_its_pairs_down_to_the_readings(wehrli, monkeypatch, capsys):
    """TMAX: the paired t-test's p-value -> each paired subject's window row -> the two vitals
    rows whose temperatures, read from the files, are the row's before and after values."""
    document = explain_json(wehrli, monkeypatch, capsys, "analysis.intervention_tests", "--where", "measure=TMAX",
                            "--column", "p_value")
    (row,) = document["rows"]
    node = row["explained"][0]
    pairs = [n for n in node["upstream"] if n["kind"] == "target"]
    assert len(pairs) == row["values"]["n_pairs"] > 1
    with duckdb.connect(str(wehrli.serving), read_only=True) as con:
        windows = {s: (b, a) for s, b, a in con.execute(
            "select subject_id, before_value, after_value from analysis.intervention_windows"
            " where measure = 'TMAX' and status = 'paired'").fetchall()}
    assert {p["row"]["subject_id"] for p in pairs} == set(windows)
    for pair in pairs:
        subject = pair["row"]["subject_id"]
        rows = [n for n in pair["upstream"] if n["kind"] == "delivered_row"]
        assert len(rows) == 2 and all(n["source"] == "vitals" for n in rows)
        temperatures = sorted(float(file_row(wehrli, n)["temperature_c"]) for n in rows)
        assert all(file_row(wehrli, n)["subject_id"] == subject for n in rows)
        assert temperatures == pytest.approx(sorted(windows[subject]))


@pytest.mark.parametrize("stem", sorted(EXPLAINED_BY))
def test_each_figure_says_how_to_explain_its_numbers_and_the_command_works(stem, park, wehrli, monkeypatch, capsys):
    """The explain command a figure's metadata gives (figures/catalogue.py) answers on the cohort
    that draws the figure, down to delivered rows."""
    run = wehrli if stem.startswith("anakinra") else park
    assert EXPLAINED_BY[stem] in explain_hint(stem)
    document = explain_json(run, monkeypatch, capsys, *shlex.split(EXPLAINED_BY[stem]))
    rows = [n for r in document["rows"] for e in r["explained"] for n in walk(e) if n["kind"] == "delivered_row"]
    assert rows and all(n["values"] for n in rows)


def walk(node: dict):
    yield node
    for child in node.get("upstream") or []:
        yield from walk(child)


# ---------------------------------------------------------------- CONSORT

def test_a_consort_step_lists_the_rows_of_the_subjects_it_counts(park, monkeypatch, capsys):
    """infused: each infused subject's subjects row (infused_on given); evaluable_response: each
    infused subject's first response assessment on days 1..100, all read from the files."""
    infused = infusion_dates(park)
    subject_rows = {(name, number) for name, number, row in landing_rows(park, "subjects") if row.get("infused_on")}
    first: dict[str, tuple] = {}
    for name, number, row in landing_rows(park, "response_assessments"):
        if row["subject_id"] not in infused:
            continue
        day = (dt.date.fromisoformat(row["assessed_on"]) - infused[row["subject_id"]]).days
        if 1 <= day <= 100:
            first[row["subject_id"]] = min(first.get(row["subject_id"], (day, name, number)), (day, name, number))
    document = explain_json(park, monkeypatch, capsys, "marts.agg_consort", "--where", "step=infused")
    node = document["rows"][0]["explained"][0]
    assert node["value"] == len(infused) and delivered(node) == subject_rows
    document = explain_json(park, monkeypatch, capsys, "marts.agg_consort", "--where", "step=evaluable_response")
    node = document["rows"][0]["explained"][0]
    assert node["value"] == len(first) and delivered(node) == {(f, n) for _, f, n in first.values()}
