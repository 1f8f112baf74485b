"""CRS and ICANS rate figure of Park et al. 2023 (Figure 2), as PNG bytes.

Pure matplotlib (object API on an Agg canvas, no pyplot state), no Dagster, no database. Input:
the rows of ``marts.agg_toxicity_rates`` (toxicity, group_by, group_value, grade_category,
n_subjects, n_total, pct, ci_low_pct, ci_high_pct), whose numbers are the investigator's
adjudicated maximum grades in the toxicity window with exact (Clopper-Pearson) 95% intervals
(derivations.md, "Adjudicated vs derived grades", "Proportions"). Nothing is recomputed here
except the stacking of the per-grade percentages.

- :func:`toxicity_rates_figure` -- panel A (left): overall any-grade and grade >= 3 rates of CRS
  and ICANS with their 95% CI; panels B over C (right): per CAR T-cell product (and all subjects), the
  max-grade distribution of CRS and of ICANS as stacked bars (grade 1 .. 5), the any-grade rate
  and n/N above every bar.
- :func:`grade_distribution` -- the table behind panels B/C.

The footnote is drawn in the image and stored in the PNG's ``Description`` text chunk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dagster_project.figures.render import (
    GRADE_COLORS,
    GROUP_LABELS,
    MAX_WIDTH_PX,
    despine,
    footnoted_png,
    percent_axis,
    stack_legend,
)
from schemas.vocabulary import TOXICITIES

__all__ = [
    "GRADES",
    "REQUIRED_COLUMNS",
    "grade_distribution",
    "toxicity_note",
    "toxicity_rates_figure",
]

GRADES = (1, 2, 3, 4, 5)
SUMMARY_CATEGORIES = (("any", "Any grade", "#4575b4"), ("severe", "Grade \u2265 3", "#d73027"))
REQUIRED_COLUMNS = (
    "toxicity", "group_by", "group_value", "grade_category", "n_subjects", "n_total", "pct",
    "ci_low_pct", "ci_high_pct",
)


def _check(rates: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in rates.columns]
    if missing:
        raise ValueError(f"agg_toxicity_rates rows lack columns {missing}")


def _row(rates: pd.DataFrame, toxicity: str, group_by: str, group_value: str,
         category: str) -> pd.Series | None:
    hit = rates[(rates["toxicity"] == toxicity) & (rates["group_by"] == group_by)
                & (rates["group_value"] == group_value) & (rates["grade_category"] == category)]
    return None if hit.empty else hit.iloc[0]


def grade_distribution(rates: pd.DataFrame, toxicity: str, group_by: str = "car_t_product",
                       include_overall: bool = True) -> pd.DataFrame:
    """Per group value: pct of each max grade 1..5, the any-grade pct and n, and n_total.

    Rows in the order ``All`` (when ``include_overall``) then the group values sorted; columns
    ``grade_1`` .. ``grade_5`` (percent, 0 where the category row is absent), ``any_pct``,
    ``any_n``, ``n_total``.
    """
    _check(rates)
    values: list[tuple[str, str, str]] = []
    if include_overall:
        values.append(("All", "overall", "all"))
    groups = rates.loc[(rates["toxicity"] == toxicity) & (rates["group_by"] == group_by),
                       "group_value"].dropna().astype(str)
    values += [(v, group_by, v) for v in sorted(set(groups))]
    out = []
    for label, gb, gv in values:
        rec: dict = {"group_value": label}
        for g in GRADES:
            row = _row(rates, toxicity, gb, gv, f"grade_{g}")
            rec[f"grade_{g}"] = 0.0 if row is None or pd.isna(row["pct"]) else float(row["pct"])
        any_row = _row(rates, toxicity, gb, gv, "any")
        rec["any_pct"] = (np.nan if any_row is None or pd.isna(any_row["pct"])
                          else float(any_row["pct"]))
        rec["any_n"] = 0 if any_row is None else int(any_row["n_subjects"])
        rec["n_total"] = 0 if any_row is None else int(any_row["n_total"])
        out.append(rec)
    columns = ["group_value", *(f"grade_{g}" for g in GRADES), "any_pct", "any_n", "n_total"]
    return pd.DataFrame(out, columns=columns).set_index("group_value")


# toxicity criteria (schemas.vocabulary.TOXICITY_CRITERIA) as the footnote names them
CRITERIA_NAMES = {"ASTCT2019": "ASTCT 2019 consensus", "Lee2014": "Lee 2014 criteria", "CTCAE5": "CTCAE v5.0"}


def toxicity_note(first_day: int = 0, last_day: int = 30, criteria: str = "ASTCT2019") -> str:
    """The footnote: what is counted, by which criteria, over which days, and what the whiskers are."""
    return (
        f"Investigator-adjudicated maximum grade ({CRITERIA_NAMES.get(criteria, criteria)}) on study days "
        f"{first_day}-{last_day} after CAR T-cell infusion; denominators: all infused subjects. "
        "Panel A error bars: exact (Clopper-Pearson) 95% confidence intervals."
    )


def _overall_panel(ax, rates: pd.DataFrame) -> None:
    width = 0.36
    x = np.arange(len(TOXICITIES))
    for k, (category, label, color) in enumerate(SUMMARY_CATEGORIES):
        pct, low, high, text = [], [], [], []
        for tox in TOXICITIES:
            row = _row(rates, tox, "overall", "all", category)
            if row is None or pd.isna(row["pct"]):
                pct.append(0.0)
                low.append(0.0)
                high.append(0.0)
                text.append("n/a")
                continue
            p = float(row["pct"])
            pct.append(p)
            low.append(p - (p if pd.isna(row["ci_low_pct"]) else float(row["ci_low_pct"])))
            high.append((p if pd.isna(row["ci_high_pct"]) else float(row["ci_high_pct"])) - p)
            text.append(f"{p:.0f}%\n({int(row['n_subjects'])}/{int(row['n_total'])})")
        xs = x + (k - 0.5) * width
        ax.bar(xs, pct, width=width * 0.92, color=color, label=label)
        ax.errorbar(xs, pct, yerr=[low, high], fmt="none", ecolor="#333333", elinewidth=1,
                    capsize=3)
        for xi, p, h, t in zip(xs, pct, high, text):
            ax.text(xi, p + h + 2, t, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, TOXICITIES)
    percent_axis(ax)
    ax.set_ylabel("Patients (%)")
    ax.set_title("A  Overall", loc="left", fontsize=10)
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    despine(ax)


def _grade_panel(ax, table: pd.DataFrame, toxicity: str, letter: str, group_by: str) -> None:
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for g in GRADES:
        pct = table[f"grade_{g}"].to_numpy(dtype=float)
        ax.bar(x, pct, bottom=bottom, width=0.7, color=GRADE_COLORS[g], edgecolor="white",
               linewidth=0.8, label=f"Grade {g}")
        bottom += pct
    for xi, (_, row) in zip(x, table.iterrows()):
        if row["n_total"] > 0 and not pd.isna(row["any_pct"]):
            ax.text(xi, bottom[int(xi)] + 2,
                    f"{row['any_pct']:.0f}%\n({int(row['any_n'])}/{int(row['n_total'])})",
                    ha="center", va="bottom", fontsize=7.5)
    ax.set_xticks(x, [f"{v}\n(n={int(n)})" for v, n in zip(table.index, table["n_total"])],
                  fontsize=8)
    ax.set_xlim(-0.6, max(len(table), 1) - 0.4)
    percent_axis(ax)
    ax.set_title(f"{letter}  {toxicity} by max grade and {GROUP_LABELS.get(group_by, group_by)}",
                 loc="left", fontsize=10)
    despine(ax)


def toxicity_rates_figure(rates: pd.DataFrame, group_by: str = "car_t_product",
                          first_day: int = 0, last_day: int = 30,
                          title: str = "Cytokine release syndrome and ICANS",
                          dpi: int = 120, criteria: str = "ASTCT2019") -> bytes:
    """Park 2023 Figure 2 from ``agg_toxicity_rates`` rows, as PNG bytes.

    Panel A (left): overall any-grade and grade >= 3 rates of CRS and ICANS with 95% CI whiskers
    and n/N. Panels B (CRS, right) over C (ICANS): for all subjects and each value of ``group_by`` (default
    the CAR T-cell product), stacked bars of the max-grade percentages 1..5 with the any-grade
    rate and n/N on top. ``first_day``/``last_day`` only label the toxicity window in the
    footnote (the marts' vars toxicity_window_first_day/last_day). ``rates``: one study's rows;
    where they carry ``criteria`` (a study reporting two), those of ``criteria`` (named in the
    footnote) are drawn.
    """
    _check(rates)
    if "criteria" in rates.columns:
        rates = rates[rates["criteria"] == criteria]
    if group_by not in ("car_t_product", "disease"):
        raise ValueError(f"group_by must be car_t_product or disease, got {group_by!r}")
    note = toxicity_note(first_day, last_day, criteria)
    tables = {tox: grade_distribution(rates, tox, group_by) for tox in TOXICITIES}
    n_bars = max(len(t) for t in tables.values())
    # A on the left over both rows, B over C on the right: the figure grows down, not sideways
    ratios = [max(2.6, 0.35 * (n_bars + 0.8)), n_bars + 0.8]  # A keeps room for its labels
    width = min(MAX_WIDTH_PX / dpi - 0.2, 2.6 + 0.75 * sum(ratios))
    fig = Figure(figsize=(width, 6.6), layout="constrained")
    axes = fig.subplot_mosaic([["A", "B"], ["A", "C"]], width_ratios=ratios)
    _overall_panel(axes["A"], rates)
    for letter, tox in zip(("B", "C"), TOXICITIES):
        _grade_panel(axes[letter], tables[tox], tox, letter, group_by)
        axes[letter].set_ylabel("Patients (%)")
    stack_legend(fig, axes["B"], "Max grade", fontsize=8)
    return footnoted_png(fig, dpi, title, note)
