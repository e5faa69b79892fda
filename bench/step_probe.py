"""Probe for bench/frameworks.py: time one framework backend's training steps, in its own venv.

Runs in `.venvs/<framework>-cpu` exactly as the harness sets a run up (set_runtime_env, then
configure_threads, seed_framework, select_device, Trainer), on deterministic uint8 images
turned into float32 batches by `common.preprocess.prepare_batch`, so every framework gets
byte-identical input. Two timed passes over the same `--batches` batches, alternated
`--repeats` times:
- materialised: the batches are prepared before the clock starts; the backend is synced before
  each clock read, so each step is timed alone; CPU time (user + sys of the whole process,
  every thread) over the same interval gives the CPU utilisation;
- pipeline: the harness's own `prefetch_batches` prepares the same images in its background
  thread while the framework computes, as in a real epoch.
Prints one JSON line (the last line of stdout). Not for: comparing frameworks (frameworks.py).

    python bench/step_probe.py --framework gluon --variant alexnet-lrn-32 --raw-shape 28 28 1 \
        --settings '{"batch_size": 64, ...}' --batches 20 --threads 2
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from alexbench.common import registry  # noqa: E402  (stdlib only at import: safe before numpy)
from alexbench.harness import runtime  # noqa: E402
from alexbench.harness.pipeline import prefetch_batches  # noqa: E402
from alexbench.harness.settings import resolve_settings  # noqa: E402

CLASSES = 10


def cpu_seconds():
    """User + system CPU time of this process, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_materialised(trainer, batches):
    """(per-step seconds, pass wall seconds, pass CPU seconds) over prepared batches."""
    steps = []
    trainer.sync()
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    for x, y in batches:
        start = time.perf_counter()
        trainer.train_batch(x, y)
        trainer.sync()
        steps.append(time.perf_counter() - start)
    return steps, time.perf_counter() - wall0, cpu_seconds() - cpu0


def timed_pipeline(trainer, split, order, batch_size, variant, rng):
    """(pass wall seconds, pass CPU seconds) for one epoch through the harness's prefetch_batches."""
    trainer.sync()
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    for x, y in prefetch_batches(split, order, batch_size, variant, True, rng):
        trainer.train_batch(x, y)
    trainer.sync()
    return time.perf_counter() - wall0, cpu_seconds() - cpu0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True, choices=registry.framework_names())
    parser.add_argument("--variant", required=True, choices=registry.MODELS)
    parser.add_argument("--raw-shape", required=True, type=int, nargs=3, metavar=("H", "W", "C"),
                        help="shape of one prepared uint8 image of the variant's dataset")
    parser.add_argument("--settings", required=True, help="resolved training settings (JSON)")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the framework, set after the harness's "
                        "own (to test a configuration)")
    args = parser.parse_args(argv)

    runtime.set_runtime_env(args.threads)
    for item in args.env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    settings = resolve_settings(args.settings)
    backend = runtime.load_backend(args.framework)
    backend.configure_threads(args.threads)
    runtime.seed_everything(backend, 0)
    device = backend.select_device("cpu")

    import numpy as np
    from alexbench.common.prepared import Split
    from alexbench.common.preprocess import prepare_batch

    batch_size = settings["batch_size"]
    count = args.batches * batch_size
    data_rng = np.random.default_rng(0)
    images = data_rng.integers(0, 256, (count, *args.raw_shape), dtype=np.uint8)
    labels = data_rng.integers(0, CLASSES, count).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        # Memory-mapped like resources/prepared/, so the pipeline reads pages as a real run does.
        np.save(Path(tmp) / "images.npy", images)
        split = Split(np.load(Path(tmp) / "images.npy", mmap_mode="r"), labels)
        order = data_rng.permutation(count)
        batches = []
        for start in range(0, count, batch_size):
            idx = np.sort(order[start:start + batch_size])
            batches.append((prepare_batch(split.images[idx], args.variant, True,
                                          np.random.default_rng(1)),
                            np.ascontiguousarray(labels[idx])))

        trainer = backend.Trainer(args.variant, CLASSES, settings, device)
        for x, y in batches[:args.warmup]:
            trainer.train_batch(x, y)
        trainer.sync()

        steps, mat_wall, mat_cpu, pipe_wall, pipe_cpu = [], [], [], [], []
        for _ in range(args.repeats):
            s, wall, cpu = timed_materialised(trainer, batches)
            steps += s
            mat_wall.append(wall)
            mat_cpu.append(cpu)
            wall, cpu = timed_pipeline(trainer, split, order, batch_size, args.variant,
                                       np.random.default_rng(1))
            pipe_wall.append(wall)
            pipe_cpu.append(cpu)

    median_step_s = float(np.median(steps))
    print(json.dumps({
        "framework": args.framework, "variant": args.variant, "batch_size": batch_size,
        "batches": args.batches, "repeats": args.repeats, "threads": args.threads,
        "env": args.env, "framework_version": backend.versions()["framework"],
        "median_step_ms": 1000 * median_step_s,
        "step_ms_p10_p90": [1000 * float(np.percentile(steps, q)) for q in (10, 90)],
        "images_per_s": batch_size / median_step_s,
        "cpu_util": float(np.median(np.array(mat_cpu) / np.array(mat_wall))),
        "materialised_epoch_s": float(np.median(mat_wall)),
        "pipeline_epoch_s": float(np.median(pipe_wall)),
        "pipeline_cpu_util": float(np.median(np.array(pipe_cpu) / np.array(pipe_wall))),
        "pipeline_overhead_pct": 100 * float(np.median(np.array(pipe_wall) / np.array(mat_wall)) - 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
