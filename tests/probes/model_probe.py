"""Probe one framework's models in its own venv; prints one JSON document (last stdout line).

    python tests/probes/model_probe.py {keras|gluon|pytorch} --lrn-input x.npy [--big]

For every variant (one process, because importing a framework is slow):
- parameter count of the real layer objects, built without memory (device="meta");
- weight shapes of every Conv/Dense in a canonical layout (kernel kh, kw, in/groups, out;
  dense in, out), with the statistics of the initial weights and biases;
- a forward pass on a batch of 2 (NHWC zeros + noise, transposed for NCHW frameworks): its
  shape and whether it is finite. alexnet-cifar-256 (~901 M parameters, 3.6 GB of weights) is
  only built and run for real with --big.
Also the framework's LocalResponseNorm layer applied to the NHWC array in --lrn-input with the
parameter sets in LRN_PARAMS. Used by tests/test_models.py; not a benchmark.
"""
import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.common import layer_specs  # noqa: E402

LRN_PARAMS = [(2, 1.0, 2e-5, 0.75), (2, 2.0, 1e-4, 0.75), (1, 0.5, 0.3, 0.6), (3, 1.5, 0.05, 1.0)]
BIG = {"alexnet-cifar-256"}


class Keras:
    def __init__(self):
        import keras
        self.keras = keras

    def forward(self, model, x_nhwc):
        return np.asarray(model(x_nhwc, training=False))

    def weights(self, model):
        """[(layer name, kernel, bias)] of Conv/Dense layers, kernels canonical (already NHWC-style)."""
        out = []
        for layer in model.layers:
            if isinstance(layer, (self.keras.layers.Conv2D, self.keras.layers.Dense)):
                out.append((layer.name, np.asarray(layer.kernel), np.asarray(layer.bias)))
        return out

    def shapes(self, model):
        return [(layer.name, tuple(layer.kernel.shape)) for layer in model.layers
                if isinstance(layer, (self.keras.layers.Conv2D, self.keras.layers.Dense))]

    def lrn(self, x_nhwc, params):
        from alexbench.fw_keras.lrn import LocalResponseNorm
        return np.asarray(LocalResponseNorm(*params)(x_nhwc))


class Gluon:
    def __init__(self):
        import mxnet as mx
        from mxnet.gluon import nn
        self.mx, self.nn = mx, nn

    def forward(self, model, x_nhwc):
        return model(self.mx.nd.array(x_nhwc.transpose(0, 3, 1, 2))).asnumpy()

    def _layers(self, model):
        return [b for b in model if isinstance(b, (self.nn.Conv2D, self.nn.Dense))]

    def weights(self, model):
        return [(b.name, _canonical(b.weight.data().asnumpy()), b.bias.data().asnumpy())
                for b in self._layers(model)]

    def shapes(self, model):
        return [(b.name, _canonical_shape(b.weight.shape)) for b in self._layers(model)]

    def lrn(self, x_nhwc, params):
        from alexbench.fw_gluon.lrn import LocalResponseNorm
        y = LocalResponseNorm(*params)(self.mx.nd.array(x_nhwc.transpose(0, 3, 1, 2)))
        return y.asnumpy().transpose(0, 2, 3, 1)


class PyTorch:
    def __init__(self):
        import torch
        self.torch = torch

    def forward(self, model, x_nhwc):
        model.eval()
        with self.torch.no_grad():
            return model(self.torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())).numpy()

    def _layers(self, model):
        return [(n, m) for n, m in model.named_children()
                if isinstance(m, (self.torch.nn.Conv2d, self.torch.nn.Linear))]

    def weights(self, model):
        return [(n, _canonical(m.weight.detach().numpy()), m.bias.detach().numpy())
                for n, m in self._layers(model)]

    def shapes(self, model):
        return [(n, _canonical_shape(m.weight.shape)) for n, m in self._layers(model)]

    def lrn(self, x_nhwc, params):
        from alexbench.fw_pytorch.lrn import LocalResponseNorm
        x = self.torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())
        return LocalResponseNorm(*params)(x).numpy().transpose(0, 2, 3, 1)


def _canonical_shape(shape):
    """torch/MXNet (out, in, kh, kw) -> (kh, kw, in, out); (out, in) -> (in, out)."""
    shape = tuple(int(d) for d in shape)
    return shape[2:] + (shape[1], shape[0]) if len(shape) == 4 else (shape[1], shape[0])


def _canonical(w):
    return w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("framework", choices=["keras", "gluon", "pytorch"])
    ap.add_argument("--lrn-input", required=True, help=".npy float32 NHWC array")
    ap.add_argument("--big", action="store_true", help="also build and run alexnet-cifar-256")
    ap.add_argument("--num-classes", type=int, default=10)
    args = ap.parse_args()

    t0 = time.perf_counter()
    fw = {"keras": Keras, "gluon": Gluon, "pytorch": PyTorch}[args.framework]()
    models = importlib.import_module(f"alexbench.fw_{args.framework}.models")
    result = {"framework": args.framework, "import_s": time.perf_counter() - t0, "variants": {}}
    rng = np.random.default_rng(0)
    for variant in layer_specs.MODEL_NAMES:
        t = time.perf_counter()
        meta = models.build_model(variant, args.num_classes, device="meta")
        info = {"parameters": models.count_parameters(meta),
                "weight_shapes": [[n, list(s)] for n, s in fw.shapes(meta)]}
        del meta
        if variant not in BIG or args.big:
            model = models.build_model(variant, args.num_classes)
            info["parameters_built"] = models.count_parameters(model)
            info["description"] = model.description
            info["init"] = [{"name": n, "shape": list(w.shape), "w_mean": float(w.mean()),
                             "w_std": float(w.std()), "w_absmax": float(np.abs(w).max()),
                             "b_min": float(b.min()), "b_max": float(b.max())}
                            for n, w, b in fw.weights(model)]
            x = rng.random((2,) + layer_specs.input_shape(variant), dtype=np.float32)
            y = fw.forward(model, x)
            info["output_shape"] = list(y.shape)
            info["output_finite"] = bool(np.isfinite(y).all())
            info["output_distinct"] = bool(np.ptp(y) > 0)
            del model
        info["seconds"] = time.perf_counter() - t
        result["variants"][variant] = info
    x = np.load(args.lrn_input)
    result["lrn"] = [{"params": list(p), "output": fw.lrn(x, p).tolist()} for p in LRN_PARAMS]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
