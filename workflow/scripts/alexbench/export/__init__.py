"""Export: hand finished runs to other tools (MLflow). Runs in the `export` env; reads run
folders only through `alexbench.common.run_contract` (via `alexbench.reporting.runs`, which is
stdlib only) and never imports a framework."""
