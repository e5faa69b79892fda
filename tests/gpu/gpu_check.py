"""The GPU check: does every installed framework really train on this machine's GPU?

    tests/gpu_check [--python /path/to/python] [--gpu 0] [--steps 200] [--keep DIR]

For the first machine with a GPU, offline: no download of any kind. It uses whatever
frameworks the interpreter given by --python (default python3) can import with CUDA support,
and names the ones it skips and why. For each framework present it trains `alexnet-d2l` and
`alexnet-2012` through the real harness (workflow/scripts/train.py, `--hardware gpu`, fp32) on
synthetic class-coded images for about --steps steps each, and checks:
- the device is really used: nvidia-smi reports utilisation and memory on the claimed GPU
  while the run trains, beyond what was there before;
- the run recorded its peak GPU memory (metrics.json memory.peak_gpu_mb) and its device id;
- the same seed twice gives the same test accuracy within SAME_SEED_TOLERANCE (alexnet-d2l),
  and the two runs, started together on one GPU, never held it at the same time (the device
  lock of common/gpu_devices.py: what keeps `-j4` from putting two runs on one GPU).
It prints a table: images/s, peak GPU memory, model FLOP/s (training: 3x the forward pass's
multiply-adds x 2, common/flops.py) per framework and model. Exits 0 when every check passes, 1 when one fails,
2 when it cannot run (no GPU, no framework), always with the reason.

Stdlib only (runs under --python); the frameworks run in subprocesses of the same interpreter.
Budget: about 8 minutes on one modern GPU with all three frameworks (most of it imports and
model builds; the input pipeline, one CPU thread of numpy, bounds images/s for alexnet-2012).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

from alexbench.common import flops, hardware  # noqa: E402  (stdlib-only modules)

SAME_SEED_TOLERANCE = 0.01      # test accuracy, absolute: deterministic kernels, one GPU
MIN_UTILISATION = 10            # % on the claimed GPU at some sample while training
MIN_EXTRA_MEMORY_MB = 100       # memory in use on it beyond the idle level before the runs
SAMPLE_S = 0.5
BATCH = 128
# The probe each framework must pass: imports, and sees a GPU.
FRAMEWORK_PROBES = {
    "keras": "import tensorflow as tf, keras; "
             "assert tf.config.list_physical_devices('GPU'), 'TensorFlow sees no GPU (CPU-only build?)'",
    "gluon": "import mxnet as mx; assert mx.context.num_gpus() > 0, 'MXNet sees no GPU (CPU-only build?)'",
    "pytorch": "import torch; assert torch.cuda.is_available(), "
               "'torch.cuda.is_available() is False (CPU-only build?)'",
}
# Datasets: (image shape, train images, test images); labels = index % 10, and each class has
# its own brightness, so a network that trains learns it within the steps given.
MODELS = {
    # format: the official format whose prepared shape the data takes (prepared-meta.schema.json).
    "alexnet-d2l": {"shape": (28, 28, 1), "test": 512, "format": "idx",
                    # config.yaml experiment D
                    "optimizer": {"name": "sgd", "learning_rate": 0.01}},
    "alexnet-2012": {"shape": (256, 256, 3), "test": 256, "format": "imagenette",
                     # config.yaml experiment S4
                     "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9,
                                   "weight_decay": 0.0005}},
}
EPOCHS = 4
WAITING = "is in use by another run; waiting"  # common/gpu_devices.py, before it holds a GPU
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")

SYNTHESIZE = r"""
import json, sys
from pathlib import Path
import numpy as np
out, h, w, c, n_train, n_test = sys.argv[1], *map(int, sys.argv[2:7])
fmt = sys.argv[7]
rng = np.random.default_rng(0)
out = Path(out); out.mkdir(parents=True, exist_ok=True)
for split, n in (("train", n_train), ("test", n_test)):
    labels = np.arange(n, dtype=np.int64) % 10
    images = np.lib.format.open_memmap(out / f"{split}-images.npy", "w+", np.uint8, (n, h, w, c))
    for start in range(0, n, 256):
        y = labels[start:start + 256]
        noise = rng.integers(0, 96, size=(len(y), h, w, c), dtype=np.int64)
        images[start:start + 256] = (noise + 16 * y[:, None, None, None]).astype(np.uint8)
    images.flush(); del images
    np.save(out / f"{split}-labels.npy", labels)
meta = {"dataset": out.name, "format": fmt, "classes": [str(i) for i in range(10)],
        "image_shape": [h, w, c], "train_count": n_train, "test_count": n_test, "sources": {}}
