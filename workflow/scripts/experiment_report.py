"""The report of one experiment: its tables, comparison plots and results/experiments/<name>.html.

    experiment_report.py --config results/config.json --experiment S0 \
        --run-dir results/runs/keras/mnist/alexnet-mnist/cpu/seed0 [--run-dir ...] \
        --plots-dir results/plots --out results/experiments/S0.html [--allow-missing] \
        [--snakemake-version 9.27.1]

Runs the same three steps as the full report (aggregate.py, plot_comparisons.py,
make_report.py), in one process, on the experiment's runs only; tables and comparison plots go to
results/experiments/<name>/, the page is written last. --run-dir lists every expected run of the
experiment; per-run curves are read from --plots-dir/runs/. Runs in the report env.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aggregate  # noqa: E402
import make_report  # noqa: E402
import plot_comparisons  # noqa: E402

log = logging.getLogger("experiment_report")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="results/config.json")
    parser.add_argument("--experiment", required=True, help="experiment name in config.yaml")
    parser.add_argument("--run-dir", required=True, action="append", type=str, dest="run_dirs",
                        help="an expected run folder of the experiment; repeat for every run")
    parser.add_argument("--plots-dir", required=True, type=Path, help="results/plots (per-run curves)")
    parser.add_argument("--out", required=True, type=Path, help="results/experiments/<name>.html")
    parser.add_argument("--allow-missing", action="store_true",
                        help="report runs without metrics.json as failed/missing rows")
    parser.add_argument("--snakemake-version", default="unknown")
    args = parser.parse_args(argv)
    folder = args.out.with_suffix("")
    run_dir_args = [a for d in args.run_dirs for a in ("--run-dir", d)]
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
