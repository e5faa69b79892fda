"""Probe for bench/idiomatic.py: one framework trains one variant on the same prepared batches,
either through alexbench's harness or the way the framework's own documentation trains a model.

Runs in `.venvs/<framework>-cpu` (one process per measurement, so each starts clean):

    --mode harness     runtime.start_backend + Trainer.queue_batch over the harness's prefetching
                       input pipeline, each step read after the next is queued: what a workflow
                       run does (deterministic mode and TensorFlow's
                       allocator as configured)
    --mode idiomatic   Keras: model.compile + model.fit on the prepared arrays; PyTorch: a plain
                       zero_grad/forward/backward/step loop over prepared tensors; Gluon: a
                       hybridized network and gluon.Trainer loop. Same model (built by the same
                       fw_*/models.py), same optimiser and hyperparameters, same batches, the same
                       intra-op threads; nothing else of the harness (framework defaults for
                       determinism, inter-op pools and allocators).
    --mode idiomatic-no-autotune
                       Keras only: model.fit as above, on a tf.data pipeline of the same arrays
                       (slice, batch, prefetch) with tf.data's autotuning off. On a 2-core VM,
                       model.fit with autotuning on (its default, arrays or a dataset alike)
                       stalls for seconds with every thread asleep in most processes
                       (bench/README.md); this is Keras without the stall.
    --mode same-process
                       all in one process, in alternating blocks: the harness mode, the harness
                       on batches prepared beforehand, and the idiomatic loop (Keras: with
                       tf.data's autotuning off; the harness's environment for all three).
                       Prints images/s of every block per mode.
    --mode compilers   PyTorch and Keras: in one process, alternating blocks of the harness's
                       step on batches prepared beforehand, compiled as the harness compiles it
                       on a CPU (eager; tf.function) and the other way (torch.compile, as
                       `torch_compile: true` does; XLA, as `keras_jit_compile: true` does).
                       Prints images/s of every block per step compiler.
    --mode workflow    the workflow's own training job (harness/run.py, as train.py runs it) on a
                       prepared folder of the same images: 1 + `--epochs` epochs, images/s as the
                       run's metrics.json reports it (epochs 2..N, validation excluded). What a
                       user sees in the report, to hold against the harness mode.

The first two time `--epochs` passes over the batches after one untimed warm-up pass, with the
device idle before each clock read. Each mode prints one JSON line: images/s over the timed
passes.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from alexbench.common import registry  # noqa: E402  (stdlib only: threads are set first)
from alexbench.harness import runtime  # noqa: E402
from alexbench.harness.settings import resolve_settings  # noqa: E402

CLASSES = 10


def bench_split(raw_shape, count, folder):
    """The bench's images (seed 0, the same in every mode): uint8 images and int64 labels saved
    in `folder` under the prepared-data contract's training file names, and returned as a Split
    memory-mapped from there, as training reads resources/prepared/."""
    import numpy as np
    from alexbench.common import prepared_contract
    from alexbench.common.prepared import Split

    rng = np.random.default_rng(0)
    images_path = Path(folder) / prepared_contract.images_file("train")
    np.save(images_path, rng.integers(0, 256, (count, *raw_shape), dtype=np.uint8))
    labels = rng.integers(0, CLASSES, count).astype(np.int64)
    np.save(Path(folder) / prepared_contract.labels_file("train"), labels)
    return Split(np.load(images_path, mmap_mode="r"), labels)


def prepared_batches(split, variant, batch_size):
    """The float32 NHWC batches (and labels) the harness's pipeline makes of split, in order."""
    from alexbench.common.preprocess import prepare_batch

    return [(prepare_batch(split.images[s:s + batch_size], variant, False, None),
             split.labels[s:s + batch_size]) for s in range(0, len(split.labels), batch_size)]


def timed(passes, one_pass, sync):
    """Seconds of `passes` calls of one_pass() after one untimed pass."""
    one_pass()
    sync()
    start = time.perf_counter()
    for _ in range(passes):
        one_pass()
    sync()
    return time.perf_counter() - start


