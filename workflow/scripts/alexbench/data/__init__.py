"""Dataset acquisition: verified downloads, safe archive extraction, official-format readers,
preparation into the framework-neutral `.npy` form, and small synthetic datasets in the official
formats for tests and the demo mode.

Not for training-time data access: training reads `resources/prepared/{dataset}/` through
`alexbench.common.prepared`. `download` and `archive` are stdlib only; `readers`, `prepare` and
`synthetic` need numpy and pillow (the report env). Nothing is imported here so that the
stdlib-only modules stay importable without numpy.
"""
