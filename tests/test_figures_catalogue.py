"""The figure catalogue is the one list of figures: every figure an analysis asset writes has an
entry (and only those), the assets cannot write an uncatalogued one, and the HTML report shows
them in catalogue order under catalogue captions."""

import ast
from pathlib import Path

import pytest

import dagster_project.defs.analysis as analysis_package
from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.figures import catalogue
from dagster_project.lib.report.html_report import _figure_html, read_figures

ANALYSIS_DIR = Path(analysis_package.__file__).parent


def _written_stems() -> list[tuple[str, str]]:
    """(module, stem) of every figure_metadata(png, folder, stem, ...) call in defs/analysis."""
    found = []
    for path in sorted(ANALYSIS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "figure_metadata"):
                continue
            stem = node.args[2] if len(node.args) > 2 else {k.arg: k.value for k in node.keywords}.get("stem")
            assert isinstance(stem, ast.Constant) and isinstance(stem.value, str), (
                f"{path.name}:{node.lineno}: pass the figure stem as a literal, so it can be checked here")
            found.append((path.stem, stem.value))
    return found


def test_every_figure_the_assets_write_is_catalogued_once():
    written = _written_stems()
    stems = [stem for _, stem in written]
    assert len(stems) == len(set(stems)), "a stem is written twice"
    assert sorted(stems) == sorted(catalogue.STEMS)
    assert {module for module, _ in written} == {
        "toxicity", "response", "survival", "cytokine_curves", "csf_pre_post", "intervention"}


def test_catalogue_entries_are_unique_captioned_sentences():
    assert len(catalogue.STEMS) == len(catalogue.FIGURES) == 16
    for stem, text in catalogue.FIGURES:
        assert stem.isidentifier() and stem == stem.lower()
        assert text.strip() == text and text.endswith("."), stem


def test_figure_metadata_writes_the_catalogued_figure_with_its_caption(tmp_path):
    meta = figure_metadata(b"\x89PNG fake", tmp_path / "figures", "csf_pre_post", " 3 rows without a pair.")
    assert set(meta) == {"figure_csf_pre_post", "figure_csf_pre_post_path"}
    assert (tmp_path / "figures" / "csf_pre_post.png").read_bytes() == b"\x89PNG fake"
    assert meta["figure_csf_pre_post_path"].value == str(tmp_path / "figures" / "csf_pre_post.png")
    text = meta["figure_csf_pre_post"].value
    assert text.startswith("![csf_pre_post](data:image/png;base64,")
    # the caption, what this run adds, how to explain the figure's numbers (issue 17)
    assert text.endswith("\n\n" + catalogue.caption("csf_pre_post") + " 3 rows without a pair. "
                         + catalogue.explain_hint("csf_pre_post"))
    assert "uv run warehouse explain analysis.csf_pre_post" in text
    with pytest.raises(KeyError, match="catalogue"):
        figure_metadata(b"\x89PNG", tmp_path / "figures", "not_a_figure")
    assert not (tmp_path / "figures" / "not_a_figure.png").exists()


def test_every_explain_hint_names_a_catalogued_figure():
    assert set(catalogue.EXPLAINED_BY) <= set(catalogue.STEMS)
    assert catalogue.explain_hint("serum_cytokines_all") == ""  # a LOESS curve has no row-level lineage


def test_report_shows_catalogued_figures_in_order_with_their_captions(tmp_path):
    for stem in (*reversed(catalogue.STEMS), "zz_extra", "aa_extra"):
        (tmp_path / f"{stem}.png").write_bytes(b"\x89PNG")
    assert [stem for stem, _ in read_figures(tmp_path)] == [*catalogue.STEMS, "aa_extra", "zz_extra"]
    assert "<figcaption>Overall survival, Kaplan-Meier" in _figure_html("km_os_overall", b"\x89PNG")
    assert "<figcaption>aa extra</figcaption>" in _figure_html("aa_extra", b"\x89PNG")