# --- the harness -------------------------------------------------------------------------------

def harness_setup(args, settings, folder):
    """The harness's backend (environment, threads, seeds) and Trainer, and the bench's images."""
    backend = runtime.start_backend(args.framework, args.threads, settings["deterministic"],
                                    settings["tf_allocator"])
    device = backend.select_device("cpu")
    runtime.seed_everything(backend, 0, settings["deterministic"])
    split = bench_split(args.raw_shape, args.count, folder)
    return split, backend.Trainer(args.variant, CLASSES, settings, device)


def harness_pass(args, settings, split, trainer):
    """(one pass over the harness's prefetching pipeline, stepped as its epoch loop steps, sync)."""
    import numpy as np
    from alexbench.harness.pipeline import prefetch_batches

    order = np.arange(args.count)
    return (lambda: run_steps(trainer, prefetch_batches(split, order, settings["batch_size"],
                                                        args.variant, False, None)),
            trainer.sync)


def run_steps(trainer, batches):
    """Train on each batch, reading each step's results after queuing the next, as the harness's
    epoch loop does (harness/epochs.py)."""
    pending = None
    for x, y in batches:
        queued = trainer.queue_batch(x, y)
        if pending is not None:
            pending()
        pending = queued
    if pending is not None:
        pending()


def harness_seconds(args, settings, folder):
    split, trainer = harness_setup(args, settings, folder)
    return timed(args.epochs, *harness_pass(args, settings, split, trainer))


def same_process_rates(args, settings, folder):
    """images/s of three passes in one process, `--epochs` blocks each, alternating (each block
    round starting one mode later): the harness with its pipeline, the harness on batches prepared
    beforehand, and the framework's plain loop (IDIOMATIC). One process shares the machine's drift
    and the harness's environment between them, so what differs is the step and the pipeline."""
    split, trainer = harness_setup(args, settings, folder)
    batches = prepared_batches(split, args.variant, settings["batch_size"])
    passes = {"harness": harness_pass(args, settings, split, trainer),
              "harness-prepared": (lambda: run_steps(trainer, batches), trainer.sync),
              # Keras's model.fit without tf.data's autotuning, whose stalls would swamp the step.
              "idiomatic": idiomatic_pass(args, settings, batches, autotune=False)}
    return alternating_rates(passes, args.epochs, args.count)


def alternating_rates(passes, blocks, images):
    """{name: images/s of each block}: every pass of `passes` ({name: (one_pass, sync)}) warmed
    up once, then `blocks` rounds, each starting one pass later, so drift hits all alike."""
    for one_pass, sync in passes.values():  # warm-up
        one_pass()
        sync()
    names = list(passes)
    rates = {name: [] for name in names}
    for block in range(blocks):
        for name in names[block % len(names):] + names[:block % len(names)]:
            one_pass, sync = passes[name]
            sync()  # the device idle before the clock starts
            start = time.perf_counter()
            one_pass()
            sync()
            rates[name].append(images / (time.perf_counter() - start))
    return rates


# The settings that compile the harness's step the other way, per backend (Gluon's hybridized
# graph has no faster alternative): PyTorch's torch.compile and Keras's XLA on the CPU.
OTHER_COMPILER = {"pytorch": {"torch_compile": True}, "keras": {"keras_jit_compile": True}}


def compiler_rates(args, settings, folder):
    """images/s of the harness's step on batches prepared beforehand, in alternating blocks in
    one process: compiled as the harness does by default, and the other way (OTHER_COMPILER)."""
    name = backend_name(args.framework)
    if name not in OTHER_COMPILER:
        raise SystemExit(f"--mode compilers: {args.framework} has no other step compiler to time")
    split, trainer = harness_setup(args, settings, folder)
    other = type(trainer)(args.variant, CLASSES, {**settings, **OTHER_COMPILER[name]},
                          trainer.device)
    batches = prepared_batches(split, args.variant, settings["batch_size"])
    passes = {t.step_compiler: (lambda t=t: run_steps(t, batches), t.sync)
              for t in (trainer, other)}
    return alternating_rates(passes, args.epochs, args.count)


