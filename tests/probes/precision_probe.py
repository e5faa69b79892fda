"""Probe one framework's bf16 trainer in its own venv: do its matmuls really run in bfloat16, on
float32 master weights? Prints one JSON document (last stdout line).

    python tests/probes/precision_probe.py {keras|gluon|pytorch} [--precision bf16]

Builds the backend's Trainer for alexnet-lrn-32 (convolutions, LRN, dense layers) in the given
precision, takes one training step on a fixed batch, and reports what the framework itself says:
- pytorch: the dtype of conv1's output in a forward pass under the trainer's autocast, and of
  every parameter and gradient after the step;
- keras: every layer's compute dtype and every variable's dtype;
- gluon: the amp_cast nodes of the hybridized graph and the dtype of every parameter and
  gradient.
Used by tests/test_precision.py.
"""
import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402
from alexbench.harness.settings import resolve_settings  # noqa: E402

VARIANT = "alexnet-lrn-32"


def batch():
    rng = np.random.default_rng(0)
    return rng.random((4, 32, 32, 1), dtype=np.float32), rng.integers(0, 10, 4).astype(np.int64)


def pytorch_facts(trainer):
    import torch
    seen = {}
    conv1 = trainer.model.conv1

    def record(module, inputs, output):  # returns None: the output stays as it is
        seen.setdefault("conv1", str(output.dtype))

    hook = conv1.register_forward_hook(record)
    loss, _ = trainer.train_batch(*batch())
    hook.remove()
    return {"conv1_output": seen["conv1"].removeprefix("torch."), "loss": loss,
            "param_dtypes": sorted({str(p.dtype).removeprefix("torch.") for p in trainer.model.parameters()}),
            "grad_dtypes": sorted({str(p.grad.dtype).removeprefix("torch.")
                                   for p in trainer.model.parameters() if p.grad is not None}),
            "autocast_cpu_dtype": str(torch.get_autocast_dtype("cpu")).removeprefix("torch.")}


def keras_facts(trainer):
    loss, _ = trainer.train_batch(*batch())
    layers = {layer.name: layer.dtype_policy.compute_dtype for layer in trainer.model.layers}
    return {"loss": loss, "compute_dtypes": layers,
            "variable_dtypes": sorted({v.dtype for v in trainer.model.weights})}


def gluon_facts(trainer):
    import mxnet as mx
    loss, _ = trainer.train_batch(*batch())
    graph = json.loads(trainer.model._cached_graph[1].tojson(remove_amp_cast=False))
    casts = [n["attrs"]["dtype"] for n in graph["nodes"] if n["op"] == "amp_cast"]
    params = trainer.model.collect_params().values()
    return {"loss": loss, "amp_casts": casts,
            "param_dtypes": sorted({np.dtype(p.dtype).name for p in params}),
            "grad_dtypes": sorted({np.dtype(p.grad().dtype).name for p in params
                                   if p.grad_req != "null"}),
            "mxnet": mx.__version__}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("framework", choices=["keras", "gluon", "pytorch"])
    parser.add_argument("--precision", default="bf16")
    args = parser.parse_args()
    backend = runtime.start_backend(args.framework, 1, True)
    device = backend.select_device("cpu")
    settings = resolve_settings({"epochs": 1, "batch_size": 4, "validation": "test",
                                 "optimizer": {"name": "sgd", "learning_rate": 0.01},
                                 "precision": args.precision})
    trainer = backend.Trainer(VARIANT, 10, settings, device)
    facts = {"pytorch": pytorch_facts, "keras": keras_facts, "gluon": gluon_facts}[args.framework]
    print(json.dumps(facts(trainer)))


if __name__ == "__main__":
    main()