(out / "meta.json").write_text(json.dumps(meta))
"""


class CheckError(RuntimeError):
    """The check cannot run here (exit 2)."""


def fail_unless_gpu() -> None:
    if shutil.which("nvidia-smi") is None and not hardware.gpu_visible():
        raise CheckError("no NVIDIA GPU here: nvidia-smi is not installed and "
                         "/proc/driver/nvidia/gpus lists none. Run tests/gpu_check on a machine "
                         "with an NVIDIA GPU and its driver.")
    if not hardware.gpu_visible():
        raise CheckError("no NVIDIA GPU visible: nvidia-smi -L lists none, or "
                         "CUDA_VISIBLE_DEVICES hides them all. Run tests/gpu_check on a machine "
                         "with an NVIDIA GPU.")


def query_gpus() -> dict:
    """{index: (utilisation %, memory used MiB)} from nvidia-smi."""
    out = subprocess.run(["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used",
                          "--format=csv,noheader,nounits"], capture_output=True, text=True,
                         timeout=30).stdout
    gpus = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            gpus[parts[0]] = (int(parts[1]), int(parts[2]))
    return gpus


class Sampler:
    """Samples nvidia-smi in a thread; `peak(gpu)` gives the highest utilisation and memory."""

    def __init__(self):
        self.samples: list[tuple[float, dict]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                self.samples.append((time.time(), query_gpus()))
            except (OSError, subprocess.SubprocessError):
                pass
            self.stop.wait(SAMPLE_S)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def peak(self, gpu: str, start: float, end: float) -> tuple[int, int]:
        values = [s[gpu] for t, s in self.samples if start <= t <= end and gpu in s]
        return (max((u for u, _ in values), default=0), max((m for _, m in values), default=0))


def probe_frameworks(python: str) -> tuple[list[str], dict]:
    present, skipped = [], {}
    for framework, code in FRAMEWORK_PROBES.items():
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
        if proc.returncode == 0:
            present.append(framework)
        else:
            lines = proc.stderr.strip().splitlines()
            skipped[framework] = lines[-1] if lines else f"exit {proc.returncode}"
    return present, skipped


def training_flops_per_image(model: str) -> float:
    """3 x the forward pass's FLOPs (2 per multiply-add) of conv and dense layers, 10 classes:
    the convention of common/flops.py, which the runs' metrics.json use too."""
    return float(flops.training_flops(model, 10))


