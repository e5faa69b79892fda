"""One experiment by name: results/experiments/<name>.html from that experiment's runs only, and
the named target rules (`snakemake experiment_S0`) that `--list-target-rules` shows."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import REPO, run_in_env
from plugins.run_fixtures import write_run_table


def test_every_experiment_is_a_named_target_rule():
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--list-target-rules"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    listed = set(proc.stdout.split())
    assert {"experiment_S0", "experiment_D", "experiment_S4"} <= listed


def test_experiment_report_covers_only_its_runs(built_report, tmp_path):
    matrix = built_report.matrix
    out = tmp_path / "results" / "experiments" / "S3.html"
    args = ["workflow/scripts/experiment_report.py", "--config", matrix.config_path, "--experiment", "S3",
            "--runs", built_report.results / "runs.json"]
    run_in_env("report", args + ["--plots-dir", built_report.results / "plots", "--out", out])
    tmp_path = tmp_path / "results"
    perf = pd.read_csv(tmp_path / "experiments" / "S3" / "performance.csv")
    assert sorted(perf["run_id"]) == ["gluon-cifar10-alexnet-224-gpu-fp32-seed0",
                                      "pytorch-cifar10-alexnet-224-gpu-fp32-seed0"]
    assert (tmp_path / "experiments" / "S3" / "comparison" / "train_time.png").exists()
    page = out.read_text()
    assert page.count("<tr data-run=") == 2 and "single run, no ranking claim" in page
    md = (tmp_path / "experiments" / "S3" / "performance.md").read_text()
    assert "## S3" in md and "## S0" not in md


def test_experiment_report_fails_without_a_page_when_a_run_is_missing(built_report, tmp_path):
    matrix = built_report.matrix
    table = write_run_table([matrix.failed], tmp_path / "results" / "runs.json")
    out = tmp_path / "results" / "experiments" / "S0.html"
    args = ["workflow/scripts/experiment_report.py", "--config", matrix.config_path, "--experiment", "S0",
            "--runs", table, "--plots-dir", built_report.results / "plots", "--out", out]
    proc = run_in_env("report", args, check=False)
    assert proc.returncode == 1 and "metrics.json" in proc.stderr and "missing" in proc.stderr
    assert not out.exists()
    proc = run_in_env("report", args[:4] + ["D"] + args[5:], check=False)
    assert proc.returncode == 1 and "experiment 'D' has no runs in the run table" in proc.stderr
