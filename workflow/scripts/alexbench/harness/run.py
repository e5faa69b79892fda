"""One training run from start to finish: the order of things, and nothing else.

main() parses the training contract's arguments (docs/design.md), sets CPU threads and the
determinism switches before any numeric library loads (runtime), refuses a `gpu` run without a
GPU, opens the prepared data, takes one untimed warm-up step, runs the epochs (epochs) with the
device synchronised before each clock read, and writes the run contract: env.txt, history.csv
(after every epoch), optional weights, and metrics.json last (metrics_doc).

Decisions recorded in metrics.json or documented here:
- Validation each epoch uses the test set ('test') or a seeded hold-out of the training set
  ('holdout:0.2' / 'holdout:5000'); the final test evaluation always uses the test set.
- train_time_s follows metrics_doc.TIMING_DEFINITION. Training throughput is images /
  training-phase time (validation excluded) over epochs 2..N; with fewer than two completed
  epochs, over the batches after the first 10% of epoch 1. Eval throughput comes from the final
  test evaluation.
- A non-finite training or validation loss stops the run at once: status 'diverged', the
  unfinished epoch is not in history.csv, test figures are null.
- The last batch of an epoch may be smaller than batch_size (Keras and d2l keep it too).
"""
import argparse
import logging
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

from alexbench.common import (atomic_files, energy, gpu_devices, hardware, provenance_facts, registry,
                              run_contract)
from alexbench.common.progress import Progress, open_terminal
from alexbench.harness import child_memory, metrics_doc, peak, runtime, schedule as schedules
from alexbench.harness.precision import PrecisionUnsupportedError, check_supported
from alexbench.harness.epochs import evaluate, train_epoch
from alexbench.harness.meters import PhaseMeter
from alexbench.harness.pipeline import prepare_one_batch
from alexbench.harness.settings import SettingsError, resolve_settings

log = logging.getLogger("alexbench.train")

ONE_EPOCH_WARM_FRACTION = 0.1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train one alexbench run and write its run contract.")
    parser.add_argument("--framework", required=True, choices=registry.framework_names())
    parser.add_argument("--model", required=True, choices=registry.MODELS)
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. mnist")
    parser.add_argument("--hardware", required=True, choices=registry.HARDWARE)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--experiment", required=True, help="experiment name in config.yaml")
    parser.add_argument("--source", required=True, help="seed write-up it reproduces (S0-S4, D)")
    parser.add_argument("--data-dir", required=True, type=Path,
                        help="prepared dataset folder (resources/prepared/{dataset})")
    parser.add_argument("--out-dir", required=True, type=Path, help="run folder to write")
    parser.add_argument("--settings", required=True,
                        help="the experiment's resolved settings as JSON (settings.schema.json)")
    parser.add_argument("--threads", type=int, default=runtime.default_threads(),
                        help="CPU threads for every runtime (default: the cores this process may use)")
    parser.add_argument("--peak-cache", type=Path,
                        help="folder caching this host's peak matmul rate (resources/peaks); "
                        "without it no model FLOP utilisation is recorded")
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


def write_env_txt(out_dir):
    """`python -m pip freeze` of the running interpreter, written atomically to env.txt."""
    proc = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip freeze failed for {sys.executable}: {proc.stderr.strip()}")
    header = f"# {sys.executable} (Python {platform.python_version()})\n"
    atomic_files.write_text(Path(out_dir) / "env.txt", header + proc.stdout)


def main(argv=None):
    """Entry point of workflow/scripts/train.py; returns the exit status."""
    started_at = metrics_doc.utc_now()
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
    except (hardware.GPUUnavailableError, PrecisionUnsupportedError) as e:
        log.error("%s", e)
        run_contract.write_failure(out_dir, type(e).__name__, str(e))
        return 3
    except Exception as e:
        run_contract.write_failure(out_dir, type(e).__name__, str(e))
        raise


