"""Evaluate published weights in one framework: the pretrained counterpart of the training harness.

    evaluate_pretrained.py --framework pytorch --hardware cpu --weights-name bvlc_alexnet \
        --weights resources/prepared/weights/bvlc_alexnet.npz --dataset imagenette-320 \
        --data-dir resources/prepared/imagenette-320 \
        --out-dir results/pretrained/pytorch/imagenette-320/alexnet-2012/cpu \
        --batch-size 50 [--max-images 64] --threads 2

Threads and determinism are set before the framework loads (harness.runtime), the
framework's alexnet-2012 is built with Caffe's LRN and loaded from the converted .npz
(fw_<framework>/pretrained.py), and every test image goes through the same numpy input
(caffe_input.caffe_batch). One batch runs untimed first; the timed loop covers input
preparation and the forward pass with the device synchronised (by reading the logits back).

Figures: 1000-way top-1/top-5 against each image's ImageNet-1k index (meta.json's
imagenet_indices), and 10-way accuracy with the logits restricted to the dataset's own classes.
Writes env.txt, logits.npy (float32, one row per image, for the cross-framework agreement) and,
last, metrics.json. Not for training (harness/) or comparing frameworks (agreement.py).
"""
import argparse
import importlib
import logging
import sys
import time
from pathlib import Path

from alexbench.common import hardware, registry
from alexbench.harness import metrics_doc, runtime
from alexbench.harness.run import write_env_txt
from alexbench.pretrained import contract

log = logging.getLogger("alexbench.pretrained")
MODEL = "alexnet-2012"
TIMING_DEFINITION = ("eval_time_s is the wall time of the evaluation loop over the test images "
                     "(input preparation and forward pass, logits read back to the host), after "
                     "one untimed warm-up batch; model build and weight loading are excluded.")
PREPROCESSING = ("shorter side 256, centre 256x256 (prepared), centre crop 227, BGR, minus the "
                 "per-channel mean B 104.0 G 116.7 R 122.7, no scaling")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="evaluate_pretrained.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", required=True, choices=registry.framework_names())
    parser.add_argument("--hardware", required=True, choices=registry.HARDWARE)
    parser.add_argument("--weights-name", required=True, help="key of config.yaml's weights block")
    parser.add_argument("--weights", required=True, type=Path, help="converted .npz")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", required=True, type=Path, help="prepared dataset folder")
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--max-images", type=int, default=None,
                        help="evaluate only the first N test images (smoke/demo)")
    parser.add_argument("--threads", type=int, default=runtime.default_threads())
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.threads < 1 or (args.max_images is not None and args.max_images < 1):
        parser.error("--batch-size, --threads and --max-images must be >= 1")
    return args


def accuracy_figures(logits, imagenet_labels, class_indices, labels):
    """(1000-way top-1, top-5, 10-way top-1) of float logits (N, 1000)."""
    import numpy as np
    top5 = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    top1 = float(np.mean(top5[:, 0] == imagenet_labels))
    top5_acc = float(np.mean((top5 == imagenet_labels[:, None]).any(axis=1)))
    restricted = logits[:, np.asarray(class_indices)]
    ten_way = float(np.mean(np.argmax(restricted, axis=1) == labels))
    return top1, top5_acc, ten_way


def main(argv=None) -> int:
    started_at = metrics_doc.utc_now()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    # An old metrics.json would make a run that dies now look complete.
    (out_dir / contract.METRICS_FILE).unlink(missing_ok=True)
    if args.hardware == "gpu" and not hardware.gpu_visible():
        log.error("no GPU visible for a gpu evaluation")
        return 3
    metrics = evaluate(args, started_at)
    path = contract.write_metrics(out_dir, metrics)
    log.info("wrote %s", path)
    return 0


def evaluate(args, started_at) -> dict:
    import numpy as np
    from alexbench.common import atomic_files, prepared
    from alexbench.pretrained import caffe_input, convert

    backend = runtime.start_backend(args.framework, args.threads)
    pretrained = importlib.import_module(f"{registry.framework(args.framework).backend}.pretrained")
    device = backend.select_device(args.hardware)
    runtime.seed_everything(backend, 0)  # deterministic kernels; nothing random is drawn
    write_env_txt(args.out_dir)

    layers, meta = convert.load(args.weights)
    model = pretrained.build_pretrained_model(layers, device)
    del layers
    data = prepared.open_prepared(args.data_dir)
    class_indices = data.meta.get("imagenet_indices")
    if not class_indices or len(class_indices) != data.num_classes:
        raise ValueError(f"{args.data_dir / 'meta.json'}: needs imagenet_indices, one per class "
                         "(the labels' ImageNet-1k index)")
    test = prepared.first_n(data.test, args.max_images)
    count = len(test)
    labels = np.asarray(test.labels, dtype=np.int64)
    imagenet_labels = np.asarray(class_indices, dtype=np.int64)[labels]
    log.info("%s on %s (%s): %d test images, batch %d, threads %d", args.framework, args.dataset,
             args.hardware, count, args.batch_size, args.threads)

    first = caffe_input.caffe_batch(np.asarray(test.images[:args.batch_size]))
    pretrained.logits(model, first, device)  # warm-up: graph tracing, allocator, kernel choice

    logits = np.empty((count, 1000), dtype=np.float32)
    start = time.perf_counter()
    for begin in range(0, count, args.batch_size):
        x = caffe_input.caffe_batch(np.asarray(test.images[begin:begin + args.batch_size]))
        logits[begin:begin + len(x)] = pretrained.logits(model, x, device)
    seconds = time.perf_counter() - start
    if not np.isfinite(logits).all():
        raise ValueError("the model produced non-finite logits")

    top1, top5, ten_way = accuracy_figures(logits, imagenet_labels, class_indices, labels)
    log.info("top-1 %.4f top-5 %.4f 10-way %.4f, %.1f images/s", top1, top5, ten_way,
             count / seconds if seconds > 0 else float("nan"))
    atomic_files.write_atomically(args.out_dir / contract.LOGITS_FILE,
                                  lambda f: np.save(f, logits, allow_pickle=False), mode="wb")

    return {
        "schema_version": 1,
        "run": {"weights": args.weights_name, "framework": args.framework, "dataset": args.dataset,
                "model": MODEL, "hardware": args.hardware},
        "smoke": args.max_images is not None and args.max_images < len(data.test),
        "versions": metrics_doc.versions(backend, args.hardware, np.__version__),
        "device": metrics_doc.device(backend, device, args.hardware, args.threads),
        "settings": {"batch_size": args.batch_size, "images": count, "preprocessing": PREPROCESSING,
                     "weights_sha256": convert.file_sha256(args.weights),
                     "source_sha256": meta.get("source_sha256", "")},
        "parameters": int(pretrained.parameter_count(model)),
        "eval_time_s": seconds,
        "throughput": {"eval_images_per_s": count / seconds if seconds > 0 else None},
        "test": {"top1_accuracy": top1, "top5_accuracy": top5, "accuracy_10way": ten_way},
        "memory": {"peak_rss_mb": metrics_doc.peak_rss_mb(), "peak_gpu_mb": pretrained.peak_gpu_mb(device)},
        "timing_definition": TIMING_DEFINITION,
        "started_at": started_at,
        "finished_at": metrics_doc.utc_now(),
    }
