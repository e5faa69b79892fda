"""The metrics document of one run (workflow/schemas/metrics.schema.json), built in one place
from what the training loop measured. Written by run_contract.write_metrics, last."""
import datetime
import math
import platform
import resource
import socket

from alexbench.common import flops, hardware

SCHEMA_VERSION = 1
# top5_accuracy is published only where the source reports it: the 2012 network's ImageNet
# results. For the 10-class sets of the other sources it says little, so it is null there.
TOP5_MODELS = frozenset({"alexnet-2012"})
TIMING_DEFINITION = (
    "train_time_s is the wall time from the start of epoch 1 to the end of the last epoch, "
    "including the input pipeline and per-epoch validation, with the device synchronised before "
    "each clock read; data download and preparation, model build and one untimed warm-up step "
    "(weights restored afterwards) are excluded.")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def peak_rss_mb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None


def train_throughput(train_phase, steady_first_epoch):
    """Images/s of the training phase over epochs 2..N; with one epoch, over the batches after
    the warm fraction of epoch 1 (None when neither was measured)."""
    if len(train_phase) >= 2:
        images = sum(n for n, _ in train_phase[1:])
        seconds = sum(s for _, s in train_phase[1:])
        return images / seconds if seconds > 0 else None
    if steady_first_epoch is not None and steady_first_epoch[1] > 0:
        return steady_first_epoch[0] / steady_first_epoch[1]
    return None


def test_figures(model, result):
    """The test block of metrics.json from an evaluation result (None: the run diverged)."""
    if result is None:
        return {"loss": None, "accuracy": None, "top5_accuracy": None}
    return {"loss": finite_or_none(result["loss"]), "accuracy": result["accuracy"],
            "top5_accuracy": result["top5_accuracy"] if model in TOP5_MODELS else None}


def versions(backend, hardware_kind, numpy_version):
    """The backend's versions, plus Python, numpy and (GPU runs only) the NVIDIA driver."""
    found = dict(backend.versions())
    found["framework_detail"] = {k: str(v) for k, v in (found.get("framework_detail") or {}).items()}
    found.update(python=platform.python_version(), numpy=numpy_version)
    # The contract: driver is a GPU fact, null for CPU runs.
    found["driver"] = hardware.nvidia_driver_version() if hardware_kind == "gpu" else None
    return found


def device(backend, device_handle, hardware_kind, threads, gpu_id=None):
    name = backend.device_name(device_handle) if hardware_kind == "gpu" else hardware.cpu_model_name()
    return {"kind": hardware_kind, "name": name, "threads": threads, "hostname": socket.gethostname(),
            "gpu_id": gpu_id}


def compute(model, num_classes, train_ips, peak):
    """Training FLOPs per image (common/flops.py's convention), the GFLOP/s the measured
    throughput stands for, and its share of the host's measured peak (model FLOP utilisation)."""
    achieved = flops.achieved_gflops(model, num_classes, train_ips)
    peak_gflops = peak["gflops"] if peak else None
    return {"training_flops_per_image": flops.training_flops(model, num_classes),
            "achieved_gflops": achieved, "peak_gflops": peak_gflops,
            "peak_source": peak["source"] if peak else None,
            "mfu": achieved / peak_gflops if achieved is not None and peak_gflops else None}


def build(*, args, settings, status, versions_found, device_found, parameters, step_compiler,
          counts, num_classes, history, train_time, epoch_times, train_ips, eval_ips, test,
          time_to_target, peak_gpu_mb, peak_children_mb, time_breakdown, weights_file,
          started_at):
    """The whole document; `counts` = (train, validation, test) images."""
    train_images, val_images, test_images = counts
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {"experiment": args.experiment, "source": args.source,
                "framework": args.framework, "dataset": args.dataset, "model": args.model,
                "hardware": args.hardware, "seed": args.seed},
        "status": status,
        "smoke": bool(settings["smoke"]),
        "subset": settings["subset"],
        "versions": versions_found,
        "device": device_found,
        "settings": {"epochs": settings["epochs"], "batch_size": settings["batch_size"],
                     "optimizer": settings["optimizer"], "lr_schedule": settings["lr_schedule"],
                     "validation": settings["validation"], "train_images": train_images,
                     "val_images": val_images, "test_images": test_images,
                     "deterministic": settings["deterministic"],
                     "tf_allocator": settings["tf_allocator"],
                     "keras_jit_compile": settings["keras_jit_compile"],
                     "torch_compile": settings["torch_compile"],
                     "precision": settings["precision"]},
        "parameters": int(parameters),
        "step_compiler": step_compiler,
        "epochs_completed": len(history),
        "train_time_s": train_time,
        "epoch_times_s": epoch_times,
        "throughput": {"train_images_per_s": train_ips, "eval_images_per_s": eval_ips},
        "compute": compute(args.model, num_classes, train_ips, getattr(args, "peak", None)),
        "time_breakdown": time_breakdown,
        "test": test,
        "target_accuracy": settings["target_accuracy"],
        "time_to_target_s": time_to_target,
        "memory": {"peak_rss_mb": peak_rss_mb(), "peak_child_processes_mb": peak_children_mb,
                   "peak_gpu_mb": peak_gpu_mb},
        "timing_definition": TIMING_DEFINITION,
        "weights_file": weights_file,
        "started_at": started_at,
        "finished_at": utc_now(),
    }
