"""Probe for tests/test_backends.py: the update rule of one backend from shared initial weights.

Runs in a framework venv. Builds the backend's Trainer for a small variant, loads framework-
neutral initial weights from --weights (or, with --export, writes this framework's freshly
initialised weights there first), switches dropout off (its random masks cannot match across
frameworks), and for each optimizer given runs --steps optimiser steps on the batch in --batch,
recording the evaluation loss before and after every step. Prints one JSON line
{optimizer name: [loss before, after step 1, ...], "step_compiler": how the steps were compiled}
and, for PyTorch, "dynamo": the graphs TorchDynamo captured and the graph breaks it hit, by
the first line of their reason (none when the steps ran eagerly).

--xla (Keras only) compiles Keras's steps with XLA (`keras_jit_compile: true`), as a GPU run
does by default, so the update rule of that path is checked on a CPU too; --torch-compile
(PyTorch only) steps a torch.compile'd model (`torch_compile: true`).

Neutral layout (Keras's, channels-last): conv kernels (kh, kw, in/groups, out), dense kernels
(in, out) with the first dense layer's inputs in (H, W, C) flatten order; biases as they are.
PyTorch and Gluon hold conv weights as (out, in/groups, kh, kw), dense as (out, in), and flatten
(C, H, W): the conversion below is the whole difference.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.harness import runtime  # noqa: E402  (stdlib only)

VARIANT = "alexnet-lrn-32"
CLASSES = 10


def weighted_layers():
    """(name, kind, flatten input shape or None) of every conv/dense layer, in order."""
    from alexbench.common.layer_specs import Conv, Dense, Flatten, resolve
    layers, flat_shape = [], None
    for r in resolve(VARIANT, CLASSES):
        if isinstance(r.layer, Flatten):
            flat_shape = r.input_shape
        elif isinstance(r.layer, Conv):
            layers.append((r.layer.name, "conv", None))
        elif isinstance(r.layer, Dense):
            layers.append((r.layer.name, "dense", flat_shape))
            flat_shape = None
    return layers


def to_channels_first(kind, kernel, flat_shape):
    """Neutral kernel -> PyTorch/Gluon weight."""
    import numpy as np
    if kind == "conv":
        return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    if flat_shape is not None:   # rows in (H, W, C) order -> (C, H, W) order
        h, w, c = flat_shape
        kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
    return np.ascontiguousarray(kernel.T)


def keras_io(model):
    layers = {layer.name: layer for layer in model.layers}

    def get(name, kind, flat):
        return layers[name].kernel.numpy(), layers[name].bias.numpy()

    def put(name, kind, flat, kernel, bias):
        layers[name].kernel.assign(kernel)
        layers[name].bias.assign(bias)

    def no_dropout():
        import keras
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
    return get, put, no_dropout


def pytorch_io(model):
    import torch
    modules = dict(model.named_children())

    def put(name, kind, flat, kernel, bias):
        with torch.no_grad():
            modules[name].weight.copy_(torch.from_numpy(to_channels_first(kind, kernel, flat)))
            modules[name].bias.copy_(torch.from_numpy(bias))

    def no_dropout():
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    return None, put, no_dropout


def gluon_io(model):
    import mxnet as mx
    blocks = {b.name.split("_")[-1]: b for b in model._children.values()}

    def put(name, kind, flat, kernel, bias):
        blocks[name].weight.set_data(mx.nd.array(to_channels_first(kind, kernel, flat)))
        blocks[name].bias.set_data(mx.nd.array(bias))

    def no_dropout():
        # Before the first forward pass, so the hybridized graph is traced without dropout.
        for block in model._children.values():
            if isinstance(block, mx.gluon.nn.Dropout):
                block._rate = 0.0
    return None, put, no_dropout


IO = {"keras": keras_io, "pytorch": pytorch_io, "gluon": gluon_io}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True, choices=tuple(IO))
    parser.add_argument("--batch", required=True, type=Path, help="npz with x (NHWC) and y")
    parser.add_argument("--weights", required=True, type=Path, help="neutral-layout npz")
    parser.add_argument("--export", action="store_true", help="write this framework's weights first")
    parser.add_argument("--optimizers", required=True, help="JSON list of resolved optimizers")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="Keras: XLA-compiled steps")
    parser.add_argument("--torch-compile", action="store_true", help="PyTorch: torch_compile")
    args = parser.parse_args(argv)
    if args.xla and args.framework != "keras":
        parser.error("--xla is for Keras")
    if args.torch_compile and args.framework != "pytorch":
        parser.error("--torch-compile is for PyTorch")

    import numpy as np
    backend = runtime.start_backend(args.framework, 1)
    device = backend.select_device("cpu")
    # XLA has no deterministic kernels for some gradients (MaxPool's), which is why Keras keeps
    # XLA off under op determinism: the XLA steps run with it off, as a default GPU run does.
    runtime.seed_everything(backend, 0, deterministic=not args.xla)
    batch = np.load(args.batch)
    x, y = batch["x"], batch["y"]

    losses = {}
    for optimizer in json.loads(args.optimizers):
        trainer = backend.Trainer(VARIANT, CLASSES, {"optimizer": optimizer,
                                                     "keras_jit_compile": args.xla or "auto",
                                                     "torch_compile": args.torch_compile}, device)
        get, put, no_dropout = IO[args.framework](trainer.model)
        if args.export and not args.weights.exists():
            arrays = {}
            for name, kind, flat in weighted_layers():
                arrays[f"{name}/kernel"], arrays[f"{name}/bias"] = get(name, kind, flat)
            np.savez(args.weights, **arrays)
        weights = np.load(args.weights)
        for name, kind, flat in weighted_layers():
            put(name, kind, flat, weights[f"{name}/kernel"], weights[f"{name}/bias"])
        no_dropout()  # before the first step, so a compiled graph is traced without dropout
        curve = [trainer.evaluate_batch(x, y)[0]]
        for _ in range(args.steps):
            trainer.train_batch(x, y)
            curve.append(trainer.evaluate_batch(x, y)[0])
        losses[optimizer["name"]] = curve
    found = {**losses, "step_compiler": trainer.step_compiler}
    if args.framework == "pytorch":
        # TorchDynamo's own counters (what torch._dynamo's tests read): a Trainer that names
        # torch.compile but steps the eager module captures no graph.
        from torch._dynamo.utils import counters
        found["dynamo"] = {"graphs": counters["stats"]["unique_graphs"],
                           "graph_breaks": {reason.splitlines()[0]: count for reason, count
                                            in counters["graph_break"].items()}}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
