"""The whole workflow, for real: synthetic datasets in their official formats served by a
loopback mirror, every experiment trained in smoke mode in its framework's venv, the report
built. Slow (minutes); the one test that proves the pieces fit.
"""
import json
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from alexbench.common.run_contract import read_history, read_metrics
from alexbench.workflow_config import expand_runs, validate_config
from conftest import REPO, env_python
from plugins.checkout import copy_checkout
from plugins.loopback import serve_folder

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args, timeout=3600, succeed=True):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-j2", "--printshellcmds", *args],
                          cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if succeed:
        assert proc.returncode == 0, f"snakemake failed\n{proc.stdout[-5000:]}\n{proc.stderr[-8000:]}"
    return proc


def synthesize_mirror(root: Path, config: dict) -> dict:
    """Write every dataset's synthetic official files under root/<dataset>/; return checksums."""
    overrides = {}
    for name, dataset in config["datasets"].items():
        subprocess.run([str(env_python("report")), "workflow/scripts/synthesize.py", "--dataset", name,
                        "--format", dataset["format"], "--out", str(root / name), "--seed", "0"],
                       cwd=REPO, check=True, capture_output=True, timeout=600)
        files = {}
        for line in (root / name / "SHA256SUMS").read_text().splitlines():
            digest, file_name = line.split(maxsplit=1)
            file_name = file_name.lstrip("*")
            files[file_name] = {"sha256": digest, "bytes": (root / name / file_name).stat().st_size}
        assert set(files) == set(dataset["files"]), name
        overrides[name] = {"files": files}
    return overrides


def synthesize_weights_mirror(root: Path, config: dict) -> dict:
    """Write every weights entry's synthetic .caffemodel under root/weights/; return checksums
    overrides (the synthetic file's sha1 in place of the published one)."""
    overrides = {}
    for name, entry in config["weights"].items():
        subprocess.run([str(env_python("report")), "workflow/scripts/synthesize_caffemodel.py",
                        "--out", str(root / "weights"), "--file", entry["file"], "--seed", "0"],
                       cwd=REPO, check=True, capture_output=True, timeout=600)
        digest = (root / "weights" / "SHA1SUMS").read_text().split()[0]
        overrides[name] = {"checksums": {"sha1": digest}}
    return overrides


def merged(base: dict, override: dict) -> dict:
    """Nested keys merge, as Snakemake merges --configfile files."""
    result = dict(base)
    for key, value in override.items():
        is_dict = isinstance(value, dict) and isinstance(base.get(key), dict)
        result[key] = merged(base[key], value) if is_dict else value
    return result


def check_runs(workdir: Path, config: dict):
    schema = json.loads((REPO / "workflow/schemas/metrics.schema.json").read_text())
    runs = expand_runs(validate_config(config), gpu_visible=False)
    windows = []
    for run in runs:
        path = workdir / run.path / "metrics.json"
        metrics = read_metrics(path)
        jsonschema.validate(metrics, schema)
        assert metrics["status"] == "ok" and metrics["smoke"] is True, path
        assert metrics["settings"]["train_images"] <= 256 and metrics["settings"]["test_images"] <= 256
        history = read_history(workdir / run.path / "history.csv")
        assert len(history) == metrics["epochs_completed"] == 1, path
        assert (workdir / run.path / "env.txt").read_text().strip(), path
        windows.append((datetime.fromisoformat(metrics["started_at"]),
                        datetime.fromisoformat(metrics["finished_at"]), run.path))
    # Timed CPU runs own the machine: no two overlap, although -j2 allowed two jobs at once.
    windows.sort()
    for (_, end, first), (start, _, second) in zip(windows, windows[1:]):
        assert start >= end, f"{first} and {second} were timed at the same time"
    return runs


def test_whole_dag_in_smoke_mode_against_a_loopback_mirror(tmp_path):
    workdir = copy_checkout(tmp_path / "checkout")
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    datasets = synthesize_mirror(tmp_path / "mirror", base)
    weights = synthesize_weights_mirror(tmp_path / "mirror", base)
    with serve_folder(tmp_path / "mirror") as server:
        override = {"mirror": server.url, "smoke": True, "seeds": [0], "datasets": datasets,
                    "weights": weights, "hardware": ["cpu"]}
        (workdir / "test-config.yaml").write_text(yaml.safe_dump(override))
        snakemake(workdir, "--configfile", "config.yaml", "test-config.yaml")
        served = [r for r in server.requests if r.status in (200, 206)]
    runs = check_runs(workdir, merged(base, override))
    assert len({r.framework for r in runs}) == 3
    # Every dataset file came from the mirror (there is no internet here to fall back on).
    used = {r.dataset for r in runs}
    wanted = {f for name in used for f in datasets[name]["files"]}
    assert {r.path.split("/")[-1] for r in served} >= wanted | {"bvlc_alexnet.caffemodel"}
    for framework in ("pytorch", "keras", "gluon"):
        assert (workdir / f"results/pretrained/{framework}/imagenette-320/alexnet-2012/cpu/metrics.json").exists()
    report = (workdir / "results/report.html").read_text()
    for run in runs:
        assert run.model in report
    performance = (workdir / "results/performance.csv").read_text().splitlines()
    assert len(performance) == len(runs) + 1

    # Snakemake's own report collects the outputs flagged with report(), with their captions.
    snakemake(workdir, "--configfile", "config.yaml", "test-config.yaml", "--report", "smk.zip")
    with zipfile.ZipFile(workdir / "smk.zip") as archive:
        names = archive.namelist()
    assert any(n.endswith("performance.csv") for n in names)
    assert any(n.endswith("learning_curves.png") for n in names)
    # Per-run curves are drawn inside report.html from each run's history (no PNG per run, so
    # thousands of runs stay cheap); `snakemake results/plots/runs/<run>.png` still draws one.
    assert 'id="run-curves"' in report


