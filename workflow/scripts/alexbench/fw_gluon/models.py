"""MXNet Gluon models of the six alexbench variants, built from common/layer_specs.py.

One generic builder walks the framework-neutral layer list, so every variant has exactly one
definition shared with fw_keras/models.py and fw_pytorch/models.py (the files diff line by line).
Each model applies its variant's initialisation (layer_specs.Init) and ends in a linear layer:
logits, with softmax cross-entropy left to the trainer. The model's `description` names its seed
and the bugs of the original that are fixed (layer_specs.describe).

Layout: NCHW input of shape (N, C, H, W); the trainer transposes the shared NHWC batches.
Every layer gets explicit in_channels/in_units, so nothing is deferred: the returned block is
initialised. Not hybridized; the trainer decides.
Not for: training, losses or optimisers (loop.py).
"""
import mxnet as mx
from mxnet import gluon
from mxnet.gluon import nn

from alexbench.common import layer_specs
from alexbench.common.layer_specs import LRN, Conv, Dense, Dropout, Flatten, Pad, Pool
from alexbench.fw_gluon.lrn import LocalResponseNorm

MODEL_NAMES = layer_specs.MODEL_NAMES


def build_model(variant: str, num_classes: int, device=None, lrn=None) -> gluon.HybridBlock:
    """The variant's network with `num_classes` logits, initialised, on `device` (an mx.Context).

    device: None means mx.cpu(); "meta" leaves the parameters uninitialised (shapes only), for
    counting parameters without memory: such a model cannot run.
    lrn: a layer_specs.LRNParams replacing every LRN layer's settings (Caffe's for the
    published weights), or None for the variant's own.
    """
    resolved = layer_specs.resolve(variant, num_classes, lrn)
    model = nn.HybridSequential(prefix=f"{variant.replace('-', '_')}_")
    with model.name_scope():
        for r in resolved:
            for layer in _make_layers(r):
                model.add(layer)
    if device != "meta":
        # Every parameter carries its own initialiser (_initialisers), which takes precedence.
        model.initialize(ctx=device or mx.cpu())
    model.variant, model.num_classes = variant, num_classes
    model.description = layer_specs.describe(variant)
    return model


def count_parameters(model) -> int:
    """Number of trainable parameters (weights + biases) held by the model's layers."""
    return layer_specs.count_shapes(p.shape for p in model.collect_params().values()
                                    if p.grad_req != "null")


def _make_layers(r):
    """[block] for one resolved layer spec, ReLU included where the spec says."""
    spec = r.layer
    if isinstance(spec, Pad):
        return [ZeroPad2D(spec.pad, prefix=f"{spec.name}_")]
    if isinstance(spec, Conv):
        return [nn.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding=spec.pad,
                          groups=spec.groups, in_channels=r.in_channels,
                          activation="relu" if spec.relu else None,
                          prefix=f"{spec.name}_", **_initialisers(r.init))]
    if isinstance(spec, Pool):
        return [nn.MaxPool2D(spec.size, spec.stride, prefix=f"{spec.name}_")]
    if isinstance(spec, LRN):
        return [LocalResponseNorm(spec.depth_radius, spec.bias, spec.alpha, spec.beta,
                                  prefix=f"{spec.name}_")]
    if isinstance(spec, Flatten):
        return [nn.Flatten(prefix=f"{spec.name}_")]
    if isinstance(spec, Dense):
        return [nn.Dense(r.units, activation="relu" if spec.relu else None, in_units=r.in_units,
                         prefix=f"{spec.name}_", **_initialisers(r.init))]
    if isinstance(spec, Dropout):
        return [nn.Dropout(spec.rate, prefix=f"{spec.name}_")]
    raise TypeError(f"no Gluon layer for {spec!r}")


def _initialisers(init) -> dict:
    """The spec's weight distribution and constant bias as MXNet initialisers."""
    if init.weight_dist == "uniform":
        weights = mx.init.Uniform(init.weight_scale)  # U(-scale, scale)
    elif init.weight_dist == "normal":
        weights = mx.init.Normal(init.weight_scale)
    else:
        raise ValueError(f"unknown weight distribution {init.weight_dist!r}")
    return {"weight_initializer": weights, "bias_initializer": mx.init.Constant(init.bias)}


class ZeroPad2D(gluon.HybridBlock):
    """Zero padding of `pad` pixels on every side of NCHW input (Gluon has no such layer)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def hybrid_forward(self, F, x):
        p = self.pad
        return F.pad(x, mode="constant", constant_value=0, pad_width=(0, 0, 0, 0, p, p, p, p))

    def __repr__(self):
        return f"{type(self).__name__}(pad={self.pad})"
