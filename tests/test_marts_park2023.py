"""The published endpoints of the park2023 cohort: the numbers of Park 2023 (issue acceptance)
and of the generator's truth, and the intervals of R's binom.test (shared/reference)."""

from __future__ import annotations

import json

import duckdb
import pytest

from conftest import SHARED


@pytest.fixture(scope="module")
def con(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    connection = duckdb.connect(str(park_run.serving), read_only=True)
    yield connection
    connection.close()


def _rate(con, table, where):
    return con.execute(
        f"select n_subjects, n_total, pct, ci_low_pct, ci_high_pct from marts.{table} where group_by = 'overall' and {where}"
    ).fetchone()


@pytest.mark.parametrize(
    "table, where, n",
    [
        ("agg_toxicity_rates", "toxicity = 'CRS' and grade_category = 'any'", 23),
        ("agg_toxicity_rates", "toxicity = 'CRS' and grade_category = 'severe'", 2),
        ("agg_toxicity_rates", "toxicity = 'ICANS' and grade_category = 'any'", 6),
        ("agg_toxicity_rates", "toxicity = 'ICANS' and grade_category = 'severe'", 3),
        ("agg_toxicity_rates", "toxicity = 'ICANS' and grade_category = 'grade_4'", 0),
        ("agg_toxicity_rates", "toxicity = 'ICANS' and grade_category = 'grade_5'", 0),
        ("agg_response_rates", "measure = 'ORR'", 24),
        ("agg_response_rates", "measure = 'CR'", 20),
    ],
)
def test_published_rates_of_park2023(con, table, where, n):
    got, total, pct, _, _ = _rate(con, table, where)
    assert (got, total) == (n, 31)
    assert pct == pytest.approx(100 * n / 31)


def test_rate_intervals_equal_r_binom_test(con):
    cases = json.loads((SHARED / "reference" / "clopper_pearson.json").read_text())["cases"]
    published = con.execute(
        """select n_subjects, n_total, ci_low_pct, ci_high_pct from marts.agg_toxicity_rates
           union all select n_subjects, n_total, ci_low_pct, ci_high_pct from marts.agg_response_rates"""
    ).fetchall()
    checked = 0
    for case in cases:
        for x, n, low, high in published:
            if (x, n) == (case["x"], case["n"]):
                assert low / 100 == pytest.approx(case["ci_low"], abs=1e-9)
                assert high / 100 == pytest.approx(case["ci_high"], abs=1e-9)
                checked += 1
    assert checked >= 8  # 23, 2, 6, 3, 24, 20, 0 and 31 of 31 all occur in the park2023 marts


@pytest.mark.parametrize("table, label", [("agg_toxicity_rates", "study_id, toxicity, criteria, grade_category"),
                                          ("agg_response_rates", "study_id, measure")])
def test_group_rows_add_up_to_overall(con, table, label):
    for group_by in ("car_t_product", "disease"):
        mismatches = con.execute(
            f"""select o.n_subjects, sum(g.n_subjects), o.n_total, sum(g.n_total)
                from marts.{table} o join marts.{table} g using ({label})
                where o.group_by = 'overall' and g.group_by = '{group_by}'
                group by {label}, o.n_subjects, o.n_total
                having o.n_subjects <> sum(g.n_subjects) or o.n_total <> sum(g.n_total)"""
        ).fetchall()
        assert mismatches == []


def test_ne_subject_is_its_own_category(con, park_run):
    ne = con.execute("select count(*) from marts.fct_subject_endpoints where best_response_d100 = 'NE'").fetchone()[0]
    assert ne == park_run.truth["best_response_counts"]["NE"] == 1


def test_concordance_holds_exactly_the_planted_discordances(con, park_run):
    rows = set(
        con.execute(
            "select subject_id, study_day, toxicity, adjudicated_grade, derived_grade from marts.fct_toxicity_concordance"
        ).fetchall()
    )
    planted = {
        (d["subject_id"], d["study_day"], d["toxicity"], d["adjudicated_grade"], d["derived_grade"])
        for d in park_run.truth["discordances"]
    }
    assert rows == planted


def test_per_subject_endpoints_equal_truth(con, park_run):
    truth = {s["subject_id"]: s for s in park_run.truth["subjects"] if s["is_infused"]}
    rows = con.execute(
        """select subject_id, crs_max_grade, icans_max_grade, best_response_d100, os_days, os_event,
                  pfs_days, pfs_event from marts.fct_subject_endpoints"""
    ).fetchall()
    assert len(rows) == len(truth) == 31
    for subject, crs, icans, best, os_days, os_event, pfs_days, pfs_event in rows:
        expected = truth[subject]
        assert (crs, icans, best) == (expected["crs_max_grade"], expected["icans_max_grade"], expected["best_response_d100"])
        assert (os_days, bool(os_event)) == (expected["os_days"], bool(expected["os_event"]))
        assert (pfs_days, bool(pfs_event)) == (expected["pfs_days"], bool(expected["pfs_event"]))


def test_toxicity_daily_grid_is_complete(con):
    n, subjects, first, last = con.execute(
        "select count(*), count(distinct subject_id), min(study_day), max(study_day) from marts.fct_toxicity_daily"
    ).fetchone()
    assert (subjects, first, last) == (31, -5, 30)
    assert n == 31 * 36


def test_il6_peaks_higher_in_icans_3_4(con):
    low, high = con.execute(
        """select median(k.peak_value) filter (where e.icans_max_grade <= 2),
                  median(k.peak_value) filter (where e.icans_max_grade between 3 and 4)
           from marts.fct_cytokine_kinetics k join marts.fct_subject_endpoints e using (study_id, subject_id)
           where k.specimen = 'serum' and k.analyte = 'IL6'"""
    ).fetchone()
    assert high > 3 * low


def test_every_serum_and_csf_measurement_is_accounted_for(con, park_run):
    """Delivered measurements = rows in fct_biomarker_results + quarantined + superseded."""
    for source, specimen in (("serum_cytokines", "serum"), ("serum_labs", "serum"), ("csf_cytokines", "csf")):
        delivered, quarantined, superseded = con.execute(
            """select sum(rows_delivered), sum(rows_quarantined), sum(rows_superseded)
               from audit.deliveries where source = ? and status <> 'duplicate'""",
            [source],
        ).fetchone()
        kind = "lab" if source == "serum_labs" else "cytokine"
        in_mart = con.execute(
            "select count(*) from marts.fct_biomarker_results where specimen = ? and source = ?", [specimen, source]
        ).fetchone()[0]
        assert delivered == in_mart + quarantined + superseded, (source, kind)
