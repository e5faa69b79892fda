"""Cross-framework comparison plots from the aggregated table and the runs' histories.

    plot_comparisons.py --performance results/performance.csv --config results/config.json \
        --runs results/runs.json --out-dir results/plots/comparison

Writes, in --out-dir, a PNG and an SVG of each (names fixed, see
alexbench.reporting.plots.COMPARISON_PLOTS): train_time, throughput, test_accuracy,
accuracy_vs_time, learning_curves. Runs without metrics.json are tolerated here (aggregate.py
already decided whether they may be missing). Runs in the report env.
"""
import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.reporting import plots, runs, tables  # noqa: E402

log = logging.getLogger("plot_comparisons")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--performance", required=True, type=Path, help="results/performance.csv")
    parser.add_argument("--config", required=True, type=Path, help="results/config.json")
    parser.add_argument("--runs", required=True, type=Path,
                        help="results/runs.json, the workflow's table of runs (for learning curves)")
    parser.add_argument("--out-dir", required=True, type=Path, help="results/plots/comparison")
    args = parser.parse_args(argv)
    try:
        config = json.loads(args.config.read_text(encoding="utf-8"))
        perf = tables.read_performance(args.performance)
        collected = runs.collect_runs(args.runs, allow_missing=True)
    except (ValueError, OSError) as e:
        log.error("%s", e)
        return 1
    titles = {name: exp.get("title", "") for name, exp in (config.get("experiments") or {}).items()}
    written = plots.plot_comparisons(perf, collected, args.out_dir, titles)
    log.info("wrote %d files in %s", len(written), args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
