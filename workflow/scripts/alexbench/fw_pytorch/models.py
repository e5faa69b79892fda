"""PyTorch models of the six alexbench variants, built from common/layer_specs.py.

One generic builder walks the framework-neutral layer list, so every variant has exactly one
definition shared with fw_keras/models.py and fw_gluon/models.py (the files diff line by line).
Each model applies its variant's initialisation (layer_specs.Init) and ends in a linear layer:
logits, with softmax cross-entropy left to the trainer. The model's `description` names its seed
and the bugs of the original that are fixed (layer_specs.describe).

Layout: NCHW input of shape (N, C, H, W); the trainer transposes the shared NHWC batches.
Not for: training, losses or optimisers (loop.py).
"""
from collections import OrderedDict

import torch
from torch import nn

from alexbench.common import layer_specs
from alexbench.common.layer_specs import LRN, Conv, Dense, Dropout, Flatten, Pad, Pool
from alexbench.fw_pytorch.lrn import LocalResponseNorm

MODEL_NAMES = layer_specs.MODEL_NAMES


def build_model(variant: str, num_classes: int, device=None, lrn=None) -> nn.Module:
    """The variant's network with `num_classes` logits, initialised, on `device` (default CPU).

    device="meta" builds the layers without allocating memory (for counting parameters).
    lrn: a layer_specs.LRNParams replacing every LRN layer's settings (Caffe's for the
    published weights), or None for the variant's own.
    """
    resolved = layer_specs.resolve(variant, num_classes, lrn)
    with torch.device(device or "cpu"):
        layers = OrderedDict()
        for r in resolved:
            for name, layer in _make_layers(r):
                layers[name] = layer
        model = nn.Sequential(layers)
    model.variant, model.num_classes = variant, num_classes
    model.description = layer_specs.describe(variant)
    return model


def count_parameters(model) -> int:
    """Number of trainable parameters (weights + biases) held by the model's layers."""
    return layer_specs.count_shapes(p.shape for p in model.parameters() if p.requires_grad)


def _make_layers(r):
    """[(name, module)] for one resolved layer spec, ReLU included where the spec says."""
    spec = r.layer
    if isinstance(spec, Pad):
        return [(spec.name, nn.ZeroPad2d(spec.pad))]
    if isinstance(spec, Conv):
        conv = nn.Conv2d(r.in_channels, spec.filters, spec.kernel, stride=spec.stride,
                         padding=spec.pad, groups=spec.groups)
        _initialise(conv, r.init)
        return [(spec.name, conv)] + ([(f"{spec.name}_relu", nn.ReLU())] if spec.relu else [])
    if isinstance(spec, Pool):
        return [(spec.name, nn.MaxPool2d(spec.size, spec.stride))]
    if isinstance(spec, LRN):
        return [(spec.name, LocalResponseNorm(spec.depth_radius, spec.bias, spec.alpha, spec.beta))]
    if isinstance(spec, Flatten):
        return [(spec.name, nn.Flatten())]
    if isinstance(spec, Dense):
        dense = nn.Linear(r.in_units, r.units)
        _initialise(dense, r.init)
        return [(spec.name, dense)] + ([(f"{spec.name}_relu", nn.ReLU())] if spec.relu else [])
    if isinstance(spec, Dropout):
        return [(spec.name, nn.Dropout(spec.rate))]
    raise TypeError(f"no PyTorch layer for {spec!r}")


def _initialise(layer, init) -> None:
    """Apply the spec's weight distribution and constant bias (torch's defaults differ)."""
    with torch.no_grad():
        if init.weight_dist == "uniform":
            nn.init.uniform_(layer.weight, -init.weight_scale, init.weight_scale)
        elif init.weight_dist == "normal":
            nn.init.normal_(layer.weight, 0.0, init.weight_scale)
        else:
            raise ValueError(f"unknown weight distribution {init.weight_dist!r}")
        nn.init.constant_(layer.bias, init.bias)