def run(args, started_at):
    if args.hardware == "gpu" and not hardware.gpu_visible():
        raise hardware.GPUUnavailableError("nvidia-smi -L and /proc/driver/nvidia list none, "
                                           "or CUDA_VISIBLE_DEVICES hides them")
    # This machine (perhaps a cluster node) must compute the precision natively.
    check_supported(args.framework, args.model, args.hardware, args.settings["precision"])
    # One device per GPU job (a lock per id), chosen before the framework loads CUDA.
    args.gpu_id = gpu_devices.claim_gpu(log=log.info).gpu_id if args.hardware == "gpu" else None
    backend = runtime.start_backend(args.framework, args.threads, args.settings["deterministic"],
                                    args.settings["tf_allocator"])
    device = backend.select_device(args.hardware)
    # Before anything is seeded: the probe's random matrices must not shift the run's streams.
    env = registry.framework(args.framework).env_name(args.hardware)
    args.peak = peak.peak_gflops(backend, device, args.peak_cache, env, args.threads,
                                 args.settings["precision"])
    metrics = train(args, backend, device, started_at)
    path = run_contract.write_metrics(args.out_dir, metrics)
    log.info("wrote %s (status %s)", path, metrics["status"])
    return 0


def train(args, backend, device, started_at):
    """Run the whole training for parsed `args`; returns the metrics document (not yet written)."""
    import numpy as np
    from alexbench.common import prepared

    settings = args.settings
    runtime.seed_everything(backend, args.seed, settings["deterministic"])
    write_env_txt(args.out_dir)
    # From here on, child processes (torch.compile's compiler workers) count as the run's memory.
    children = child_memory.ChildMemoryMeter().start()

    data = prepared.open_prepared(args.data_dir)
    train_split = prepared.first_n(data.train, settings["max_train_images"])
    test_split = prepared.first_n(data.test, settings["max_test_images"])
    train_idx, val_idx = prepared.holdout_indices(len(train_split), settings["validation"],
                                                  args.seed, full_count=len(data.train))
    val_split, val_idx = (test_split, np.arange(len(test_split))) if val_idx is None \
        else (train_split, val_idx)
    test_idx = np.arange(len(test_split))
    log.info("%s %s on %s (%s, %s): %d train, %d validation (%s), %d test images; threads %d",
             args.framework, args.model, args.dataset, args.hardware, settings["precision"],
             len(train_idx), len(val_idx), settings["validation"], len(test_idx), args.threads)

    trainer = backend.Trainer(args.model, data.num_classes, settings, device)
    batch_size = settings["batch_size"]
    # Separate streams, so that e.g. the warm-up batch cannot shift the epoch shuffles.
    shuffle_rng = np.random.default_rng([args.seed, 1])
    augment_rng = np.random.default_rng([args.seed, 2])
    warmup_rng = np.random.default_rng([args.seed, 3])

    # One untimed warm-up step (kernel selection, allocator growth), then undone entirely.
    state = trainer.snapshot()
    trainer.train_batch(*prepare_one_batch(train_split, train_idx[:batch_size], args.model,
                                           warmup_rng))
    trainer.sync()
    trainer.restore(state)
    del state

    schedule = schedules.from_settings(settings["lr_schedule"])
    epochs = settings["epochs"]
    target = settings["target_accuracy"]
    n_batches = math.ceil(len(train_idx) / batch_size)
    warm_batches = max(1, math.ceil(ONE_EPOCH_WARM_FRACTION * n_batches))
    history, epoch_times, train_phase = [], [], []  # train_phase: (images, seconds) per epoch
    steady_first_epoch = None
    status, time_to_target = "ok", None
    meter = PhaseMeter()
    progress = Progress(epochs, n_batches, label=str(args.out_dir), terminal=open_terminal())

    energy_meter = energy.start_meter(args.hardware)  # NVML / RAPL counter, or null and why
    trainer.sync()
    loop_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        lr = trainer.get_learning_rate()
        order = shuffle_rng.permutation(train_idx)
        progress.start_epoch(epoch)
        result = train_epoch(trainer, train_split, order, batch_size, args.model, augment_rng,
                             meter, warm_batches if epoch == 1 else None, progress)
        train_end = time.perf_counter()
        if result.diverged_at_batch is not None:
            status = "diverged"
            log.warning("epoch %d/%d: training loss became %s at batch %d; stopping "
                        "(status diverged)", epoch, epochs, result.diverged_loss,
                        result.diverged_at_batch)
            break
        seen = result.seen
        train_phase.append((seen, train_end - epoch_start))
        if result.warm_mark is not None and seen > result.warm_mark[0]:
            steady_first_epoch = (seen - result.warm_mark[0], train_end - result.warm_mark[1])
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
        row = {"epoch": epoch, "train_loss": result.loss_sum / seen,
               "train_accuracy": result.correct / seen, "val_loss": val["loss"],
               "val_accuracy": val["accuracy"], "epoch_time_s": epoch_time, "learning_rate": lr}
        history.append(row)
        run_contract.write_history(args.out_dir, history)
        log.info("epoch %d/%d train_loss=%.4f train_accuracy=%.4f val_loss=%.4f val_accuracy=%.4f "
                 "lr=%.3g epoch_time_s=%.2f train_images_per_s=%.1f", epoch, epochs,
                 row["train_loss"], row["train_accuracy"], row["val_loss"], row["val_accuracy"],
                 lr, epoch_time, seen / (train_end - epoch_start))
        if target is not None and time_to_target is None and val["accuracy"] >= target:
            time_to_target = epoch_end - loop_start
            energy_meter.mark_target()
            log.info("validation accuracy reached the target %.4f after %.2f s", target,
                     time_to_target)
        if schedule is not None:
            new_lr = schedule.step(val["loss"], lr)
            if new_lr != lr:
                trainer.set_learning_rate(new_lr)
                log.info("reduce_on_plateau: learning rate %.3g -> %.3g", lr, new_lr)
    trainer.sync()
    train_time = time.perf_counter() - loop_start
    energy_meter.stop()
    if not history:
        run_contract.write_history(args.out_dir, history)
    log.info("time in train steps %.2f s, waiting for input %.2f s", meter.step_s, meter.data_wait_s)

    test_result, eval_ips = None, None
    if status == "ok":
        test_result = evaluate(trainer, test_split, test_idx, batch_size, args.model)
        eval_ips = (test_result["images"] / test_result["seconds"]
                    if test_result["seconds"] > 0 else None)
    test = metrics_doc.test_figures(args.model, test_result)
    if test_result is not None:
        log.info("test loss=%.4f accuracy=%.4f top5_accuracy=%s eval_images_per_s=%.1f",
                 test_result["loss"], test_result["accuracy"], test["top5_accuracy"], eval_ips or 0.0)

    peak_children_mb = children.stop()
    weights_file = None
    if settings["save_weights"]:
        weights_file = Path(trainer.save_weights(str(args.out_dir / "weights"))).name

    document = metrics_doc.build(
        args=args, settings=settings, status=status,
        versions_found=metrics_doc.versions(backend, args.hardware, np.__version__),
        device_found=metrics_doc.device(backend, device, args.hardware, args.threads,
                                        getattr(args, "gpu_id", None)),
        parameters=trainer.parameters, step_compiler=trainer.step_compiler,
        counts=(len(train_idx), len(val_idx), len(test_idx)),
        num_classes=data.num_classes,
        history=history, train_time=train_time, epoch_times=epoch_times,
        train_ips=metrics_doc.train_throughput(train_phase, steady_first_epoch),
        eval_ips=eval_ips, test=test, time_to_target=time_to_target,
        peak_gpu_mb=trainer.peak_gpu_mb(), peak_children_mb=peak_children_mb,
        time_breakdown=meter.as_dict(),
        weights_file=weights_file, started_at=started_at)
    document["provenance"] = provenance_facts.run_provenance(args.data_dir)  # commit, input sha256s
    document["energy"] = energy_meter.document()
    return document
