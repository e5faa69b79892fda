"""Training memory from the peaks measured per variant (config.yaml memory_peaks_mb): SLURM asks
for it, a local run that cannot fit stops before any job naming both figures and the
experiments_only way out, and the demo leaves such an experiment out with the reason in the
report."""
import json
import subprocess

import yaml

from alexbench.memory_fit import run_memory_mb, slurm_mem_mb
from alexbench.workflow_config import validate_config

from conftest import REPO, run_in_env
from plugins.checkout import copy_checkout
from plugins.run_fixtures import write_run_table
from test_config import SNAKEMAKE, dry_run

S1_RUN = "results/runs/keras/cifar10/alexnet-cifar-256/cpu/fp32/seed0/metrics.json"


def default_config(**overrides) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(overrides)
    return validate_config(config)


def test_slurm_asks_each_training_job_for_its_measured_peak_with_a_margin():
    config = default_config()
    for name, experiment in config["experiments"].items():
        peak = config["memory_peaks_mb"][experiment["model"]]
        if isinstance(peak, dict):
            peak = peak[experiment["tf_allocator"]]
        assert run_memory_mb(config, name) >= peak
        assert slurm_mem_mb(config, name) >= 1.25 * run_memory_mb(config, name)
    # The job that needs ~12 GB no longer asks for 8 GB.
    assert slurm_mem_mb(config, "S1") > 12_000
    proc = dry_run(S1_RUN, "--workflow-profile", "profiles/slurm", quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert f"mem_mb={slurm_mem_mb(config, 'S1')}" in proc.stdout


def test_the_peak_follows_tensorflow_s_allocator_where_it_differs():
    # Every experiment trains on TensorFlow's own (faster) allocator unless it opts out; S1's
    # peak is lower with the system allocator, and its memory need follows the choice.
    config = default_config()
    assert {e["tf_allocator"] for e in config["experiments"].values()} == {"tensorflow"}
    peaks = config["memory_peaks_mb"]["alexnet-cifar-256"]
    data = config["datasets"]["cifar10"]["prepared_mb"]
    assert run_memory_mb(config, "S1") == peaks["tensorflow"] + data
    config["experiments"]["S1"]["tf_allocator"] = "system"
    assert run_memory_mb(config, "S1") == peaks["system"] + data < peaks["tensorflow"] + data


def test_torch_compile_adds_its_compiler_processes_per_training_thread():
    # Inductor runs one C++ compiler per compile thread, which the harness sets to the run's
    # threads: an experiment whose PyTorch runs compile needs that much more, per thread.
    config = default_config(train_threads=4)
    per_thread = config["torch_compile_mb_per_thread"]
    eager = run_memory_mb(config, "S0")
    config["experiments"]["S0"]["torch_compile"] = True
    assert "pytorch" in config["experiments"]["S0"]["frameworks"]
    assert run_memory_mb(config, "S0") == eager + 4 * per_thread
    config["train_threads"] = 2
    assert run_memory_mb(config, "S0") == eager + 2 * per_thread
    # Without PyTorch in the experiment the setting changes nothing.
    config["experiments"]["S0"]["frameworks"] = ["keras", "gluon"]
    assert run_memory_mb(config, "S0") == eager


def test_a_run_that_cannot_fit_stops_before_any_job(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    proc = subprocess.run([*SNAKEMAKE, S1_RUN, "--config", "machine_memory_mb=8000"], cwd=clone,
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    need = run_memory_mb(default_config(), "S1")
    assert proc.returncode != 0, output
    assert f"S1 (alexnet-cifar-256) needs about {need:,} MB" in output
    assert "this machine has 8,000 MB" in output
    assert "--config experiments_only=[S0,S2,S3,S4,D]" in output
    assert not (clone / "resources").exists() and not (clone / "logs").exists(), "a job ran"


def test_the_demo_leaves_out_what_cannot_fit(tmp_path):
    proc = dry_run("--config", "demo=true", "machine_memory_mb=8000", quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert "demo: skipped: S1 (alexnet-cifar-256) needs about" in proc.stderr
    assert "alexnet-cifar-256" not in proc.stdout
    assert "results/runs/keras/mnist/alexnet-mnist/cpu/fp32/seed0/metrics.json" in proc.stdout


def test_the_report_shows_why_an_experiment_was_left_out(built_report, tmp_path):
    matrix, results = built_report.matrix, built_report.results
    config = json.loads(matrix.config_path.read_text())
    reason = "skipped: S1 (alexnet-cifar-256) needs about 12,000 MB of memory"
    config["skipped_experiments"] = {"S1": reason}
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    args = ["workflow/scripts/make_report.py", "--config", config_path,
            "--performance", results / "performance.csv", "--summary", results / "summary.csv",
            "--plots-dir", results / "plots", "--out", tmp_path / "report.html",
            "--runs", write_run_table(matrix.run_dirs, path=tmp_path / "runs.json")]
    run_in_env("report", args)
    page = (tmp_path / "report.html").read_text()
    assert '<section id="skipped">' in page and f"S1: {reason}" in page
