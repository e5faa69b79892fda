"""Probe for tests/test_backends.py: drive one framework backend (fw_*/loop.py) for a few steps.

Runs in a framework venv: threads, seed, device and a Trainer exactly as the harness uses them,
then a few optimiser steps on one fixed random batch (dropout on). Prints one JSON line: the
evaluation loss before and after each step, the training losses, the final (loss, top-1, top-5),
how the train step was compiled and what select_device("gpu") did.

    python tests/probes/backend_train.py --framework keras --seed 0 --steps 3
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402  (stdlib only)

VARIANT = "alexnet-lrn-32"   # the smallest variant with conv, LRN, dropout and fc layers
CLASSES = 10


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True, choices=("keras", "gluon", "pytorch"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--optimizer", default='{"name": "sgd", "learning_rate": 0.01, '
                        '"momentum": 0.9, "weight_decay": 0.0005, "nesterov": false}')
    args = parser.parse_args(argv)

    from alexbench.common import layer_specs
    backend = runtime.start_backend(args.framework, 1)
    gpu = {"raised": None, "message": None}
    try:
        backend.select_device("gpu")
    except Exception as err:   # the test checks it is exactly GPUUnavailableError
        gpu = {"raised": type(err).__name__, "message": str(err)}
    device = backend.select_device("cpu")
    runtime.seed_everything(backend, args.seed)

    import numpy as np
    rng = np.random.default_rng(1234)          # the batch is the same for every seed
    h, w, c = layer_specs.input_shape(VARIANT)
    x = rng.random((args.batch_size, h, w, c), dtype=np.float32)
    y = rng.integers(0, CLASSES, args.batch_size).astype(np.int64)

    settings = {"optimizer": json.loads(args.optimizer)}
    trainer = backend.Trainer(VARIANT, CLASSES, settings, device)
    eval_losses, train_losses = [trainer.evaluate_batch(x, y)[0]], []
    for _ in range(args.steps):
        train_losses.append(trainer.train_batch(x, y)[0])
        eval_losses.append(trainer.evaluate_batch(x, y)[0])
    trainer.sync()
    final = trainer.evaluate_batch(x, y)
    print(json.dumps({"framework": backend.FRAMEWORK, "parameters": trainer.parameters,
                      "expected_parameters": layer_specs.count_parameters(VARIANT, CLASSES),
                      "eval_losses": eval_losses, "final_eval": final, "train_losses": train_losses, "gpu": gpu,
                      "learning_rate": trainer.get_learning_rate(),
                      "step_compiler": trainer.step_compiler}))


if __name__ == "__main__":
    main()
