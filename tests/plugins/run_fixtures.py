"""Realistic run folders for report tests, written through the real run contract.

    def test_x(run_matrix):            # 20 runs: S0 (3 frameworks x cpu+gpu x 3 seeds, one failed,
        run_matrix.run_dirs            #   one diverged) + S3 (gluon, pytorch on gpu, 10 epochs)
        run_matrix.config_path         # results/config.json with published claims
    def test_y(tmp_path):
        write_run(tmp_path / "results" / "runs", "keras", seed=1, smoke=True)   # one custom run

Each finished run has metrics.json (written with run_contract.write_metrics, so the fixture
obeys the schema), history.csv (run_contract.write_history) and env.txt (a pip freeze). Failed
runs have failure.json and a job log with a traceback, but no metrics.json. Figures are made up
but plausible and deterministic per (framework, hardware, seed), so tests can hand-check them.
Not for training: nothing here imports a framework.
"""
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from alexbench.common import run_contract
from alexbench.common.run_table import RunIdentity

CPU_NAME = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
GPU_NAME = "NVIDIA GeForce MX250"
VERSIONS = {
    "keras": ("3.15.1", {"keras": "3.15.1", "tensorflow": "2.21.0"}, "2.4.6"),
    "gluon": ("1.9.1", {"mxnet": "1.9.1"}, "1.23.5"),
    "pytorch": ("2.13.0", {"torch": "2.13.0"}, "2.4.6"),
}
# Seconds per epoch (before seed noise) and final test accuracy, per framework and hardware.
EPOCH_TIME_S = {("keras", "cpu"): 410.0, ("gluon", "cpu"): 520.0, ("pytorch", "cpu"): 360.0,
                ("keras", "gpu"): 40.0, ("gluon", "gpu"): 46.0, ("pytorch", "gpu"): 33.0}
FINAL_ACCURACY = {"keras": 0.9925, "gluon": 0.9915, "pytorch": 0.9921}
SEED_NOISE = {0: 0.0, 1: 1.0, 2: -1.0, 3: 0.5}
TRAIN_IMAGES, TEST_IMAGES = 60000, 10000


def run_dir_for(runs_root, framework, dataset, model, hardware, seed) -> Path:
    return Path(runs_root) / framework / dataset / model / hardware / f"seed{seed}"


# The fixtures lay run folders out as the workflow does (alexbench.common.run_table), so the
# tests can name a fixture run by its folder; the report itself only reads the run table.
EXPERIMENT_OF_DATASET = {"mnist": "S0", "cifar10": "S3", "fashion_mnist": "D"}


def fixture_identity(run_dir, experiment=None) -> RunIdentity:
    framework, dataset, model, hardware, seed_dir = Path(run_dir).parts[-5:]
    experiment = experiment or EXPERIMENT_OF_DATASET[dataset]
    return RunIdentity(experiment, experiment, framework, dataset, model, hardware,
                       int(seed_dir.removeprefix("seed")))


def log_for(run_dir) -> Path:
    """<root>/logs/train/{fw}/{ds}/{model}/{hw}/seed{N}.log for <root>/results/runs/... ."""
    run_dir = Path(run_dir)
    return run_dir.parents[6].joinpath("logs", "train", *run_dir.parts[-5:-1], run_dir.name + ".log")


def write_run_table(run_dirs, path=None, experiment=None) -> Path:
    """results/runs.json for these fixture runs (absolute paths), as the workflow writes it."""
    run_dirs = [Path(d) for d in run_dirs]
    path = Path(path) if path else run_dirs[0].parents[5] / "runs.json"
    records = []
    for run_dir in run_dirs:
        identity = fixture_identity(run_dir, experiment)
        records.append({**asdict(identity), "run_id": identity.run_id, "path": str(run_dir),
                        "log": str(log_for(run_dir)), "awaited": True})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema_version": 1, "runs": records}, indent=2))
    return path


