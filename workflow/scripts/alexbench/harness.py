"""The one training harness: every framework is trained, timed and recorded by this code.

It parses the training contract's arguments (docs/design.md), sets CPU threads before any
numeric library loads, seeds everything, refuses a `gpu` run without a GPU, opens the prepared
data, feeds every framework the same numpy batches from one prefetching input pipeline, runs the
epoch loop with the device synchronised before each clock read, and writes the run contract:
env.txt, history.csv (after every epoch), optional weights, and metrics.json last.

The framework backend (`alexbench.fw_<framework>.loop`) is imported lazily: it only builds the
model and runs single steps. Not here: models, preprocessing (common/preprocess.py), data
preparation, reporting.

Decisions recorded in metrics.json or documented here:
- Validation each epoch uses the test set ('test') or a seeded hold-out of the training set
  ('holdout:0.2' / 'holdout:5000'); the final test evaluation always uses the test set.
- train_time_s follows TIMING_DEFINITION. Training throughput is images / training-phase time
  (validation excluded) over epochs 2..N; with fewer than two completed epochs, over the batches
  after the first 10% of epoch 1. Eval throughput comes from the final test evaluation.
- top5_accuracy is published only for alexnet-2012 (TOP5_MODELS), the one source that reports
  top-5; for the 10-class sets of the other sources it says little, so it is null there.
- A non-finite training or validation loss stops the run at once: status 'diverged', the
  unfinished epoch is not in history.csv, test figures are null.
- The last batch of an epoch may be smaller than batch_size (Keras and d2l keep it too).
"""
import argparse
import datetime
import importlib
import json
import logging
import math
import os
import platform
import queue
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from alexbench.common import atomic_files, gpu_devices, hardware, run_contract
from alexbench.common.progress import Progress, open_terminal

log = logging.getLogger("alexbench.train")

FRAMEWORKS = ("keras", "gluon", "pytorch")
MODELS = ("alexnet-mnist", "alexnet-cifar-256", "alexnet-lrn-32", "alexnet-224", "alexnet-2012",
          "alexnet-d2l")
TOP5_MODELS = frozenset({"alexnet-2012"})
PREFETCH_BATCHES = 3
ONE_EPOCH_WARM_FRACTION = 0.1
TIMING_DEFINITION = (
    "train_time_s is the wall time from the start of epoch 1 to the end of the last epoch, "
    "including the input pipeline and per-epoch validation, with the device synchronised before "
    "each clock read; data download and preparation, model build and one untimed warm-up step "
    "(weights restored afterwards) are excluded.")

# Every runtime reads one of these when it builds its thread pools, so they are set before
# numpy or any framework is imported (see set_runtime_env).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                   "MXNET_OMP_MAX_THREADS")
# Inter-op pools get one thread: one op at a time with `threads` threads inside it, the shape
# every backend uses (TensorFlow's inter-op pool, MXNet's engine worker, torch's). The
# determinism switches below are read when libmxnet / cuBLAS load, i.e. before the backends'
# seed_everything can set them. TF_ONEDNN_USE_SYSTEM_ALLOCATOR: oneDNN builds of TensorFlow
# otherwise keep every freed CPU tensor in a pool that never shrinks (fw_keras/loop.py).
PRE_IMPORT_ENV = {"TF_NUM_INTEROP_THREADS": "1", "MXNET_CPU_WORKER_NTHREADS": "1",
                  "MXNET_ENFORCE_DETERMINISM": "1", "MXNET_CUDNN_AUTOTUNE_DEFAULT": "0",
                  "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"}

# One table of optimizer defaults (Keras's), so no backend depends on its framework's own.
OPTIMIZER_DEFAULTS = {
    "sgd": {"momentum": 0.0, "weight_decay": 0.0, "nesterov": False},
    "adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": 0.0},
    "adadelta": {"rho": 0.95, "epsilon": 1e-7, "weight_decay": 0.0},
}
SETTINGS_REQUIRED = ("epochs", "batch_size", "optimizer", "validation")
SETTINGS_DEFAULTS = {"lr_schedule": None, "target_accuracy": None, "max_train_images": None,
                     "max_test_images": None, "smoke": False, "subset": None,
                     "save_weights": False}


class SettingsError(ValueError):
    """--settings breaks the training contract; the message names the key."""


# --- arguments and settings ----------------------------------------------------------------------

