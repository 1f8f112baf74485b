"""Pure statistical functions (no Dagster, no DuckDB, no dbt): the analysis assets and the dbt
Python models both import them, so neither engine depends on the orchestrator.

One module per concern; each one states the R call it reproduces and the tests in
``tests/test_stats_*.py`` hold it to the R reference values in ``shared/reference``.

- :mod:`.clopper_pearson` -- exact (Clopper-Pearson) binomial intervals, R ``binom.test``.
- :mod:`.kaplan_meier` -- Kaplan-Meier curves, medians, 12-month survival, log-rank test,
  R ``survival::survfit(..., conf.type = "log-log")`` / ``quantile`` / ``survdiff``.
- :mod:`.loess` -- LOESS with pointwise 95% band, R ``loess()`` defaults + ``predict(se=TRUE)``.
- :mod:`.pm_wilcoxon` -- partially matched Wilcoxon test, R ``robustrank::pm.wilcox.test``.
- :mod:`.paired_t` -- paired and ratio-paired t-tests, R ``t.test(paired = TRUE)``.
- :mod:`.ctcae` -- CTCAE v5.0 grades for neutrophil and platelet counts.
"""
