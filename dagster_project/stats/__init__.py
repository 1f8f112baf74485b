"""Pure statistical functions for the `analysis` schema (no Dagster, no DuckDB).

One module per concern; each one states the R call it reproduces and the tests in
``tests/test_stats_*.py`` hold it to the R reference values in ``shared/reference``.

- :mod:`.proportions` -- exact (Clopper-Pearson) binomial intervals, R ``binom.test``.
- :mod:`.survival` -- Kaplan-Meier curves, medians, 12-month survival, log-rank test,
  R ``survival::survfit(..., conf.type = "log-log")`` / ``quantile`` / ``survdiff``.
- :mod:`.loess` -- LOESS with pointwise 95% band, R ``loess()`` defaults + ``predict(se=TRUE)``.
- :mod:`.pm_wilcoxon` -- partially matched Wilcoxon test, R ``robustrank::pm.wilcox.test``.
- :mod:`.paired` -- paired and ratio-paired t-tests, R ``t.test(paired = TRUE)``.
- :mod:`.ctcae` -- CTCAE v5.0 grades for neutrophil and platelet counts.
"""