def default_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train one alexbench run and write its run contract.")
    parser.add_argument("--framework", required=True, choices=FRAMEWORKS)
    parser.add_argument("--model", required=True, choices=MODELS)
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. mnist")
    parser.add_argument("--hardware", required=True, choices=("cpu", "gpu"))
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--experiment", required=True, help="experiment name in config.yaml")
    parser.add_argument("--source", required=True, help="seed write-up it reproduces (S0-S4, D)")
    parser.add_argument("--data-dir", required=True, type=Path,
                        help="prepared dataset folder (resources/prepared/{dataset})")
    parser.add_argument("--out-dir", required=True, type=Path, help="run folder to write")
    parser.add_argument("--settings", required=True,
                        help="the experiment's resolved settings as JSON (docs/design.md)")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="CPU threads for every runtime (default: the cores this process may use)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    try:
        args.settings = resolve_settings(args.settings)
    except SettingsError as e:
        parser.error(str(e))
    return args


def resolve_settings(text):
    """Parse --settings JSON, check its keys by name, fill defaults; returns a new dict."""
    try:
        given = json.loads(text) if isinstance(text, str) else dict(text)
    except json.JSONDecodeError as e:
        raise SettingsError(f"--settings is not valid JSON ({e})") from e
    if not isinstance(given, dict):
        raise SettingsError("--settings must be a JSON object")
    missing = [k for k in SETTINGS_REQUIRED if k not in given]
    if missing:
        raise SettingsError(f"--settings: missing key(s) {missing}")
    unknown = sorted(set(given) - set(SETTINGS_REQUIRED) - set(SETTINGS_DEFAULTS))
    if unknown:
        raise SettingsError(f"--settings: unknown key(s) {unknown}")
    settings = {**SETTINGS_DEFAULTS, **given}
    for key in ("epochs", "batch_size"):
        if not isinstance(settings[key], int) or isinstance(settings[key], bool) or settings[key] < 1:
            raise SettingsError(f"--settings: {key} must be an integer >= 1, got {settings[key]!r}")
    for key in ("max_train_images", "max_test_images"):
        value = settings[key]
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SettingsError(f"--settings: {key} must be null or an integer >= 1, got {value!r}")
    settings["optimizer"] = resolve_optimizer(settings["optimizer"])
    schedule = settings["lr_schedule"]
    if schedule is not None:
        if not isinstance(schedule, dict) or schedule.get("name") != "reduce_on_plateau":
            raise SettingsError("--settings: lr_schedule must be null or "
                                f"{{'name': 'reduce_on_plateau', ...}}, got {schedule!r}")
        extra = sorted(set(schedule) - {"name", "factor", "patience"})
        if extra:
            raise SettingsError(f"--settings: lr_schedule has unknown key(s) {extra}")
        settings["lr_schedule"] = {"name": "reduce_on_plateau",
                                   "factor": float(schedule.get("factor", 0.1)),
                                   "patience": int(schedule.get("patience", 2))}
    target = settings["target_accuracy"]
    if target is not None and not (isinstance(target, (int, float)) and 0 < target <= 1):
        raise SettingsError(f"--settings: target_accuracy must be null or in (0, 1], got {target!r}")
    return settings


def resolve_optimizer(optimizer):
    if not isinstance(optimizer, dict) or "name" not in optimizer or "learning_rate" not in optimizer:
        raise SettingsError("--settings: optimizer must be an object with 'name' and "
                            f"'learning_rate', got {optimizer!r}")
    name = optimizer["name"]
    if name not in OPTIMIZER_DEFAULTS:
        raise SettingsError(f"--settings: optimizer.name {name!r} is not one of "
                            f"{sorted(OPTIMIZER_DEFAULTS)}")
    allowed = {"name", "learning_rate", *OPTIMIZER_DEFAULTS[name]}
    unknown = sorted(set(optimizer) - allowed)
    if unknown:
        raise SettingsError(f"--settings: optimizer {name!r} has unknown key(s) {unknown}; "
                            f"allowed: {sorted(allowed)}")
    resolved = {"name": name, **OPTIMIZER_DEFAULTS[name], **optimizer}
    resolved["learning_rate"] = float(resolved["learning_rate"])
    return resolved


