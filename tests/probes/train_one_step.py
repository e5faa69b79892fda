"""Probe: drive one framework backend (alexbench.fw_<framework>.loop) directly on a fixed batch.

Run in the framework's venv by tests/test_training.py. Prints one JSON line: the evaluation loss
of a fixed batch before and after one optimiser step, after a snapshot/step/restore round trip,
the learning-rate round trip, top-1/top-5 counts, and what select_device('gpu') did.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.common import registry  # noqa: E402  (stdlib only)
from alexbench.harness import metrics_doc, runtime  # noqa: E402  (stdlib only)
from alexbench.harness.settings import resolve_settings  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", required=True, choices=registry.framework_names())
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--model", default="alexnet-lrn-32")
    parser.add_argument("--settings", required=True)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    backend = runtime.start_backend(args.framework, 1)
    runtime.seed_everything(backend, 0)

    import numpy as np
    from alexbench.common import hardware, prepared
    from alexbench.common.preprocess import prepare_batch

    try:
        backend.select_device("gpu")
        gpu = "selected"
    except hardware.GPUUnavailableError as e:
        gpu = str(e)
    device = backend.select_device("cpu")
    data = prepared.open_prepared(args.data_dir)
    x = prepare_batch(data.train.images[:args.batch], args.model, False, None)
    y = np.asarray(data.train.labels[:args.batch], dtype=np.int64)
    trainer = backend.Trainer(args.model, data.num_classes, resolve_settings(args.settings),
                              device)

    loss_before, top1, top5 = trainer.evaluate_batch(x, y)
    state = trainer.snapshot()
    trainer.train_batch(x, y)
    loss_after_warmup, _, _ = trainer.evaluate_batch(x, y)
    trainer.restore(state)
    loss_restored, _, _ = trainer.evaluate_batch(x, y)
    train_loss, train_correct = trainer.train_batch(x, y)
    trainer.sync()
    loss_after_step, _, _ = trainer.evaluate_batch(x, y)
    lr = trainer.get_learning_rate()
    trainer.set_learning_rate(lr * 0.1)
    print(json.dumps({
        "framework": backend.FRAMEWORK, "parameters": int(trainer.parameters),
        "loss_before": float(loss_before), "loss_after_warmup": float(loss_after_warmup),
        "loss_restored": float(loss_restored), "loss_after_step": float(loss_after_step),
        "train_loss": float(train_loss), "train_correct": int(train_correct),
        "top1": int(top1), "top5": int(top5), "batch": len(y),
        "lr": lr, "lr_after_set": trainer.get_learning_rate(),
        "peak_gpu_mb": trainer.peak_gpu_mb(), "gpu": gpu,
        "device": metrics_doc.device(backend, device, "cpu", 1),
        "versions": metrics_doc.versions(backend, "cpu", np.__version__)}))


if __name__ == "__main__":
    main()