def log_window(log_path: Path) -> tuple[float, float]:
    """(first, last) timestamps of the harness's own log lines, from the claim of its GPU (only
    the line saying it waits for one comes before) to writing metrics.json."""
    stamps = []
    for line in log_path.read_text(errors="replace").splitlines():
        match = LOG_TIME.match(line)
        if match and WAITING not in line:
            stamps.append(time.mktime(time.strptime(match.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
                          + int(match.group(1)[20:]) / 1000)
    if not stamps:
        raise RuntimeError(f"{log_path}: no harness log lines")
    return stamps[0], stamps[-1]


def run_settings(model: str) -> dict:
    """train.py --settings of a check run (workflow/schemas/settings.schema.json)."""
    return {"epochs": EPOCHS, "batch_size": BATCH, "optimizer": MODELS[model]["optimizer"],
            "validation": "test"}


def start_run(python, framework, model, seed, data_dir, out_dir, env) -> subprocess.Popen:
    settings = run_settings(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = open(out_dir.parent / f"{out_dir.name}.log", "w")
    return subprocess.Popen(
        [python, str(SCRIPTS / "train.py"), "--framework", framework, "--model", model,
         "--dataset", data_dir.name, "--hardware", "gpu", "--seed", str(seed),
         "--experiment", "gpu_check", "--source", "D" if model == "alexnet-d2l" else "S4",
         "--data-dir", str(data_dir), "--out-dir", str(out_dir),
         "--settings", json.dumps(settings), "--threads", "4"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def finish(proc, out_dir: Path) -> dict:
    proc.wait()
    log_path = out_dir.parent / f"{out_dir.name}.log"
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{out_dir.name} exited {proc.returncode}; log {log_path}:\n{tail}")
    metrics = json.loads((out_dir / "metrics.json").read_text())
    metrics["_window"] = log_window(log_path)
    return metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tests/gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="python3",
                        help="interpreter whose frameworks are checked (default python3)")
    parser.add_argument("--gpu", default=None, help="GPU index to use (default: the first)")
    parser.add_argument("--steps", type=int, default=200, help="training steps per run (about)")
    parser.add_argument("--keep", type=Path, default=None, help="keep runs and logs in this folder")
    args = parser.parse_args(argv)
    try:
        fail_unless_gpu()
        python = shutil.which(args.python) or args.python
        if subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode:
            raise CheckError(f"{python} has no pip: each run records `pip freeze` (env.txt)")
        present, skipped = probe_frameworks(python)
        for framework, reason in skipped.items():
            print(f"skipped {framework}: {reason}")
        if not present:
            raise CheckError(f"{python} can import none of keras, gluon (mxnet), pytorch "
                             "with GPU support")
        gpus = query_gpus()
        if not gpus:
            raise CheckError("nvidia-smi --query-gpu answered no utilisation/memory figures")
        gpu = args.gpu or sorted(gpus, key=int)[0]
        if gpu not in gpus:
            raise CheckError(f"nvidia-smi lists GPUs {sorted(gpus)}, not {gpu}")
    except CheckError as e:
        print(f"gpu_check: cannot run: {e}", file=sys.stderr)
        return 2

    work = args.keep or Path(tempfile.mkdtemp(prefix="alexbench-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ALEXBENCH_GPU_IDS": gpu, "ALEXBENCH_GPU_LOCK_DIR": str(work / "locks"),
           "ALEXBENCH_PROGRESS_TTY": "0"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    idle_memory = gpus[gpu][1]
    train_images = max(BATCH, args.steps // EPOCHS * BATCH)
    for model, spec in MODELS.items():
        h, w, c = spec["shape"]
        made = subprocess.run([python, "-c", SYNTHESIZE, str(work / "data" / model), str(h), str(w),
                               str(c), str(train_images), str(spec["test"]), spec["format"]],
                              env=env,
                              capture_output=True, text=True)
        if made.returncode != 0:
            print(f"gpu_check: cannot run: {python} could not write the synthetic data:\n"
                  f"{made.stderr[-2000:]}", file=sys.stderr)
            return 2
    failures, rows = [], []
    with Sampler() as sampler:
        for framework in present:
            for model in MODELS:
                data = work / "data" / model
                first = work / "runs" / f"{framework}-{model}-a"
                procs = [(first, start_run(python, framework, model, 0, data, first, env))]
                if model == "alexnet-d2l":  # the same seed again, started at once on one GPU
                    second = work / "runs" / f"{framework}-{model}-b"
                    procs.append((second, start_run(python, framework, model, 0, data, second, env)))
                try:
                    results = [finish(proc, out) for out, proc in procs]
                except RuntimeError as e:
                    failures.append(f"{framework} {model}: {e}")
                    continue
                rows.append(check_runs(framework, model, results, sampler, gpu, idle_memory,
                                       failures))
    print_table(rows, gpu)
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"runs and logs: {work}")
    print("gpu_check: " + ("all checks passed" if not failures else f"{len(failures)} check(s) failed"))
    return 1 if failures else 0


def check_runs(framework, model, results, sampler, gpu, idle_memory, failures) -> dict:
    first = results[0]
    name = f"{framework} {model}"
    start, end = first["_window"]
    utilisation, memory = sampler.peak(gpu, start, end)
    if utilisation < MIN_UTILISATION:
        failures.append(f"{name}: GPU {gpu} utilisation peaked at {utilisation}% while it trained")
    if memory - idle_memory < MIN_EXTRA_MEMORY_MB:
        failures.append(f"{name}: GPU {gpu} memory rose only {memory - idle_memory} MiB while it trained")
    for metrics in results:
        if metrics["device"]["kind"] != "gpu" or metrics["device"].get("gpu_id") != gpu:
            failures.append(f"{name}: metrics.json device is {metrics['device']}, not GPU {gpu}")
        if not metrics["memory"]["peak_gpu_mb"]:
            failures.append(f"{name}: metrics.json records no peak GPU memory")
        # Keras's model.fit compiles with XLA on a GPU by default (op determinism off, as here),
        # so the harness must too (fw_keras/loop.py, use_xla).
        if framework == "keras" and metrics.get("step_compiler") != "tf.function + XLA":
            failures.append(f"{name}: the train step was compiled as "
                            f"{metrics.get('step_compiler')!r}, not with XLA as model.fit would")
    accuracies = [m["test"]["accuracy"] for m in results]
    if len(results) == 2:
        if abs(accuracies[0] - accuracies[1]) > SAME_SEED_TOLERANCE:
            failures.append(f"{name}: the same seed gave test accuracies {accuracies} "
                            f"(tolerance {SAME_SEED_TOLERANCE})")
        (a0, a1), (b0, b1) = results[0]["_window"], results[1]["_window"]
        if a0 < b1 and b0 < a1:
            failures.append(f"{name}: two runs held GPU {gpu} at the same time")
    ips = first["throughput"]["train_images_per_s"] or 0.0
    return {"framework": framework, "model": model, "images_per_s": ips,
            "peak_gpu_mb": first["memory"]["peak_gpu_mb"], "smi_util": utilisation,
            "smi_memory": memory, "tflops": ips * training_flops_per_image(model) / 1e12,
            "accuracy": " / ".join(f"{a:.4f}" for a in accuracies),
            "device": first["device"]["name"], "step": first.get("step_compiler", "-")}


def print_table(rows, gpu) -> None:
    if not rows:
        return
    print(f"\nGPU {gpu}: {rows[0]['device']} (fp32, batch {BATCH}, {EPOCHS} epochs)")
    header = ("framework", "model", "images/s", "peak GPU MB", "smi util %", "smi MiB",
              "TFLOP/s", "test accuracy (same seed)", "step compiled by")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join([r["framework"], r["model"], f"{r['images_per_s']:.0f}",
                          f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] else "-",
                          str(r["smi_util"]), str(r["smi_memory"]), f"{r['tflops']:.2f}",
                          r["accuracy"], r["step"]]))


if __name__ == "__main__":
    sys.exit(main())
