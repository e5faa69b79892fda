"""Reporting: turn finished run folders into tables, statistics, claim verdicts, plots and one
self-contained HTML report.

Runs in the `report` env (pandas, seaborn, matplotlib, jinja2). Never imports a deep-learning
framework (tests/test_layering.py checks) and reads run folders only through
`alexbench.common.run_contract`. Modules: `runs` (collect the expected runs), `stats` (mean, sd,
Student-t intervals), `tables` (performance/summary tables, Markdown, HTML), `claims` (published
figures against measurements), `plots`, `provenance`, `html` (the report page).
"""
