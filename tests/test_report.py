"""The static HTML report (dagster_project/report.py) from a small serving file made here."""

from __future__ import annotations

import hashlib
import io
import re
from html.parser import HTMLParser

import duckdb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dagster_project.lib.report.html_report import build_report, data_version  # noqa: E402
from dagster_project.settings import Settings  # noqa: E402

SHAS = ["1" * 64, "2" * 64, "3" * 64]
SECRET = "REJECTED-VALUE-7f3a"  # a value in audit.quarantine: printed beside its file, row and rule
LONG = "L" * 70 + "-TAIL"  # a quarantined value longer than 60 characters: cut


class _Cells(HTMLParser):
    """The text of every table row's cells (th or td) in an HTML page."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table_rows(text: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(text)
    return parser.rows


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _rate_rows(keys: dict, categories: list[str], column: str) -> pd.DataFrame:
    rows = []
    for category in categories:
        for group_by, group_value, total in (("overall", "all", 31), ("car_t_product", "axi-cel", 23)):
            n = 23 if (category in ("any", "ORR") and group_by == "overall") else 2
            rows.append({**keys, "group_by": group_by, "group_value": group_value, column: category,
                         "n_subjects": n, "n_total": total, "pct": 100 * n / total, "ci_low_pct": 0.8,
                         "ci_high_pct": 88.1})
    return pd.DataFrame(rows)


def make_serving(path, *, intervention: bool = False, studies: tuple[str, ...] = ("default",)) -> None:
    """A serving file by hand: every table of `studies` (the same rows in each), study_id first."""
    tables = {
        "marts.dim_studies": pd.DataFrame({
            "title": ["park2023"], "time_mode": ["calendar"], "n_subjects": [34], "n_deliveries": [3],
            "primary_toxicity_criteria": ["ASTCT2019"], "kinetics_group_by": ["ICANS"],
        }),
        "marts.agg_consort": pd.DataFrame({
            "step_order": [1, 2, 3, 4, 5],
            "step": ["enrolled", "infused", "not_infused", "evaluable_toxicity", "evaluable_response"],
            "n_subjects": [34, 31, 3, 31, 30],
        }),
        "marts.agg_toxicity_rates": pd.concat([
            _rate_rows({"toxicity": "CRS"}, ["any", "severe", "grade_0"], "grade_category"),
            _rate_rows({"toxicity": "ICANS"}, ["any", "severe", "grade_0"], "grade_category"),
        ]),
        "marts.agg_response_rates": _rate_rows({}, ["ORR", "CR", "NE"], "measure"),
        "analysis.km_summary": pd.DataFrame({
            "endpoint": ["OS", "PFS"], "group_by": ["overall", "overall"], "group_value": ["all", "all"],
            "n_subjects": [31, 31], "n_events": [8, 12], "median_days": [None, 395.0],
            "median_ci_low_days": [None, 262.0], "median_ci_high_days": [None, None], "survival_12mo": [0.903, 0.71],
        }),
        "analysis.csf_pre_post": pd.DataFrame({
            "analyte": ["WBC"], "unit": ["/uL"], "n_pre": [27], "n_post": [24], "n_paired": [22],
            "median_pre": [2.0], "q1_pre": [1.5], "q3_pre": [3.0], "median_post": [6.5], "q1_post": [2.5],
            "q3_post": [8.0], "p_value": [0.00321], "test": ["SR-MW"],
        }),
        "audit.deliveries": pd.DataFrame({
            "delivery_sha256": [SHAS[0], SHAS[1], SHAS[2], SHAS[2]],
            "source": ["subjects", "vitals", "vitals", "vitals"],
            "file_name": ["subjects/a.csv", "vitals/b.csv", "vitals/c.csv", "vitals/c_copy.csv"],
            "status": ["loaded", "loaded", "loaded", "duplicate"],
            "rows_delivered": [34, 100, 50, 50], "rows_accepted": [33, 100, 50, 0],
            "rows_quarantined": [1, 1, 0, 0], "rows_superseded": [0, 2, 0, 0], "message": [None] * 4,
            "received_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
        }),
        "audit.quarantine": pd.DataFrame({
            "source": ["subjects", "vitals"], "delivery_sha256": [SHAS[0], SHAS[1]],
            "file_name": ["subjects/a.csv", "vitals/b.csv"], "row_number": [2, 7], "locator": [None, None],
            "column_name": ["sex", "temperature_c"], "rule": ["isin(['M', 'F', 'U'])", "in_range(30, 45)"],
            "value": [SECRET, LONG], "quarantined_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }),
    }
    if intervention:
        tables["analysis.intervention_tests"] = pd.DataFrame({
            "measure": ["CRP"], "n_pairs": [12], "mean_before": [80.0], "mean_after": [20.0], "statistic": [-4.1],
            "p_value": [0.0017], "test": ["ratio_paired_t"], "gm_ratio": [0.25], "gm_ratio_ci_low": [0.12],
            "gm_ratio_ci_high": [0.52],
        })
    per_study = {}
    for name, frame in tables.items():
        parts = []
        for k, study in enumerate(studies):
            part = frame.reset_index(drop=True)
            if name.startswith("audit.") and k:  # a delivery is one study's: the other studies' files
                part["delivery_sha256"] = part["delivery_sha256"].str.replace("1", "4").str.replace("2", "5") \
                    .str.replace("3", "6")
                part["file_name"] = f"{study}/" + part["file_name"]
            parts.append(pd.concat([pd.DataFrame({"study_id": [study] * len(part)}), part], axis=1))
        per_study[name] = pd.concat(parts, ignore_index=True)
    per_study["audit.publication"] = pd.DataFrame({"run_id": ["publish-run-1"],
                                                   "published_at": [pd.Timestamp("2024-01-01 12:00")], "tables": [7]})
    tables = per_study
    with duckdb.connect(str(path)) as con:
        for name, frame in tables.items():
            schema = name.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.register("frame", frame)
            con.execute(f"create table {name} as select * from frame")
            con.unregister("frame")


@pytest.fixture()
def data_dir(tmp_path):
    folder = tmp_path / "data"
    (folder / "figures" / "default").mkdir(parents=True)
    (folder / "figures" / "default" / "km_os_overall.png").write_bytes(_png())
    (folder / "figures" / "default" / "some_new_figure.png").write_bytes(_png())
    (folder / "figures" / "km_pfs_overall.png").write_bytes(_png())  # not a study's folder: not shown
    return folder


def test_report_renders_from_the_serving_file(data_dir):
    serving = data_dir / "serving.duckdb"
    make_serving(serving)
    out = Settings.from_env({}, landing_dir=data_dir / "landing", db_path=data_dir / "warehouse.duckdb",
                            serving_db_path=serving).report_path
    report = build_report(serving, data_dir / "figures", out, run_id="run-abc-123")

    assert out == data_dir / "reports" / "warehouse_report.html" == report.path
    text = out.read_text()
    expected_version = hashlib.sha256("\n".join(sorted(set(SHAS))).encode()).hexdigest()[:16]
    assert report.data_version == expected_version and expected_version in text
    assert "run-abc-123" in text and "publish-run-1" in text
    # the tables
    assert "evaluable_response" in text and ">34<" in text
    assert "23/31 74.2% (0.8-88.1)" in text  # CRS any, overall: n/N pct (CI)
    assert "ORR" in text and "395 (262-NR)" in text and "90.3%" in text
    assert "0.00321" in text  # CSF p-value
    assert "Intervention tests" not in text  # not published in this serving file
    # figures embedded, both the known and a new one
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 2 == len(report.figures)
    assert report.figures[0] == "default/km_os_overall"
    # one study: its sections as a one-study report, the study named once in the header
    assert "<h2>CONSORT</h2>" in text and "Study default" not in text and "<h3>" not in text
    assert ["study", "default (park2023)"] in _table_rows(text)
    # every delivery file, one row each (not summed by source), with its status and rows
    rows = _table_rows(text)
    # one study: no study column
    assert ["subjects/a.csv", "subjects", "2024-01-01 00:00:00", "loaded", "34", "33", "1", "0", ""] in rows
    assert ["vitals/c_copy.csv", "vitals", "2024-01-04 00:00:00", "duplicate", "50", "0", "0", "0", ""] in rows
    assert any(r[:1] == ["total: 4 files"] and r[-5:-1] == ["234", "183", "2", "2"] for r in rows), rows
    # the quarantined rows with file, row, column, rule and the value as delivered (cut at 60)
    assert ["subjects/a.csv", "2", "sex", "isin(['M', 'F', 'U'])", SECRET] in rows
    assert ["vitals/b.csv", "7", "temperature_c", "in_range(30, 45)", "L" * 59 + "…"] in rows
    assert "-TAIL" not in text and "Quarantined rows, all 2, latest first" in text
    assert report.n_deliveries == 3
    # self-contained: no resource fetched from anywhere
    assert not re.search(r"(src|href)=['\"]https?:", text)


def test_report_caps_the_quarantined_rows_and_says_the_total(tmp_path, monkeypatch):
    from dagster_project.lib.report import html_report

    serving = tmp_path / "serving.duckdb"
    make_serving(serving)
    monkeypatch.setattr(html_report, "LATEST_QUARANTINED", 1)
    text = build_report(serving, tmp_path / "no_figures", tmp_path / "r.html", run_id="r").path.read_text()
    assert "Quarantined rows, the latest 1 of 2, latest first" in text
    rows = _table_rows(text)
    assert ["vitals/b.csv", "7", "temperature_c", "in_range(30, 45)", "L" * 59 + "…"] in rows  # quarantined last
    assert SECRET not in text
    # every delivery file is still listed
    assert all(any(r[:1] == [name] for r in rows) for name in
               ("subjects/a.csv", "vitals/b.csv", "vitals/c.csv", "vitals/c_copy.csv"))


def test_report_shows_intervention_tests_when_published(data_dir):
    serving = data_dir / "serving.duckdb"
    make_serving(serving, intervention=True)
    report = build_report(serving, data_dir / "figures", data_dir / "r.html", run_id="r")
    text = report.path.read_text()
    assert "Intervention tests" in text and "ratio_paired_t" in text


def test_report_with_two_studies_has_a_part_per_study(data_dir):
    """Several studies: an overview, then each study's sections and figures under its heading;
    the deliveries and the quarantine once, with a study column."""
    serving = data_dir / "serving.duckdb"
    make_serving(serving, studies=("default", "cd22"))
    (data_dir / "figures" / "cd22").mkdir()
    (data_dir / "figures" / "cd22" / "serum_cytokines_by_group.png").write_bytes(_png())
    report = build_report(serving, data_dir / "figures", data_dir / "r.html", run_id="r")
    text = report.path.read_text()
    assert report.figures == ("cd22/serum_cytokines_by_group", "default/km_os_overall", "default/some_new_figure")
    assert "<h2>Studies</h2>" in text and "<h2 id='study-cd22'>Study cd22: park2023</h2>" in text
    cd22, default = text.index("id='study-cd22'"), text.index("id='study-default'")
    assert cd22 < default and text.count("<h3>CONSORT</h3>") == 2
    assert text.index("Serum cytokines over study days by the study") < default < text.index("Overall survival")
    assert text.count("23/31 74.2% (0.8-88.1)") == 3 * 2  # CRS any, ICANS any and ORR of each study
    rows = _table_rows(text)
    assert ["default", "subjects/a.csv", "subjects", "2024-01-01 00:00:00", "loaded", "34", "33", "1", "0", ""] in rows
    assert ["cd22", "cd22/subjects/a.csv", "subjects", "2024-01-01 00:00:00", "loaded", "34", "33", "1", "0", ""] in rows
    assert ["cd22", "cd22/subjects/a.csv", "2", "sex", "isin(['M', 'F', 'U'])", SECRET] in rows
    assert report.n_deliveries == 6


def test_report_without_optional_tables_and_figures(tmp_path):
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(serving)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.agg_consort as select 1 as step_order, 'enrolled' as step, 0 as n_subjects")
    report = build_report(serving, tmp_path / "no_figures", tmp_path / "r.html", run_id="r")
    text = report.path.read_text()
    assert "Not published in this run." in text and "No figures." in text
    assert report.data_version == data_version([])


def test_data_version_ignores_order_and_repeats():
    assert data_version(SHAS) == data_version(list(reversed(SHAS)) + [SHAS[0]])
    assert data_version(SHAS) != data_version(SHAS[:2])


def test_without_lineage_the_rates_are_not_linked(tmp_path):
    """A serving file without audit.lineage (or no warehouse file): the report is written, its
    rates unlinked, and the reason is kept."""
    serving = tmp_path / "serving.duckdb"
    make_serving(serving)
    report = build_report(serving, tmp_path / "no_figures", tmp_path / "reports" / "r.html", run_id="r",
                          warehouse_path=tmp_path / "warehouse.duckdb")
    text = report.path.read_text()
    assert report.explain_pages == 0 and "audit.lineage" in report.explain_error
    assert "23/31 74.2% (0.8-88.1)" in text and "href='explain/" not in text


def test_an_explain_page_escapes_every_value():
    from dagster_project.lib.report.explain_pages import render_page

    evil = "<script>alert(1)</script>"
    delivered = {"kind": "delivered_row", "study_id": "s", "source": "toxicity_assessments",
                 "file_name": f"toxicity_assessments/{evil}.csv", "delivery_sha256": "ab" * 32, "row_number": 3,
                 "record_seq": None, "study_day": 2.0, "values": {"subject_id": "P-1", "note": evil},
                 "in_force": True, "superseded_by_this": [{"source": "toxicity_assessments", "file_name": evil,
                                                           "delivery_sha256": "cd" * 32, "row_number": 1,
                                                           "version_rank": 2, "values": {"crs_grade": evil}}]}
    subject = {"kind": "target", "study_id": "s", "table": "int_toxicity_max_grades",
               "key": f"subject_id=P-1|toxicity=CRS|criteria={evil}", "column": "max_grade", "value": 2,
               "row": {"subject_id": "P-1"}, "note": None, "upstream": [delivered]}
    values = {"toxicity": "CRS", "criteria": evil, "group_by": "overall", "group_value": "all",
              "grade_category": "any", "n_subjects": 1, "n_total": 2, "pct": 50.0, "ci_low_pct": 1.3,
              "ci_high_pct": 98.7}
    document = {"table": "marts.agg_toxicity_rates", "where": {"study_id": "s", "criteria": evil},
                "column": "n_subjects", "n_rows": 1,
                "rows": [{"study_id": "s", "key": "k", "values": values,
                          "explained": [{"kind": "target", "study_id": "s", "table": "marts.agg_toxicity_rates",
                                         "key": "k", "column": "n_subjects", "value": 1, "note": None,
                                         "upstream": [subject]}]}]}
    page = render_page(document)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "1/2 50.0% (1.3-98.7)" in page and "data-subject='P-1'" in page and "row 1 (sha256 cdcdcdcdcdcd" in page
