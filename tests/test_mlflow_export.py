"""Export to MLflow: fixture run folders (written through the real run contract) are logged into
a real SQLite tracking store by workflow/scripts/export_mlflow.py in the export venv, then read
back through MLflow's own client (tests/probes/read_mlflow.py), not through our code."""
import json
import os
import subprocess

import pytest

from alexbench.common import run_contract
from conftest import REPO, env_python, run_json_in_env
from plugins.run_fixtures import write_run

PROBE = REPO / "tests" / "probes" / "read_mlflow.py"


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "results" / "runs"
    return {"ok0": write_run(root, "keras", seed=0), "ok1": write_run(root, "keras", seed=1),
            "diverged": write_run(root, "pytorch", seed=1, status="diverged", epochs_completed=3),
            "failed": write_run(root, "gluon", seed=0, failed="boom")}


def run_export(args, environ, check=True):
    """export_mlflow.py in the export venv with the given environment variables."""
    proc = subprocess.run([str(env_python("export")), "workflow/scripts/export_mlflow.py", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=600, env=environ)
    if check:
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def export(run_dirs, done, env, check=True):
    args = ["--done", done]
    for run_dir in run_dirs:
        args += ["--run-dir", run_dir]
    return run_export(args, env, check)


def read_back(uri):
    return run_json_in_env("export", [PROBE, "--tracking-uri", uri], timeout=300)


def test_runs_are_logged_once_with_params_epochs_metrics_artifacts_and_tags(runs, tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    done = tmp_path / "results" / "mlflow.done"
    export(runs.values(), done, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    summary = json.loads(done.read_text())
    assert summary["tracking_uri"] == uri
    assert summary["runs"]["keras-mnist-alexnet-mnist-cpu-fp32-seed0"] == "logged"
    assert summary["runs"][str(runs["failed"])] == "no metrics.json (not finished)"

    store = read_back(uri)
    assert "alexbench S0" in store["experiments"]
    by_name = {r["name"]: r for r in store["runs"]}
    assert sorted(by_name) == ["keras-mnist-alexnet-mnist-cpu-fp32-seed0", "keras-mnist-alexnet-mnist-cpu-fp32-seed1",
                               "pytorch-mnist-alexnet-mnist-cpu-fp32-seed1"]
    run = by_name["keras-mnist-alexnet-mnist-cpu-fp32-seed0"]
    metrics = run_contract.read_metrics(runs["ok0"] / "metrics.json")
    history = run_contract.read_history(runs["ok0"] / "history.csv")
    assert run["status"] == "FINISHED"
    assert run["params"]["framework"] == "keras" and run["params"]["seed"] == "0"
    assert run["params"]["settings.batch_size"] == "32"
    assert run["params"]["settings.optimizer.rho"] == "0.95"
    assert run["params"]["device.name"] == metrics["device"]["name"]
    assert run["history"]["val_accuracy"] == [[row["epoch"], row["val_accuracy"]] for row in history]
    assert [s for s, _ in run["history"]["epoch_time_s"]] == list(range(1, 13))
    assert run["metrics"]["test.accuracy"] == metrics["test"]["accuracy"]
    assert run["metrics"]["train_time_s"] == metrics["train_time_s"]
    assert run["metrics"]["throughput.train_images_per_s"] == metrics["throughput"]["train_images_per_s"]
    assert run["tags"]["git.commit"] == metrics["provenance"]["git_commit"]
    assert run["tags"]["git.dirty"] == "false"
    assert run["tags"]["versions.framework_detail.tensorflow"] == "2.21.0"
    assert run["tags"]["alexbench.run_id"] == "keras-mnist-alexnet-mnist-cpu-fp32-seed0"
    assert {"metrics.json", "history.csv", "env.txt"} <= set(run["artifacts"])
    diverged = by_name["pytorch-mnist-alexnet-mnist-cpu-fp32-seed1"]
    assert diverged["tags"]["alexbench.status"] == "diverged"
    assert [s for s, _ in diverged["history"]["val_accuracy"]] == [1, 2, 3]
    assert [s for s, _ in diverged["history"]["train_loss"]] == [1, 2]   # the non-finite loss is left out
    assert "test.loss" not in diverged["metrics"]

    # Idempotent: the same runs again log nothing; a retrained run (new metrics.json) is logged anew.
    export(runs.values(), done, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    assert set(json.loads(done.read_text())["runs"].values()) == {"already logged", "no metrics.json (not finished)"}
    assert len(read_back(uri)["runs"]) == 3
    retrained = run_contract.read_metrics(runs["ok1"] / "metrics.json")
    retrained["finished_at"] = "2025-11-26T10:30:00+00:00"
    run_contract.write_metrics(runs["ok1"], retrained)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    run_export(["--done", done, "--tracking-uri", uri, "--run-dir", runs["ok0"], "--run-dir", runs["ok1"]], env)
    assert json.loads(done.read_text())["runs"] == {"keras-mnist-alexnet-mnist-cpu-fp32-seed0": "already logged",
                                                    "keras-mnist-alexnet-mnist-cpu-fp32-seed1": "logged"}
    assert len(read_back(uri)["runs"]) == 4


def test_default_store_is_sqlite_under_results(runs, tmp_path):
    done = tmp_path / "results" / "mlflow.done"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    export([runs["ok0"]], done, env=env)
    assert (tmp_path / "results" / "mlflow.db").exists()
    assert json.loads(done.read_text())["tracking_uri"] == f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"
    store = read_back(f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    assert [r["name"] for r in store["runs"]] == ["keras-mnist-alexnet-mnist-cpu-fp32-seed0"]
    assert list((tmp_path / "results" / "mlflow-artifacts").rglob("metrics.json"))


def test_a_broken_metrics_file_stops_the_export_naming_it(runs, tmp_path):
    (runs["ok0"] / "metrics.json").write_text('{"schema_version": 1}')
    done = tmp_path / "results" / "mlflow.done"
    proc = export([runs["ok0"]], done, check=False,
                  env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    assert proc.returncode == 1 and "metrics.json" in proc.stderr
    assert not done.exists()
