"""Log finished runs into an MLflow tracking store (optional; `snakemake -j2 results/mlflow.done`).

    export_mlflow.py --runs results/runs.json --done results/mlflow.done \
        [--tracking-uri URI] [--artifact-root DIR]
    export_mlflow.py --run-dir results/runs/keras/mnist/alexnet-mnist/cpu/fp32/seed0 [--run-dir ...] --done ...

The store is --tracking-uri, else $MLFLOW_TRACKING_URI, else a local SQLite file
results/mlflow.db with artifacts under results/mlflow-artifacts/ (beside --done). Runs already
logged are not logged again (alexbench.export.mlflow_runs). --done, written last, lists what
happened to each run and the store used. Runs in the export env.
"""
import argparse
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The export talks to the store it is given and nothing else.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from alexbench.common import atomic_files  # noqa: E402

log = logging.getLogger("export_mlflow")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, help="results/runs.json: export every run of the run table")
    parser.add_argument("--run-dir", action="append", type=Path, dest="run_dirs", default=[],
                        help="a run folder; repeat for every run (besides or instead of --runs)")
    parser.add_argument("--done", required=True, type=Path, help="results/mlflow.done, written last")
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else "
                        "sqlite:///<folder of --done>/mlflow.db")
    parser.add_argument("--artifact-root", type=Path, default=None,
                        help="artifact folder for a new experiment in a local store "
                             "(default: <folder of --done>/mlflow-artifacts)")
    args = parser.parse_args(argv)
    results = args.done.resolve().parent
    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{results / 'mlflow.db'}"
    artifact_root = args.artifact_root or (results / "mlflow-artifacts")
    # A server decides where its artifacts go; a local store gets them beside results/.
    local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
    root_uri = Path(artifact_root).resolve().as_uri() if local else None
    from alexbench.common import run_table
    from alexbench.export import mlflow_runs
    try:
        run_dirs = [e.run_dir for e in run_table.read(args.runs)] if args.runs else []
        run_dirs += args.run_dirs
        if not run_dirs:
            parser.error("give --runs or at least one --run-dir")
        outcome = mlflow_runs.export_runs(run_dirs, uri, root_uri)
    except (ValueError, OSError) as e:  # ContractError is a ValueError
        log.error("%s", e)
        return 1
    summary = {"tracking_uri": uri, "artifact_root": root_uri, "runs": outcome}
    atomic_files.write_text(args.done, json.dumps(summary, indent=1, sort_keys=True) + "\n")
    counts = {}
    for what in outcome.values():
        counts[what] = counts.get(what, 0) + 1
    log.info("MLflow store %s: %s", uri, ", ".join(f"{n} {w}" for w, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