def test_offline_demo_runs_to_the_report(tmp_path):
    """`--config demo=true` needs no network: synthetic archives, file:// downloads, smoke runs."""
    workdir = copy_checkout(tmp_path / "checkout")
    proc = snakemake(workdir, "--config", "demo=true", "experiments_only=[S2]", "hardware=[cpu]")
    output = proc.stdout + proc.stderr
    assert "rule synthesize" in output and "file://" in output
    assert (workdir / "results/report.html").stat().st_size > 0
    metrics = read_metrics(workdir / "results/runs/keras/mnist/alexnet-lrn-32/cpu/fp32/seed0/metrics.json")
    assert metrics["smoke"] is True and metrics["status"] == "ok"


def test_offline_demo_trains_bf16_beside_fp32_where_the_cpu_has_it(tmp_path):
    """The demo's precision axis (config demo_precision: S0 in fp32 and bf16): where this CPU has
    native bfloat16 every framework trains both and the report sets them side by side; where it
    has not, bf16 is left out and the report says why (naming the CPU flags)."""
    from alexbench.common import hardware
    workdir = copy_checkout(tmp_path / "checkout")
    snakemake(workdir, "--config", "demo=true", "experiments_only=[S0]", "seeds=[0]",
              "hardware=[cpu]")
    report = (workdir / "results/report.html").read_text()
    section = report[report.index('<section id="precision">'):]
    section = section[:section.index("</section>")]
    problem = hardware.bf16_support_problem("cpu")
    for framework in ("keras", "gluon", "pytorch"):
        fp32 = read_metrics(workdir / f"results/runs/{framework}/mnist/alexnet-mnist/cpu/fp32/seed0/metrics.json")
        assert fp32["settings"]["precision"] == "fp32" and fp32["status"] == "ok"
        bf16_dir = workdir / f"results/runs/{framework}/mnist/alexnet-mnist/cpu/bf16/seed0"
        if problem is None:
            bf16 = read_metrics(bf16_dir / "metrics.json")
            assert bf16["settings"]["precision"] == "bf16" and bf16["status"] == "ok"
            assert bf16["compute"]["peak_gflops"] > 0
        else:
            assert not bf16_dir.exists()
    if problem is None:
        assert section.count("<tr><td>S0<br>") == 3 and "bf16 mixed" in section
        print(section)  # the measured speed-ups, for the record (pytest -s)
    else:
        assert "bf16 on cpu: left out" in section and "avx512_bf16" in section


def test_failed_run_after_keep_going_is_listed_in_the_report(tmp_path):
    """A gpu run on this GPU-less machine fails; --keep-going finishes the rest, and the report
    built with report_allow_missing lists the failure and its reason instead of crashing."""
    workdir = copy_checkout(tmp_path / "checkout")
    config = ["demo=true", "experiments_only=[S2]", "hardware=[cpu,gpu]"]
    proc = snakemake(workdir, "--keep-going", "--config", *config, succeed=False)
    assert proc.returncode != 0
    gpu_run = workdir / "results/runs/keras/mnist/alexnet-lrn-32/gpu/fp32/seed0"
    assert not (gpu_run / "metrics.json").exists()
    assert (workdir / "results/runs/keras/mnist/alexnet-lrn-32/cpu/fp32/seed0/metrics.json").exists()
    assert not (workdir / "results/report.html").exists()

    snakemake(workdir, "--config", *config, "report_allow_missing=true")
    rows = (workdir / "results/performance.csv").read_text().splitlines()
    assert len(rows) == 3
    failed = [row for row in rows if "/gpu/" in row or ",gpu," in row]
    assert failed and "failed" in failed[0], rows
    assert "no GPU is visible" in (workdir / "results/report.html").read_text()


def test_offline_demo_builds_s4_in_three_frameworks_and_the_published_weights(tmp_path):
    """Issue 9's demo: S4 trains in PyTorch, Keras and Gluon, the synthetic .caffemodel (real
    wire format, own SHA1SUMS) is converted and evaluated in all three, and the report shows
    S4 with top-5 and the Published weights section with the cross-framework agreement."""
    from alexbench.pretrained import contract
    workdir = copy_checkout(tmp_path / "checkout")
    proc = snakemake(workdir, "--config", "demo=true", "experiments_only=[S4]", "hardware=[cpu]")
    output = proc.stdout + proc.stderr
    assert "rule synthesize_weights" in output and "--digest-file sha1:" in output
    for framework in ("pytorch", "keras", "gluon"):
        run = read_metrics(workdir / f"results/runs/{framework}/imagenette-320/alexnet-2012/cpu/fp32/seed0/metrics.json")
        assert run["status"] == "ok" and run["parameters"] == 56_909_194
        assert run["test"]["top5_accuracy"] is not None
        evaluation = contract.read_metrics(
            workdir / f"results/pretrained/{framework}/imagenette-320/alexnet-2012/cpu/metrics.json")
        assert evaluation["parameters"] == 60_965_224
        assert evaluation["settings"]["images"] == 200
    agreement = json.loads((workdir / "results/pretrained/agreement/imagenette-320/alexnet-2012/cpu.json").read_text())
    assert agreement["agree"] and agreement["identical_top1_min"] >= 0.999
    assert agreement["max_relative_difference"] <= 1e-3
    report = (workdir / "results/report.html").read_text()
    assert "Test top-5 accuracy" in report
    assert 'id="published-weights"' in report
    assert "not comparable: 10-class subset of the same val distribution" in report
    assert "Cross-framework agreement" in report