# --- the workflow's training job ------------------------------------------------------------

def workflow_images_per_s(args, settings, folder):
    """Train through harness.run.main on a prepared folder of the bench's images (1 + epochs
    epochs) made in `folder`, and return the training images/s its metrics.json reports."""
    import numpy as np
    from alexbench.common import prepared_contract
    from alexbench.harness import run as training_job

    split = bench_split(args.raw_shape, args.count, folder)  # the training files, in place
    test_count = settings["batch_size"]  # validation and test: the first batch again
    np.save(folder / prepared_contract.images_file("test"), split.images[:test_count])
    np.save(folder / prepared_contract.labels_file("test"), split.labels[:test_count])
    meta = {"dataset": "bench", "format": "idx", "classes": [str(k) for k in range(CLASSES)],
            "image_shape": list(args.raw_shape), "train_count": args.count,
            "test_count": test_count, "sources": {}}
    (folder / prepared_contract.META_FILE).write_text(json.dumps(meta))
    job_settings = {**settings, "epochs": 1 + args.epochs, "validation": "test"}
    out_dir = folder / "run"
    status = training_job.main([
        "--framework", args.framework, "--model", args.variant, "--dataset", "bench",
        "--hardware", "cpu", "--seed", "0", "--experiment", "bench", "--source", "bench",
        "--data-dir", str(folder), "--out-dir", str(out_dir), "--settings", json.dumps(job_settings),
        "--threads", str(args.threads)])
    if status != 0:
        raise SystemExit(f"the training job exited with status {status}")
    metrics = json.loads((out_dir / "metrics.json").read_text())
    return metrics["throughput"]["train_images_per_s"]


# --- each framework's own way ------------------------------------------------------------------

def keras_pass(args, settings, batches, autotune=True):
    """(one pass of model.fit over the batches, sync)."""
    import numpy as np
    import tensorflow as tf
    import keras
    from alexbench.fw_keras.models import build_model

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    o = settings["optimizer"]
    optimizer = {"sgd": lambda: keras.optimizers.SGD(o["learning_rate"], momentum=o["momentum"],
                                                     nesterov=o["nesterov"]),
                 "adam": lambda: keras.optimizers.Adam(o["learning_rate"], beta_1=o["beta_1"],
                                                       beta_2=o["beta_2"], epsilon=o["epsilon"]),
                 "adadelta": lambda: keras.optimizers.Adadelta(o["learning_rate"], rho=o["rho"],
                                                               epsilon=o["epsilon"])}[o["name"]]()
    model = build_model(args.variant, CLASSES)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    batch_size = settings["batch_size"]
    if autotune:  # Keras's own input path for arrays (tf.data underneath, autotuned)
        return (lambda: model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0),
                lambda: None)
    options = tf.data.Options()
    options.autotune.enabled = False
    data = (tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(2)
            .with_options(options))
    return lambda: model.fit(data, epochs=1, verbose=0), lambda: None


def pytorch_pass(args, settings, batches):
    """(one pass of a plain training loop over the batches, sync)."""
    import torch
    import torch.nn.functional as F
    from alexbench.fw_pytorch.models import build_model
    from alexbench.fw_pytorch.optimizers import make_optimizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = [(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y))
            for x, y in batches]
    model = build_model(args.variant, CLASSES)
    optimizer = make_optimizer(model.parameters(), settings["optimizer"])
    model.train()

    def one_pass():
        for x, y in data:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        loss.item()
    return one_pass, lambda: None