def set_runtime_env(threads):
    """Pin every runtime's thread pools to `threads` and switch determinism on, through the
    environment; call before numpy or a framework is imported."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    os.environ.update(PRE_IMPORT_ENV)


# --- pieces of the loop -------------------------------------------------------------------------

class ReduceOnPlateau:
    """Multiply the learning rate by `factor` after `patience` epochs without a lower val loss.

    Keras's ReduceLROnPlateau with min_delta 0 and cooldown 0, run by the harness so that every
    framework follows the same schedule.
    """

    def __init__(self, factor, patience):
        self.factor = factor
        self.patience = patience
        self.best = math.inf
        self.wait = 0

    def step(self, val_loss, lr):
        """The learning rate for the next epoch."""
        if val_loss < self.best:
            self.best = val_loss
            self.wait = 0
            return lr
        self.wait += 1
        if self.wait >= self.patience:
            self.wait = 0
            return lr * self.factor
        return lr


_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def prefetch_batches(split, order, batch_size, variant, train, rng, depth=PREFETCH_BATCHES):
    """Yield (x float32 NHWC, y int64) batches of split[order], prepared in a background thread.

    The thread stays `depth` batches ahead so that reading and preprocessing overlap the
    framework's compute (numpy releases the GIL in its heavy loops). It is the only user of `rng`
    (augmentation), in batch order, so a seed fixes every batch. Stopping early (divergence)
    or an error in the thread both end it cleanly.
    """
    import numpy as np
    from alexbench.common.preprocess import prepare_batch

    q = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for start in range(0, len(order), batch_size):
                # Sorted within the batch: the same examples, read forward through a memory map.
                idx = np.sort(order[start:start + batch_size])
                x = prepare_batch(split.images[idx], variant, train, rng)
                y = np.ascontiguousarray(split.labels[idx], dtype=np.int64)
                if not put((x, y)):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the consumer, which re-raises it
            put(_Failure(e))

    thread = threading.Thread(target=produce, name="input-pipeline", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def evaluate(trainer, split, indices, batch_size, variant):
    """Loss, top-1, top-5 and seconds over split[indices], no gradients; device synced."""
    trainer.sync()
    start = time.perf_counter()
    loss_sum = correct = correct5 = seen = 0
    for x, y in prefetch_batches(split, indices, batch_size, variant, train=False, rng=None):
        loss, c1, c5 = trainer.evaluate_batch(x, y)
        loss_sum += float(loss) * len(y)
        correct += int(c1)
        correct5 += int(c5)
        seen += len(y)
    trainer.sync()
    seconds = time.perf_counter() - start
    return {"loss": loss_sum / seen, "accuracy": correct / seen, "top5_accuracy": correct5 / seen,
            "images": seen, "seconds": seconds}


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_env_txt(out_dir):
    """`python -m pip freeze` of the running interpreter, written atomically to env.txt."""
    proc = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip freeze failed for {sys.executable}: {proc.stderr.strip()}")
    header = f"# {sys.executable} (Python {platform.python_version()})\n"
    atomic_files.write_text(Path(out_dir) / "env.txt", header + proc.stdout)


def peak_rss_mb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None


# --- the run ------------------------------------------------------------------------------------

def main(argv=None):
    """Entry point of workflow/scripts/train.py; returns the exit status."""
    started_at = utc_now()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    # A metrics.json left from an earlier run would make this one look complete if it dies.
    (out_dir / run_contract.METRICS_FILE).unlink(missing_ok=True)
    (out_dir / run_contract.FAILURE_FILE).unlink(missing_ok=True)
    for leftover in out_dir.glob(".*.tmp"):  # temp files of a killed earlier run
        leftover.unlink()
    # failure.json records why a run failed, for a report built after --keep-going; the job
    # still fails.
    try:
        return run(args, started_at)
    except hardware.GPUUnavailableError as e:
        log.error("%s", e)
        run_contract.write_failure(out_dir, type(e).__name__, str(e))
        return 3
    except Exception as e:
        run_contract.write_failure(out_dir, type(e).__name__, str(e))
        raise


def run(args, started_at):
    set_runtime_env(args.threads)
    if args.hardware == "gpu" and not hardware.gpu_visible():
        raise hardware.GPUUnavailableError("nvidia-smi -L and /proc/driver/nvidia list none, "
                                           "or CUDA_VISIBLE_DEVICES hides them")
    # One device per GPU job (a lock per id), chosen before the framework loads CUDA.
    args.gpu_id = gpu_devices.claim_gpu(log=log.info).gpu_id if args.hardware == "gpu" else None
    backend = importlib.import_module(f"alexbench.fw_{args.framework}.loop")
    backend.configure_threads(args.threads)
    device = backend.select_device(args.hardware)
    metrics = train(args, backend, device, started_at)
    path = run_contract.write_metrics(args.out_dir, metrics)
    log.info("wrote %s (status %s)", path, metrics["status"])
    return 0


def train(args, backend, device, started_at):
    """Run the whole training for parsed `args`; returns the metrics document (not yet written)."""
    import numpy as np
    from alexbench.common import prepared

    settings = args.settings
    random.seed(args.seed)
    np.random.seed(args.seed)
    backend.seed_everything(args.seed)
    write_env_txt(args.out_dir)

    data = prepared.open_prepared(args.data_dir)
    train_split = prepared.first_n(data.train, settings["max_train_images"])
    test_split = prepared.first_n(data.test, settings["max_test_images"])
    train_idx, val_idx = prepared.holdout_indices(len(train_split), settings["validation"],
                                                  args.seed, full_count=len(data.train))
    val_split, val_idx = (test_split, np.arange(len(test_split))) if val_idx is None \
        else (train_split, val_idx)
    test_idx = np.arange(len(test_split))
    log.info("%s %s on %s (%s): %d train, %d validation (%s), %d test images; threads %d",
             args.framework, args.model, args.dataset, args.hardware, len(train_idx), len(val_idx),
             settings["validation"], len(test_idx), args.threads)

    trainer = backend.Trainer(args.model, data.num_classes, settings, device)
    batch_size = settings["batch_size"]
    # Separate streams, so that e.g. the warm-up batch cannot shift the epoch shuffles.
    shuffle_rng = np.random.default_rng([args.seed, 1])
    augment_rng = np.random.default_rng([args.seed, 2])
    warmup_rng = np.random.default_rng([args.seed, 3])

    from alexbench.common.preprocess import prepare_batch
    first = np.sort(train_idx[:batch_size])
    state = trainer.snapshot()
    trainer.train_batch(prepare_batch(train_split.images[first], args.model, True, warmup_rng),
                        np.ascontiguousarray(train_split.labels[first], dtype=np.int64))
    trainer.sync()
    trainer.restore(state)
    del state

    schedule = None
    if settings["lr_schedule"] is not None:
        schedule = ReduceOnPlateau(settings["lr_schedule"]["factor"],
                                   settings["lr_schedule"]["patience"])
    epochs = settings["epochs"]
    target = settings["target_accuracy"]
    n_batches = math.ceil(len(train_idx) / batch_size)
    warm_batches = max(1, math.ceil(ONE_EPOCH_WARM_FRACTION * n_batches))
    progress = Progress(epochs, n_batches, label=str(args.out_dir), terminal=open_terminal())
    history, epoch_times, train_phase = [], [], []  # train_phase: (images, seconds) per epoch
    steady_first_epoch = None
    status, time_to_target = "ok", None

    trainer.sync()
    loop_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        progress.start_epoch(epoch)
        lr = trainer.get_learning_rate()
        order = shuffle_rng.permutation(train_idx)
        loss_sum = correct = seen = 0
        marker = None
        for b, (x, y) in enumerate(prefetch_batches(train_split, order, batch_size, args.model,
                                                    True, augment_rng)):
            loss, c = trainer.train_batch(x, y)
            if not math.isfinite(loss):
                status = "diverged"
                log.warning("epoch %d/%d: training loss became %s at batch %d; stopping "
                            "(status diverged)", epoch, epochs, loss, b + 1)
                break
            loss_sum += loss * len(y)
            correct += int(c)
            seen += len(y)
            progress.batch(b + 1, seen)
            if epoch == 1 and b + 1 == warm_batches:
                trainer.sync()
                marker = (seen, time.perf_counter())
        trainer.sync()
        train_end = time.perf_counter()
        if status == "diverged":
            break
        train_phase.append((seen, train_end - epoch_start))
        if marker is not None and seen > marker[0]:
            steady_first_epoch = (seen - marker[0], train_end - marker[1])
        val = evaluate(trainer, val_split, val_idx, batch_size, args.model)
        if not math.isfinite(val["loss"]):
            status = "diverged"
            log.warning("epoch %d/%d: validation loss became %s; stopping (status diverged)",
                        epoch, epochs, val["loss"])
            break
        trainer.sync()
        epoch_end = time.perf_counter()
        epoch_time = epoch_end - epoch_start
        epoch_times.append(epoch_time)
        row = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
               "val_loss": val["loss"], "val_accuracy": val["accuracy"],
               "epoch_time_s": epoch_time, "learning_rate": lr}
        history.append(row)
        run_contract.write_history(args.out_dir, history)
        log.info("epoch %d/%d train_loss=%.4f train_accuracy=%.4f val_loss=%.4f val_accuracy=%.4f "
                 "lr=%.3g epoch_time_s=%.2f train_images_per_s=%.1f", epoch, epochs,
                 row["train_loss"], row["train_accuracy"], row["val_loss"], row["val_accuracy"],
                 lr, epoch_time, seen / (train_end - epoch_start))
        if target is not None and time_to_target is None and val["accuracy"] >= target:
            time_to_target = epoch_end - loop_start
            log.info("validation accuracy reached the target %.4f after %.2f s", target,
                     time_to_target)
        if schedule is not None:
            new_lr = schedule.step(val["loss"], lr)
            if new_lr != lr:
                trainer.set_learning_rate(new_lr)
                log.info("reduce_on_plateau: learning rate %.3g -> %.3g", lr, new_lr)
    trainer.sync()
    train_time = time.perf_counter() - loop_start
    if not history:
        run_contract.write_history(args.out_dir, history)

    if len(train_phase) >= 2:
        images = sum(n for n, _ in train_phase[1:])
        seconds = sum(s for _, s in train_phase[1:])
        train_ips = images / seconds if seconds > 0 else None
    elif steady_first_epoch is not None and steady_first_epoch[1] > 0:
        train_ips = steady_first_epoch[0] / steady_first_epoch[1]
    else:
        train_ips = None

    test = {"loss": None, "accuracy": None, "top5_accuracy": None}
    eval_ips = None
    if status == "ok":
        result = evaluate(trainer, test_split, test_idx, batch_size, args.model)
        test = {"loss": finite_or_none(result["loss"]), "accuracy": result["accuracy"],
                "top5_accuracy": result["top5_accuracy"] if args.model in TOP5_MODELS else None}
        eval_ips = result["images"] / result["seconds"] if result["seconds"] > 0 else None
        log.info("test loss=%.4f accuracy=%.4f top5_accuracy=%s eval_images_per_s=%.1f",
                 result["loss"], result["accuracy"], test["top5_accuracy"], eval_ips or 0.0)

    weights_file = None
    if settings["save_weights"]:
        weights_file = trainer.save_weights(str(args.out_dir / "weights"))
        weights_file = Path(weights_file).name

    versions = dict(backend.versions())
    versions["framework_detail"] = {k: str(v) for k, v in
                                    (versions.get("framework_detail") or {}).items()}
    versions.update(python=platform.python_version(), numpy=np.__version__)
    if args.hardware == "cpu":
        versions["driver"] = None  # the contract: driver is a GPU fact, null for CPU runs

    return {
        "schema_version": 1,
        "run": {"experiment": args.experiment, "source": args.source,
                "framework": args.framework, "dataset": args.dataset, "model": args.model,
                "hardware": args.hardware, "seed": args.seed},
        "status": status,
        "smoke": bool(settings["smoke"]),
        "subset": settings["subset"],
        "versions": versions,
        "device": {"kind": args.hardware, "name": backend.device_name(device),
                   "threads": args.threads, "hostname": socket.gethostname(),
                   "gpu_id": getattr(args, "gpu_id", None)},
        "settings": {"epochs": epochs, "batch_size": batch_size,
                     "optimizer": settings["optimizer"], "lr_schedule": settings["lr_schedule"],
                     "validation": settings["validation"], "train_images": len(train_idx),
                     "val_images": len(val_idx), "test_images": len(test_idx),
                     "deterministic": True},
        "parameters": int(trainer.parameters),
        "epochs_completed": len(history),
        "train_time_s": train_time,
        "epoch_times_s": epoch_times,
        "throughput": {"train_images_per_s": train_ips, "eval_images_per_s": eval_ips},
        "test": test,
        "target_accuracy": target,
        "time_to_target_s": time_to_target,
        "memory": {"peak_rss_mb": peak_rss_mb(), "peak_gpu_mb": trainer.peak_gpu_mb()},
        "timing_definition": TIMING_DEFINITION,
        "weights_file": weights_file,
        "started_at": started_at,
        "finished_at": utc_now(),
    }