def make_metrics(framework="keras", dataset="mnist", model="alexnet-mnist", hardware="cpu", seed=0,
                 experiment="S0", source="S0", epochs=12, epochs_completed=None, status="ok",
                 smoke=False, validation="test", accuracy=None, test_loss=None,
                 epoch_time_s=None, device_name=None) -> tuple[dict, list]:
    """(metrics.json document, history rows) of one plausible run."""
    noise = SEED_NOISE.get(seed, 0.0)
    completed = epochs if epochs_completed is None else epochs_completed
    per_epoch = epoch_time_s or EPOCH_TIME_S[(framework, hardware)] * (1 + 0.02 * noise)
    final = accuracy if accuracy is not None else FINAL_ACCURACY[framework] + 0.0005 * noise
    start = 0.90 if final > 0.95 else 0.12  # MNIST is ~90% right after one epoch, CIFAR is not
    history = []
    for epoch in range(1, completed + 1):
        # Exponential approach to the final accuracy; the first epoch is slower (graph build).
        val_acc = final - (final - start) * math.exp(-(epoch - 1) / 2.0)
        row = {"epoch": epoch, "train_loss": round(0.5 * math.exp(-(epoch - 1) / 2.5) + 0.02, 6),
               "train_accuracy": round(val_acc - 0.01 + 0.002 * epoch, 6),
               "val_loss": round(0.3 * math.exp(-(epoch - 1) / 2.5) + 0.03, 6),
               "val_accuracy": round(val_acc if epoch < completed else final, 6),
               "epoch_time_s": round(per_epoch * (1.15 if epoch == 1 else 1.0), 3),
               "learning_rate": 1.0}
        history.append(row)
    if status == "diverged":
        history[-1].update(train_loss=None, val_loss=None, val_accuracy=0.098, train_accuracy=0.1)
    epoch_times = [row["epoch_time_s"] for row in history]
    framework_version, detail, numpy_version = VERSIONS[framework]
    train_images = 256 if smoke else TRAIN_IMAGES
    steady = epoch_times[1:] or epoch_times
    metrics = {
        "schema_version": 1,
        "run": {"experiment": experiment, "source": source, "framework": framework, "dataset": dataset,
                "model": model, "hardware": hardware, "seed": seed},
        "status": status, "smoke": smoke,
        "versions": {"framework": framework_version, "framework_detail": detail, "python": "3.11.9",
                     "numpy": numpy_version, "cuda": "12.4" if hardware == "gpu" else None,
                     "cudnn": "9.1.0" if hardware == "gpu" else None,
                     "driver": "550.54.15" if hardware == "gpu" else None},
        "device": {"kind": hardware, "name": device_name or (GPU_NAME if hardware == "gpu" else CPU_NAME),
                   "threads": 2, "hostname": "node01"},
        "settings": {"epochs": epochs, "batch_size": 32,
                     "optimizer": {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7},
                     "lr_schedule": None, "validation": validation, "train_images": train_images,
                     "val_images": TEST_IMAGES if validation == "test" else 12000,
                     "test_images": TEST_IMAGES, "deterministic": False},
        "parameters": 1890890,
        "epochs_completed": completed,
        "train_time_s": round(sum(epoch_times), 3),
        "epoch_times_s": epoch_times,
        "throughput": {"train_images_per_s": round(train_images * len(steady) / sum(steady), 2),
                       "eval_images_per_s": round(TEST_IMAGES / (0.08 * per_epoch), 2)},
        "test": {"loss": None if status == "diverged" else (test_loss if test_loss is not None
                                                            else round(0.031 + 0.001 * noise, 5)),
                 "accuracy": final if status != "diverged" else 0.098, "top5_accuracy": None},
        "target_accuracy": 0.99,
        "time_to_target_s": round(sum(epoch_times[:6]), 3) if final >= 0.99 and status == "ok" else None,
        "memory": {"peak_rss_mb": 2400.0 + 10 * seed, "peak_gpu_mb": 1500.0 if hardware == "gpu" else None},
        "timing_definition": "Wall time from the start of epoch 1 to the end of the last epoch, input "
                             "pipeline and per-epoch validation included.",
        "weights_file": None,
        "started_at": "2025-11-25T10:00:00+00:00", "finished_at": "2025-11-25T10:30:00+00:00",
        "provenance": {"git_commit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "git_dirty": False,
                       "inputs": {"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"}},
    }
    return metrics, history


