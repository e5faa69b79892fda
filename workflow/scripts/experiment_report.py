"""The report of one experiment: its tables, comparison plots and results/experiments/<name>.html.

    experiment_report.py --config results/config.json --experiment S0 --runs results/runs.json \
        --plots-dir results/plots --out results/experiments/S0.html [--allow-missing] \
        [--snakemake-version 9.27.1]

Runs the same three steps as the full report (aggregate.py, plot_comparisons.py,
make_report.py), in one process, on the experiment's runs only: the run table's rows of that
experiment go to results/experiments/<name>.runs.json (paths made relative to it), tables and
comparison plots to results/experiments/<name>/, and the page is written last. Per-run curves
are read from --plots-dir/runs/. Runs in the report env.
"""
import argparse
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aggregate  # noqa: E402
import make_report  # noqa: E402
import plot_comparisons  # noqa: E402
from alexbench.common import atomic_files  # noqa: E402

log = logging.getLogger("experiment_report")


def experiment_table(runs_json: Path, experiment: str, out: Path) -> Path:
    """Write the run table's rows of one experiment to `out`, with paths relative to the folder
    two levels above it (where run_table.read resolves them); ValueError when there are none."""
    try:
        doc = json.loads(runs_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{runs_json}: cannot read the run table ({e})") from e
    old_root = runs_json.resolve().parent.parent
    new_root = out.resolve().parent.parent
    rows = [dict(r) for r in doc.get("runs", []) if r.get("experiment") == experiment]
    if not rows:
        raise ValueError(f"{runs_json}: experiment {experiment!r} has no runs in the run table")
    for row in rows:
        for key in ("path", "log"):
            row[key] = os.path.relpath(old_root / row[key], new_root)
    return atomic_files.write_text(out, json.dumps({**doc, "runs": rows}, indent=2) + "\n")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="results/config.json")
    parser.add_argument("--experiment", required=True, help="experiment name in config.yaml")
    parser.add_argument("--runs", required=True, type=Path, help="results/runs.json, the run table")
    parser.add_argument("--plots-dir", required=True, type=Path, help="results/plots (per-run curves)")
    parser.add_argument("--out", required=True, type=Path, help="results/experiments/<name>.html")
    parser.add_argument("--allow-missing", action="store_true",
                        help="report runs without metrics.json as failed/missing rows")
    parser.add_argument("--snakemake-version", default="unknown")
    args = parser.parse_args(argv)
    folder = args.out.with_suffix("")
    table = args.out.with_suffix(".runs.json")
    try:
        experiment_table(args.runs, args.experiment, table)
    except ValueError as e:
        log.error("%s", e)
        return 1
    run_dir_args = ["--runs", str(table)]
    tables = {name: str(folder / name) for name in
              ("performance.csv", "summary.csv", "performance.md", "performance.html")}
    steps = [
        (aggregate.main, ["--config", str(args.config), *run_dir_args,
                          "--performance", tables["performance.csv"], "--summary", tables["summary.csv"],
                          "--markdown", tables["performance.md"], "--html-table", tables["performance.html"]]
         + (["--allow-missing"] if args.allow_missing else [])),
        (plot_comparisons.main, ["--performance", tables["performance.csv"], "--config", str(args.config),
                                 *run_dir_args, "--out-dir", str(folder / "comparison")]),
        (make_report.main, ["--config", str(args.config), "--performance", tables["performance.csv"],
                            "--summary", tables["summary.csv"], "--plots-dir", str(args.plots_dir),
                            "--comparison-dir", str(folder / "comparison"), *run_dir_args,
                            "--snakemake-version", args.snakemake_version, "--out", str(args.out)]),
    ]
    for step, step_args in steps:
        if step(step_args) != 0:
            log.error("experiment %s: %s failed; no %s written", args.experiment,
                      step.__module__, args.out)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
