"""Log finished alexbench runs into an MLflow tracking store, one MLflow run per alexbench run.

Each MLflow run gets: params (identity, device, every setting, flattened with dots), per-epoch
metrics from history.csv with step = epoch, the final metrics of metrics.json, the run folder as
artifacts, and tags with the package versions, the git commit and the alexbench run id. They go
into one MLflow experiment per alexbench experiment ("alexbench S0").

Idempotent: an alexbench run is keyed by its run id and the sha256 of its metrics.json (tags
`alexbench.run_id`, `alexbench.metrics_sha256`); a finished MLflow run with both is not logged
again, a retrained run (new metrics.json) is logged as a new MLflow run. The MLflow run is marked
FINISHED only after everything is logged; one left RUNNING or FAILED by an interrupted export is
deleted and logged again, so nothing half-logged looks complete.
Not for reading run folders (`reporting.runs`) or choosing the store (`workflow/scripts/export_mlflow.py`).
"""
import datetime
import hashlib
import json
import logging
import math
from pathlib import Path

from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient

from alexbench.common import registry, run_contract

log = logging.getLogger(__name__)

RUN_ID_TAG = "alexbench.run_id"
SHA_TAG = "alexbench.metrics_sha256"
BATCH = 100  # MLflow's limit of params or tags per log_batch call
HISTORY_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_time_s",
                   "learning_rate")


def flatten(document, prefix: str = "") -> dict:
    """Nested dict -> {dotted.key: value}; lists as JSON text."""
    out = {}
    for key, value in (document or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def run_id_of(metrics: dict) -> str:
    r = metrics["run"]
    precision = metrics["settings"].get("precision") or registry.DEFAULT_PRECISION
    return f"{r['framework']}-{r['dataset']}-{r['model']}-{r['hardware']}-{precision}-seed{r['seed']}"


def params_of(metrics: dict) -> dict:
    params = {k: metrics["run"][k] for k in ("experiment", "source", "framework", "dataset", "model",
                                              "hardware", "seed")}
    params.update({"device.name": metrics["device"]["name"], "device.threads": metrics["device"]["threads"],
                   "smoke": metrics["smoke"], "parameters": metrics["parameters"],
                   "target_accuracy": metrics["target_accuracy"]})
    params.update(flatten(metrics["settings"], "settings."))
    return {k: "" if v is None else str(v) for k, v in params.items()}


def final_metrics_of(metrics: dict) -> dict:
    """The run's final figures (None and non-finite left out: MLflow has no null)."""
    figures = {"train_time_s": metrics["train_time_s"], "epochs_completed": metrics["epochs_completed"],
               "time_to_target_s": metrics["time_to_target_s"]}
    figures.update(flatten(metrics["throughput"], "throughput."))
    figures.update(flatten(metrics["test"], "test."))
    figures.update(flatten(metrics["memory"], "memory."))
    figures.update({k: v for k, v in flatten(metrics.get("energy") or {}, "energy.").items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return {k: float(v) for k, v in figures.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def tags_of(metrics: dict, run_id: str, sha: str) -> dict:
    tags = {RUN_ID_TAG: run_id, SHA_TAG: sha, "mlflow.runName": run_id,
            "alexbench.status": metrics["status"], "alexbench.smoke": str(metrics["smoke"]).lower()}
    tags.update({f"versions.{k}": str(v) for k, v in flatten(metrics["versions"]).items() if v is not None})
    provenance = metrics.get("provenance") or {}
    tags["git.commit"] = provenance.get("git_commit") or "unknown"
    dirty = provenance.get("git_dirty")
    tags["git.dirty"] = "unknown" if dirty is None else str(dirty).lower()
    tags.update({f"input.{name}": sha256 for name, sha256 in (provenance.get("inputs") or {}).items()})
    return tags


def _experiment_id(client: MlflowClient, name: str, artifact_root: str | None) -> str:
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = f"{artifact_root.rstrip('/')}/{name.replace(' ', '-')}" if artifact_root else None
    return client.create_experiment(name, artifact_location=location)


def _existing(client: MlflowClient, experiment_id: str, run_id: str, sha: str) -> list:
    return client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}' "
                                                            f"and tags.`{SHA_TAG}` = '{sha}'")


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def export_run(client: MlflowClient, run_dir: Path, artifact_root: str | None = None) -> tuple[str, str]:
    """Log one finished run folder; returns (alexbench run id, 'logged' | 'already logged')."""
    metrics_path = Path(run_dir) / run_contract.METRICS_FILE
    metrics = run_contract.read_metrics(metrics_path)
    history = run_contract.read_history(Path(run_dir) / run_contract.HISTORY_FILE)
    run_id = run_id_of(metrics)
    sha = hashlib.sha256(metrics_path.read_bytes()).hexdigest()
    experiment_id = _experiment_id(client, f"alexbench {metrics['run']['experiment']}", artifact_root)
    for found in _existing(client, experiment_id, run_id, sha):
        if found.info.status == RunStatus.to_string(RunStatus.FINISHED):
            return run_id, "already logged"
        log.warning("%s: deleting MLflow run %s left %s by an interrupted export", run_id,
                    found.info.run_id, found.info.status)
        client.delete_run(found.info.run_id)
    run = client.create_run(experiment_id, run_name=run_id)
    mlflow_id = run.info.run_id
    try:
        params = [Param(k, v) for k, v in params_of(metrics).items()]
        tags = [RunTag(k, v) for k, v in tags_of(metrics, run_id, sha).items()]
        for chunk in _chunks(params, BATCH):
            client.log_batch(mlflow_id, params=chunk)
        for chunk in _chunks(tags, BATCH):
            client.log_batch(mlflow_id, tags=chunk)
        # Timestamps: the run's own finish time, so MLflow's charts do not show the export time.
        stamp = int(datetime.datetime.fromisoformat(metrics["finished_at"]).timestamp() * 1000)
        series = [Metric(name, float(row[name]), stamp, int(row["epoch"])) for row in history
                  for name in HISTORY_METRICS if row.get(name) is not None and math.isfinite(row[name])]
        last_step = max((int(row["epoch"]) for row in history), default=0)
        series += [Metric(name, value, stamp, last_step) for name, value in final_metrics_of(metrics).items()]
        for chunk in _chunks(series, 1000):
            client.log_batch(mlflow_id, metrics=chunk)
        client.log_artifacts(mlflow_id, str(run_dir))
    except BaseException:
        client.set_terminated(mlflow_id, status="FAILED")
        raise
    client.set_terminated(mlflow_id, status="FINISHED")
    return run_id, "logged"


def export_runs(run_dirs, tracking_uri: str, artifact_root: str | None = None) -> dict:
    """Log every run folder that has a metrics.json; returns {run id: 'logged' | 'already logged'
    | 'no metrics.json (not finished)'}."""
    client = MlflowClient(tracking_uri=tracking_uri)
    outcome = {}
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not (run_dir / run_contract.METRICS_FILE).exists():
            outcome[str(run_dir)] = "no metrics.json (not finished)"
            continue
        run_id, what = export_run(client, run_dir, artifact_root)
        outcome[run_id] = what
        log.info("%s: %s", run_id, what)
    return outcome
