"""Probe (export venv): read an MLflow tracking store back through MLflow's own client and print
one JSON document: every run of every experiment with its status, params, tags, latest metrics,
the per-epoch history of each history metric and its artifact paths.

    read_mlflow.py --tracking-uri sqlite:////tmp/x/mlflow.db
"""
import argparse
import json
import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from mlflow.tracking import MlflowClient  # noqa: E402

HISTORY = ("val_accuracy", "train_loss", "epoch_time_s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args()
    client = MlflowClient(tracking_uri=args.tracking_uri)
    out = {"experiments": {}, "runs": []}
    for exp in client.search_experiments():
        out["experiments"][exp.name] = exp.experiment_id
        for run in client.search_runs([exp.experiment_id], max_results=10000):
            run_id = run.info.run_id
            out["runs"].append({
                "experiment": exp.name, "name": run.info.run_name, "status": run.info.status,
                "params": run.data.params, "tags": {k: v for k, v in run.data.tags.items()
                                                    if not k.startswith("mlflow.") or k == "mlflow.runName"},
                "metrics": run.data.metrics,
                "history": {m: [(h.step, h.value) for h in sorted(client.get_metric_history(run_id, m),
                                                                  key=lambda h: h.step)]
                            for m in HISTORY},
                "artifacts": sorted(a.path for a in client.list_artifacts(run_id)),
            })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