def env_txt(framework: str, hardware: str) -> str:
    framework_version, detail, numpy_version = VERSIONS[framework]
    lines = [f"{name}=={version}" for name, version in detail.items()]
    lines += [f"numpy=={numpy_version}", "pillow==13.0.0", "-e file:///work/alexbench"]
    if hardware == "gpu" and framework == "pytorch":
        lines.append("nvidia-cudnn-cu12==9.1.0.70")
    return "\n".join(sorted(lines)) + "\n"


# Fields metrics.schema.json does not require: a run may lack them and still be valid.
OPTIONAL_FIELDS = [("device", "hostname"), ("versions", "framework_detail"), ("settings", "lr_schedule"),
                   ("settings", "deterministic"), (None, "weights_file"), (None, "provenance")]


def write_run(runs_root, framework="keras", dataset="mnist", model="alexnet-mnist", hardware="cpu",
              seed=0, failed: str | None = None, minimal: bool = False, **kwargs) -> Path:
    """Write one run folder under runs_root; returns it. failed="<message>": the job crashed
    (failure.json + a traceback in logs/train/..., no metrics.json). minimal: leave out every
    optional metrics.json field."""
    run_dir = run_dir_for(runs_root, framework, dataset, model, hardware, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics, history = make_metrics(framework, dataset, model, hardware, seed, **kwargs)
    if minimal:
        for section, key in OPTIONAL_FIELDS:
            (metrics[section] if section else metrics).pop(key)
    (run_dir / "env.txt").write_text(env_txt(framework, hardware))
    if failed:
        run_contract.write_history(run_dir, history[:2])
        (run_dir / "failure.json").write_text(json.dumps(
            {"error_type": "RuntimeError", "message": failed, "epoch": 3}))
        write_failed_log(run_dir, failed)
        return run_dir
    run_contract.write_history(run_dir, history)
    run_contract.write_metrics(run_dir, metrics)
    return run_dir


def write_failed_log(run_dir: Path, message: str) -> Path:
    """logs/train/{fw}/{ds}/{model}/{hw}/seed{N}.log beside results/, ending in a traceback."""
    log = log_for(run_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("INFO harness: epoch 1/12 loss 0.2100 acc 0.9350 val_acc 0.9800 41.2 s\n"
                   "INFO harness: epoch 2/12 loss 0.0700 acc 0.9790 val_acc 0.9860 40.1 s\n"
                   "Traceback (most recent call last):\n"
                   '  File "workflow/scripts/train.py", line 40, in <module>\n'
                   f"RuntimeError: {message}\n")
    return log


S0_CLAIM = {"reference": "Keras 2.1.6 / TF 1.11 README, run II",
            "claims": [{"framework": "keras", "hardware": GPU_NAME, "epochs": 12,
                        "dataset": "mnist", "model": "alexnet-mnist", "batch_size": 32,
                        "metrics": {"test_accuracy": 0.9932, "test_loss": 0.0309, "train_time_s": 478.3}}],
            "tolerance": {"test_accuracy": 0.005, "test_loss": 0.01, "train_time_s": 0.25}}
S3_CLAIM = {"reference": "d2l-style Gluon course notebook",
            "claims": [{"framework": "gluon", "hardware": None, "epochs": 9,
                        "dataset": "cifar10", "model": "alexnet-224", "batch_size": 32,
                        "metrics": {"test_accuracy": 0.452, "train_accuracy": 0.522, "epoch_time_s": 126.0}}],
            "tolerance": {"test_accuracy": 0.05, "train_accuracy": 0.02, "epoch_time_s": 0.25}}


def experiment(title, frameworks, model, dataset, hardware, seeds, epochs, published=None, source=None,
               validation="test"):
    """One experiment as config.yaml writes it. `hardware` is only for the fixture's own
    bookkeeping: config.json says 'auto', as the real one does, and the report takes the hardware
    of each run from its folder."""
    exp = {"source": source, "title": title, "frameworks": frameworks, "model": model, "dataset": dataset,
           "hardware": "auto", "seeds": seeds, "epochs": epochs, "batch_size": 32,
           "optimizer": {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7},
           "lr_schedule": None, "validation": validation, "target_accuracy": 0.99}
    if published:
        exp["published"] = published
    return exp


D_CLAIM = {"reference": "d2l 0.17.5, Tesla V100",
           "claims": [{"framework": f, "hardware": "Tesla V100", "epochs": 10,
                       "dataset": "fashion_mnist", "model": "alexnet-d2l", "batch_size": 32,
                       "metrics": {"test_accuracy": acc, "train_images_per_s": speed}}
                      for f, acc, speed in (("gluon", 0.877, 4070), ("pytorch", 0.882, 4171),
                                            ("keras", 0.881, 5029))],
           "tolerance": {"test_accuracy": 0.01, "train_images_per_s": 0.1}}


def base_config(experiments: dict) -> dict:
    """results/config.json as the workflow writes it: the config as given (hardware 'auto',
    top-level overrides), not a resolved run list. Experiment D has claims but no runs here."""
    experiments = dict(experiments)
    experiments.setdefault("D", experiment("d2l AlexNet, Fashion-MNIST (alexnet-d2l)", ["keras", "gluon", "pytorch"],
                                           "alexnet-d2l", "fashion_mnist", ["cpu"], [0, 1, 2], 10, D_CLAIM, "D"))
    return {"demo": False, "smoke": False, "mirror": "", "hardware": "auto", "experiments_only": [],
            "seeds": [], "train_threads": 0, "report_allow_missing": False, "save_weights": False,
            "datasets": {"mnist": {"format": "idx", "urls": ["https://example.org/mnist/"],
                                   "files": {"train-images-idx3-ubyte.gz": {
                                       "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                       "bytes": 9912422}},
                                   "checksum_source": "fixture"},
                         "cifar10": {"format": "cifar-python", "urls": ["https://example.org/cifar/"],
                                     "files": {"cifar-10-python.tar.gz": {
                                         "sha256": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                                         "bytes": 170498071}},
                                     "checksum_source": "fixture"}},
            "experiments": experiments}


@dataclass
class RunMatrix:
    root: Path                 # the folder holding results/ and logs/
    config: dict
    config_path: Path
    run_dirs: list
    failed: Path               # gluon gpu seed2
    diverged: Path             # pytorch cpu seed1


def build_run_matrix(root: Path) -> RunMatrix:
    """20 runs: S0 keras/gluon/pytorch x cpu/gpu x seeds 0-2 (gluon/gpu/seed2 failed,
    pytorch/cpu/seed1 diverged after 3 epochs) and S3 gluon+pytorch on gpu, seed 0, 10 epochs
    (the pytorch one without any optional metrics.json field)."""
    runs_root = root / "results" / "runs"
    config = base_config({
        "S0": experiment("Keras, MNIST 28x28 (alexnet-mnist)", ["keras", "gluon", "pytorch"],
                         "alexnet-mnist", "mnist", ["cpu", "gpu"], [0, 1, 2], 12, S0_CLAIM, "S0"),
        "S3": experiment("MXNet Gluon, CIFAR-10 resized to 224 (alexnet-224)", ["gluon", "pytorch"],
                         "alexnet-224", "cifar10", ["gpu"], [0], 10, S3_CLAIM, "S3"),
    })
    run_dirs, failed, diverged = [], None, None
    for framework in ("keras", "gluon", "pytorch"):
        for hardware in ("cpu", "gpu"):
            for seed in (0, 1, 2):
                kwargs = {}
                if (framework, hardware, seed) == ("gluon", "gpu", 2):
                    kwargs["failed"] = "CUDA out of memory while allocating 512.00 MiB"
                if (framework, hardware, seed) == ("pytorch", "cpu", 1):
                    kwargs.update(status="diverged", epochs_completed=3)
                run_dir = write_run(runs_root, framework, "mnist", "alexnet-mnist", hardware, seed, **kwargs)
                failed = run_dir if "failed" in kwargs else failed
                diverged = run_dir if "status" in kwargs else diverged
                run_dirs.append(run_dir)
    for framework, acc in (("gluon", 0.47), ("pytorch", 0.49)):
        run_dirs.append(write_run(runs_root, framework, "cifar10", "alexnet-224", "gpu", 0,
                                  experiment="S3", source="S3", epochs=10, accuracy=acc,
                                  test_loss=1.45, epoch_time_s=120.0, minimal=framework == "pytorch"))
    config_path = root / "results" / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    return RunMatrix(root, config, config_path, run_dirs, failed, diverged)


@pytest.fixture
def run_matrix(tmp_path) -> RunMatrix:
    """A fresh 20-run matrix under tmp_path (see build_run_matrix)."""
    return build_run_matrix(tmp_path)


@dataclass
class BuiltReport:
    matrix: RunMatrix
    results: Path               # <root>/results
    report: Path                # results/report.html
    aggregate_proc: object      # CompletedProcess of aggregate.py --allow-missing


def aggregate_args(matrix: RunMatrix, *extra) -> list:
    """aggregate.py's arguments, after writing the run table of matrix.run_dirs as they are now."""
    results = matrix.root / "results"
    args = ["workflow/scripts/aggregate.py", "--config", matrix.config_path,
            "--runs", write_run_table(matrix.run_dirs)]
    return args + ["--performance", results / "performance.csv", "--summary", results / "summary.csv",
                   "--markdown", results / "performance.md", "--html-table", results / "performance.html",
                   "--claims", results / "claims.csv", *extra]


def build_report(root: Path) -> BuiltReport:
    """The whole report stage on a fresh 20-run matrix, the way the workflow runs it: aggregate.py,
    plot_comparisons.py and make_report.py in the report venv; plot_run.py's main() in-process
    for the 19 per-run figures (the same code, without 19 interpreter start-ups)."""
    from conftest import run_in_env
    import plot_run
    matrix = build_run_matrix(root)
    results = root / "results"
    proc = run_in_env("report", aggregate_args(matrix, "--allow-missing"))
    for run_dir in matrix.run_dirs:
        if (run_dir / "metrics.json").exists():
            rel = run_dir.relative_to(results / "runs")
            assert plot_run.main(["--run-dir", str(run_dir),
                                  "--out", str(results / "plots" / "runs" / f"{rel}.png")]) == 0
    run_table = results / "runs.json"
    run_in_env("report", ["workflow/scripts/plot_comparisons.py", "--performance", results / "performance.csv",
                          "--config", matrix.config_path, "--runs", run_table,
                          "--out-dir", results / "plots" / "comparison"])
    report = results / "report.html"
    run_in_env("report", ["workflow/scripts/make_report.py", "--config", matrix.config_path,
                          "--performance", results / "performance.csv", "--summary", results / "summary.csv",
                          "--plots-dir", results / "plots", "--runs", run_table,
                          "--snakemake-version", "9.27.1", "--out", report])
    return BuiltReport(matrix, results, report, proc)


@pytest.fixture(scope="session")
def built_report(tmp_path_factory) -> BuiltReport:
    """The report stage run once per session on the 20-run matrix (read-only for tests)."""
    return build_report(tmp_path_factory.mktemp("report"))