def gluon_pass(args, settings, batches):
    """(one pass of a hybridized gluon.Trainer loop over the batches, sync)."""
    import mxnet as mx
    from mxnet import autograd, gluon
    from alexbench.fw_gluon.models import build_model

    mx.random.seed(0)
    ctx = mx.cpu()
    data = [(mx.nd.array(x, ctx=ctx).transpose((0, 3, 1, 2)), mx.nd.array(y, ctx=ctx))
            for x, y in batches]
    model = build_model(args.variant, CLASSES, ctx)
    model.hybridize(static_alloc=True, static_shape=True)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    o = settings["optimizer"]
    params = {"sgd": {"learning_rate": o["learning_rate"], "momentum": o.get("momentum", 0.0)},
              "adam": {"learning_rate": o["learning_rate"], "beta1": o.get("beta_1"),
                       "beta2": o.get("beta_2"), "epsilon": o.get("epsilon")},
              "adadelta": {"rho": o.get("rho"), "epsilon": o.get("epsilon")}}[o["name"]]
    trainer = gluon.Trainer(model.collect_params(), o["name"], params, kvstore=None)

    def one_pass():
        for x, y in data:
            with autograd.record():
                loss = loss_fn(model(x), y)
            loss.backward()
            trainer.step(x.shape[0])
    return one_pass, mx.nd.waitall


IDIOMATIC = {"keras": keras_pass, "pytorch": pytorch_pass, "gluon": gluon_pass}


def backend_name(framework):
    """The key of IDIOMATIC for a framework: its backend package's suffix (fw_keras: keras)."""
    return registry.framework(framework).backend.split("_")[-1]


def idiomatic_pass(args, settings, batches, autotune=True):
    """The framework's own loop (IDIOMATIC); Keras's model.fit with tf.data's autotuning on (its
    default) or off. Other frameworks do not train through tf.data and ignore `autotune`."""
    name = backend_name(args.framework)
    if name == "keras":
        return keras_pass(args, settings, batches, autotune)
    return IDIOMATIC[name](args, settings, batches)


def measure_seconds(args, settings, folder):
    """Seconds of args.epochs timed passes over args.count images in args.mode."""
    if args.mode == "workflow":
        return args.count * args.epochs / workflow_images_per_s(args, settings, folder)
    if args.mode == "harness":
        return harness_seconds(args, settings, folder)
    # The framework's own defaults, except the intra-op threads (the same cores for both).
    for name in runtime.THREAD_ENV_VARS:
        os.environ[name] = str(args.threads)
    autotune = args.mode != "idiomatic-no-autotune"
    if not autotune and backend_name(args.framework) != "keras":
        raise SystemExit(f"--mode idiomatic-no-autotune is for Keras (tf.data), "
                         f"not {args.framework}")
    split = bench_split(args.raw_shape, args.count, folder)
    batches = prepared_batches(split, args.variant, settings["batch_size"])
    return timed(args.epochs, *idiomatic_pass(args, settings, batches, autotune))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True, choices=registry.framework_names())
    parser.add_argument("--variant", required=True, choices=registry.MODELS)
    parser.add_argument("--mode", required=True,
                        choices=("harness", "idiomatic", "idiomatic-no-autotune", "workflow",
                                 "same-process", "compilers"))
    parser.add_argument("--raw-shape", required=True, type=int, nargs=3, metavar=("H", "W", "C"))
    parser.add_argument("--settings", required=True, help="resolved training settings (JSON)")
    parser.add_argument("--count", type=int, default=1024, help="images per pass")
    parser.add_argument("--epochs", type=int, default=1,
                        help="timed passes (same-process: blocks per mode)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    settings = resolve_settings(args.settings)
    # The images (and the workflow mode's run) live in a folder of their own, removed at the end.
    with tempfile.TemporaryDirectory(prefix="alexbench-bench-") as folder:
        if args.mode in ("same-process", "compilers"):
            measure = same_process_rates if args.mode == "same-process" else compiler_rates
            rates = measure(args, settings, Path(folder))
            print(json.dumps({"framework": args.framework, "variant": args.variant,
                              "mode": args.mode, "threads": args.threads, "images": args.count,
                              "rates": rates}))
            return
        seconds = measure_seconds(args, settings, Path(folder))
    print(json.dumps({"framework": args.framework, "variant": args.variant, "mode": args.mode,
                      "threads": args.threads, "deterministic": settings["deterministic"],
                      "tf_allocator": settings["tf_allocator"],
                      "images": args.count * args.epochs, "seconds": seconds,
                      "images_per_s": args.count * args.epochs / seconds}))


if __name__ == "__main__":
    main()
