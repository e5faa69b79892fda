"""Plot one run's accuracy and loss per epoch, train against validation (one two-panel PNG).

    plot_run.py --run-dir results/runs/keras/mnist/alexnet-mnist/cpu/fp32/seed0 \
        --out results/plots/runs/keras/mnist/alexnet-mnist/cpu/fp32/seed0.png

Reads the run through alexbench.common.run_contract (metrics.json for the title and validation
split, history.csv for the curves). Runs in the report env.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alexbench.common import run_contract  # noqa: E402
from alexbench.reporting import plots  # noqa: E402

log = logging.getLogger("plot_run")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True, type=Path, help="a finished run folder")
    parser.add_argument("--out", required=True, type=Path, help="PNG to write")
    args = parser.parse_args(argv)
    try:
        metrics = run_contract.read_metrics(args.run_dir / run_contract.METRICS_FILE)
        identity = metrics["run"]  # a finished run says who it is
        history = run_contract.read_history(args.run_dir / run_contract.HISTORY_FILE)
    except (ValueError, OSError) as e:
        log.error("%s", e)
        return 1
    title = plots.run_title(identity, metrics["status"], metrics["smoke"])
    plots.plot_run_curves(history, title, args.out, validation=metrics["settings"]["validation"])
    log.info("wrote %s (%d epochs)", args.out, len(history))
    return 0


if __name__ == "__main__":
    sys.exit(main())
