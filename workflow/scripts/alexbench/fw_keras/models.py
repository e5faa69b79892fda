"""Keras 3 models of the six alexbench variants, built from common/layer_specs.py.

One generic builder walks the framework-neutral layer list, so every variant has exactly one
definition shared with fw_gluon/models.py and fw_pytorch/models.py (the files diff line by line).
Each model applies its variant's initialisation (layer_specs.Init) and ends in a linear layer:
logits, with softmax cross-entropy left to the trainer. The model's `description` names its seed
and the bugs of the original that are fixed (layer_specs.describe).

Layout: NHWC input of shape (N, H, W, C), the shared batches as they come.
Not for: training, losses or optimisers (loop.py).
"""
import contextlib

import keras
import tensorflow as tf

from alexbench.common import layer_specs
from alexbench.common.layer_specs import LRN, Conv, Dense, Dropout, Flatten, Pad, Pool
from alexbench.fw_keras.lrn import LocalResponseNorm

MODEL_NAMES = layer_specs.MODEL_NAMES


def build_model(variant: str, num_classes: int, device=None) -> keras.Model:
    """The variant's network with `num_classes` logits, initialised, on `device`.

    device: a TensorFlow device string such as "/gpu:0"; None leaves placement to TensorFlow;
    "meta" creates the variables without values (a deferred-initialisation scope), for counting
    parameters without memory: such a model cannot run.
    """
    resolved = layer_specs.resolve(variant, num_classes)
    if device == "meta":
        scope = keras.StatelessScope(initialize_variables=False)
    else:
        scope = tf.device(device) if device else contextlib.nullcontext()
    with scope:
        inputs = x = keras.Input(shape=layer_specs.input_shape(variant), name="images")
        for r in resolved:
            for layer in _make_layers(r):
                x = layer(x)
        model = keras.Model(inputs, x, name=variant)
    model.variant, model.num_classes = variant, num_classes
    model.description = layer_specs.describe(variant)
    return model


def count_parameters(model) -> int:
    """Number of trainable parameters (weights + biases) held by the model's layers."""
    return sum(_numel(v.shape) for v in model.trainable_weights)


def _make_layers(r):
    """[layer] for one resolved layer spec, ReLU included where the spec says."""
    spec = r.layer
    if isinstance(spec, Pad):
        return [keras.layers.ZeroPadding2D(spec.pad, name=spec.name)]
    if isinstance(spec, Conv):
        pad, padding = [], "valid"
        if spec.pad and spec.stride == 1 and spec.pad == spec.kernel // 2 and spec.kernel % 2:
            padding = "same"  # identical to symmetric kernel // 2 padding here, without a copy
        elif spec.pad:
            pad = [keras.layers.ZeroPadding2D(spec.pad, name=f"{spec.name}_pad")]
        conv = keras.layers.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding=padding,
                                   groups=spec.groups, activation="relu" if spec.relu else None,
                                   name=spec.name, **_initialisers(r.init))
        return pad + [conv]
    if isinstance(spec, Pool):
        return [keras.layers.MaxPooling2D(spec.size, spec.stride, name=spec.name)]
    if isinstance(spec, LRN):
        return [LocalResponseNorm(spec.depth_radius, spec.bias, spec.alpha, spec.beta, name=spec.name)]
    if isinstance(spec, Flatten):
        return [keras.layers.Flatten(name=spec.name)]
    if isinstance(spec, Dense):
        return [keras.layers.Dense(r.units, activation="relu" if spec.relu else None,
                                   name=spec.name, **_initialisers(r.init))]
    if isinstance(spec, Dropout):
        return [keras.layers.Dropout(spec.rate, name=spec.name)]
    raise TypeError(f"no Keras layer for {spec!r}")


def _initialisers(init) -> dict:
    """The spec's weight distribution and constant bias as Keras initialisers."""
    if init.weight_dist == "uniform":
        weights = keras.initializers.RandomUniform(-init.weight_scale, init.weight_scale)
    elif init.weight_dist == "normal":
        weights = keras.initializers.RandomNormal(0.0, init.weight_scale)
    else:
        raise ValueError(f"unknown weight distribution {init.weight_dist!r}")
    return {"kernel_initializer": weights, "bias_initializer": keras.initializers.Constant(init.bias)}


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
