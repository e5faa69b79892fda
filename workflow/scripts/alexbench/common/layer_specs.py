"""Framework-neutral description of the six AlexNet variants (docs/seeds.md notation).

This module is the one definition of every model: each framework's `models.py` walks the
resolved layer list below to build its network, and the tests hold each framework's parameter
count and output shape to the pure-Python arithmetic here. It also fixes the weight
initialisation as explicit distributions per layer, so all three frameworks draw from the same
distributions.

Not for: building framework objects (see fw_*/models.py) or preparing inputs (preprocess.py).
Standard library only: every env imports it.

Conventions:
- Shapes are channels-last, (H, W, C), after preprocessing; a flat vector is (units,).
- `Conv.pad` is explicit symmetric zero padding; "pad same" of the originals is resolved to
  kernel // 2 (all such convolutions have odd kernels and stride 1).
- `LRN` uses TensorFlow's convention: out = x / (bias + alpha * sum_{c-r..c+r} x^2) ** beta.
- Pooling is max pooling with no padding and floor rounding (the default of all three).
- Every Conv and Dense is followed by ReLU except the last Dense, which yields logits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Union

CLASSES = None  # marks the output layer's width: filled in with num_classes when resolving


@dataclass(frozen=True)
class Pad:
    """Zero padding of `pad` pixels on every side (Keras ZeroPadding2D)."""
    name: str
    pad: int


@dataclass(frozen=True)
class Conv:
    name: str
    filters: int
    kernel: int
    stride: int = 1
    pad: int = 0
    groups: int = 1
    relu: bool = True


@dataclass(frozen=True)
class Pool:
    """Max pooling, no padding, floor rounding."""
    name: str
    size: int
    stride: int


@dataclass(frozen=True)
class LRN:
    """Local response normalisation across channels, TensorFlow's convention."""
    name: str
    depth_radius: int
    bias: float
    alpha: float
    beta: float


@dataclass(frozen=True)
class LRNParams:
    """Settings that replace every LRN layer's own when a variant is resolved (see resolve)."""
    depth_radius: int
    bias: float
    alpha: float
    beta: float


# Caffe's LRN (models/bvlc_alexnet: local_size 5, alpha 1e-4, beta 0.75, k 1) divides alpha by
# local_size: x / (k + alpha/n * sum x^2) ** beta. In TensorFlow's convention that is radius 2,
# bias 1, alpha 1e-4 / 5. The published BVLC weights were trained with it, not the paper's k=2.
CAFFE_ALEXNET_LRN = LRNParams(depth_radius=2, bias=1.0, alpha=1e-4 / 5, beta=0.75)


@dataclass(frozen=True)
class Flatten:
    name: str


@dataclass(frozen=True)
class Dense:
    name: str
    units: Optional[int]  # CLASSES (None) for the output layer
    relu: bool = True


@dataclass(frozen=True)
class Dropout:
    name: str
    rate: float


Layer = Union[Pad, Conv, Pool, LRN, Flatten, Dense, Dropout]


@dataclass(frozen=True)
class Init:
    """How one weighted layer starts: weights from `weight_dist` with `weight_scale`, a constant bias.

    weight_dist "uniform": U(-weight_scale, +weight_scale); "normal": N(0, weight_scale**2).
    """
    weight_dist: str
    weight_scale: float
    bias: float


@dataclass(frozen=True)
class Variant:
    name: str
    seed: str                 # S0..S4 or D, as in docs/seeds.md
    summary: str
    input_shape: tuple        # (H, W, C) after preprocessing
    layers: tuple
    init_scheme: str          # key of INIT_SCHEMES
    fixes: tuple = ()         # bugs of the original fixed here (some are the trainer's part)
    notes: tuple = ()         # faithful-but-surprising choices worth knowing


@dataclass(frozen=True)
class ResolvedLayer:
    """One layer with everything a framework builder needs: shapes, channel counts, init."""
    layer: Layer
    input_shape: tuple
    output_shape: tuple
    parameters: int
    in_channels: Optional[int] = None   # Conv
    in_units: Optional[int] = None      # Dense
    units: Optional[int] = None         # Dense, with CLASSES resolved
    init: Optional[Init] = None         # Conv and Dense


# --- the six variants ------------------------------------------------------------------

_FC_HEAD = (Flatten("flatten"), Dense("fc1", 4096), Dropout("drop1", 0.5),
            Dense("fc2", 4096), Dropout("drop2", 0.5), Dense("fc3", CLASSES, relu=False))

VARIANTS = {
    v.name: v for v in (
        Variant(
            name="alexnet-mnist", seed="S0",
            summary="Keras AlexNet-style network for 28x28 MNIST with explicit zero-padding layers",
            input_shape=(28, 28, 1), init_scheme="glorot_uniform",
            layers=(
                Pad("pad1", 1), Conv("conv1", 32, 3), Pool("pool1", 2, 2),
                Pad("pad2", 2), Conv("conv2", 64, 5), Pool("pool2", 2, 2),
                Pad("pad3", 1), Conv("conv3", 128, 3),
                Pad("pad4", 1), Conv("conv4", 256, 3),
                Pad("pad5", 1), Conv("conv5", 256, 3), Pool("pool3", 3, 2),
                Flatten("flatten"), Dense("fc1", 1024), Dropout("drop1", 0.5),
                Dense("fc2", 512), Dropout("drop2", 0.5), Dense("fc3", CLASSES, relu=False)),
            notes=("Keras defaults: Glorot-uniform weights, zero biases.",)),
        Variant(
            name="alexnet-cifar-256", seed="S1",
            summary="Keras network for CIFAR-10 standardised per image and resized to 256x256",
            input_shape=(256, 256, 3), init_scheme="glorot_uniform",
            layers=(
                Conv("conv1", 96, 11, stride=4), Pool("pool1", 3, 1),
                Conv("conv2", 256, 5, pad=2), Pool("pool2", 3, 1),
                Conv("conv3", 384, 3, pad=1), Conv("conv4", 256, 3, pad=1), Pool("pool3", 2, 2),
            ) + _FC_HEAD,
            fixes=("softmax cross-entropy instead of mean squared error on softmax outputs "
                   "(the trainer's loss)",
                   "evaluated on the real CIFAR-10 test batch, not a 'test set' built from "
                   "training labels (the data pipeline's part)"),
            notes=("Faithful but huge: flattens 29x29x256 into fc(4096); that layer alone holds about "
                   "882 M weights, about 901 M parameters in all.",
                   "Keras defaults: Glorot-uniform weights, zero biases.")),
        Variant(
            name="alexnet-lrn-32", seed="S2",
            summary="Keras network with LRN for MNIST zero-padded to 32x32",
            input_shape=(32, 32, 1), init_scheme="glorot_uniform",
            layers=(
                Conv("conv1", 32, 3), LRN("lrn1", 2, 1.0, 2e-5, 0.75), Pool("pool1", 2, 2),
                Conv("conv2", 64, 3, pad=1), LRN("lrn2", 2, 1.0, 2e-5, 0.75), Pool("pool2", 2, 2),
                Conv("conv3", 128, 3, pad=1), Conv("conv4", 128, 3, pad=1),
                Conv("conv5", 64, 3, pad=1),
                Flatten("flatten"), Dense("fc1", 84), Dropout("drop1", 0.5),
                Dense("fc2", 84), Dropout("drop2", 0.5), Dense("fc3", CLASSES, relu=False)),
            notes=("Keras defaults: Glorot-uniform weights, zero biases.",)),
        Variant(
            name="alexnet-224", seed="S3",
            summary="Gluon course network for CIFAR-10 resized to 224x224 (no padding, dropout or LRN)",
            input_shape=(224, 224, 3), init_scheme="xavier_2.24",
            layers=(
                Conv("conv1", 96, 11, stride=4), Pool("pool1", 3, 2),
                Conv("conv2", 256, 5), Pool("pool2", 3, 2),
                Conv("conv3", 384, 3), Conv("conv4", 384, 3), Conv("conv5", 256, 3),
                Flatten("flatten"), Dense("fc1", 4096), Dense("fc2", 4096),
                Dense("fc3", CLASSES, relu=False)),
            fixes=("no ReLU on the output layer (the original applied ReLU to the logits)",),
            notes=("MXNet Xavier(magnitude=2.24): uniform, limit sqrt(2.24 / ((fan_in + fan_out) / 2)).",)),
        Variant(
            name="alexnet-2012", seed="S4",
            summary="The 2012 ImageNet network with LRN and two-group convolutions, 227x227x3 input",
            input_shape=(227, 227, 3), init_scheme="alexnet2012",
            layers=(
                Conv("conv1", 96, 11, stride=4), LRN("lrn1", 2, 2.0, 1e-4, 0.75), Pool("pool1", 3, 2),
                Conv("conv2", 256, 5, pad=2, groups=2), LRN("lrn2", 2, 2.0, 1e-4, 0.75),
                Pool("pool2", 3, 2),
                Conv("conv3", 384, 3, pad=1), Conv("conv4", 384, 3, pad=1, groups=2),
                Conv("conv5", 256, 3, pad=1, groups=2), Pool("pool3", 3, 2),
            ) + _FC_HEAD,
            notes=("LRN as in the paper (n=5, k=2, alpha=1e-4, beta=0.75): the paper does not "
                   "divide alpha by n, so TensorFlow's lrn(2, 2.0, 1e-4, 0.75).",
                   "Weights N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden fc layers "
                   "(fc1, fc2) as the paper says, 0 elsewhere (a constant output bias would not "
                   "change the softmax anyway).",
                   "Grouped convolutions are real grouped convolutions (groups=2).")),
        Variant(
            name="alexnet-d2l", seed="D",
            summary="d2l.ai's AlexNet for Fashion-MNIST upsampled to 224x224 (the cross-framework reference)",
            input_shape=(224, 224, 1), init_scheme="glorot_uniform",
            layers=(
                Conv("conv1", 96, 11, stride=4, pad=1), Pool("pool1", 3, 2),
                Conv("conv2", 256, 5, pad=2), Pool("pool2", 3, 2),
                Conv("conv3", 384, 3, pad=1), Conv("conv4", 384, 3, pad=1),
                Conv("conv5", 256, 3, pad=1), Pool("pool3", 3, 2),
            ) + _FC_HEAD,
            notes=("Xavier/Glorot-uniform weights, zero biases; 46,764,746 parameters at 10 classes.",)),
    )
}

MODEL_NAMES = tuple(VARIANTS)


def get_variant(variant: str) -> Variant:
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown model variant {variant!r}; known: {', '.join(MODEL_NAMES)}") from None


def describe(variant: str) -> str:
    """One paragraph for docstrings, logs and reports: seed, summary, fixes, notes."""
    v = get_variant(variant)
    parts = [f"{v.name} (seed {v.seed}): {v.summary}."]
    parts += [f"Fix: {f}." for f in v.fixes]
    parts += list(v.notes)
    return " ".join(parts)


# --- initialisation --------------------------------------------------------------------

# Biases that the 2012 paper sets to 1 ("second, fourth and fifth convolutional layers, as well
# as the fully-connected hidden layers").
_ALEXNET2012_BIAS_ONE = frozenset({"conv2", "conv4", "conv5", "fc1", "fc2"})


def _fans(layer: Layer, in_channels: Optional[int], in_units: Optional[int], units: Optional[int]):
    """(fan_in, fan_out) as Keras glorot, MXNet Xavier and torch xavier_ all compute them."""
    if isinstance(layer, Conv):
        receptive = layer.kernel * layer.kernel
        return receptive * in_channels // layer.groups, receptive * layer.filters
    return in_units, units


def _init_for(scheme: str, layer: Layer, fan_in: int, fan_out: int) -> Init:
    if scheme == "glorot_uniform":       # Keras default = MXNet Xavier() = torch xavier_uniform_
        return Init("uniform", math.sqrt(6.0 / (fan_in + fan_out)), 0.0)
    if scheme == "xavier_2.24":          # MXNet Xavier(rnd_type="uniform", factor_type="avg", magnitude=2.24)
        return Init("uniform", math.sqrt(2.24 / ((fan_in + fan_out) / 2.0)), 0.0)
    if scheme == "alexnet2012":
        return Init("normal", 0.01, 1.0 if layer.name in _ALEXNET2012_BIAS_ONE else 0.0)
    raise ValueError(f"unknown initialisation scheme {scheme!r}")


INIT_SCHEMES = ("glorot_uniform", "xavier_2.24", "alexnet2012")


# --- shape arithmetic ------------------------------------------------------------------

def _spatial_out(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def resolve(variant: str, num_classes: int, lrn: Optional[LRNParams] = None) -> list:
    """Walk the variant's layers: every layer with its input/output shape, parameters and init.

    `lrn`, when given, replaces the settings of every LRN layer (the published Caffe weights
    need Caffe's, CAFFE_ALEXNET_LRN); shapes and parameters do not change.
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    v = get_variant(variant)
    shape = tuple(v.input_shape)
    resolved = []
    for layer in v.layers:
        if lrn is not None and isinstance(layer, LRN):
            layer = LRN(layer.name, lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta)
        params, extra = 0, {}
        if isinstance(layer, Pad):
            h, w, c = shape
            out = (h + 2 * layer.pad, w + 2 * layer.pad, c)
        elif isinstance(layer, Conv):
            h, w, c = shape
            if c % layer.groups or layer.filters % layer.groups:
                raise ValueError(f"{variant}/{layer.name}: channels {c}->{layer.filters} "
                                 f"not divisible by groups={layer.groups}")
            out = (_spatial_out(h, layer.kernel, layer.stride, layer.pad),
                   _spatial_out(w, layer.kernel, layer.stride, layer.pad), layer.filters)
            params = layer.kernel * layer.kernel * (c // layer.groups) * layer.filters + layer.filters
            fan_in, fan_out = _fans(layer, c, None, None)
            extra = dict(in_channels=c, init=_init_for(v.init_scheme, layer, fan_in, fan_out))
        elif isinstance(layer, Pool):
            h, w, c = shape
            out = (_spatial_out(h, layer.size, layer.stride), _spatial_out(w, layer.size, layer.stride), c)
        elif isinstance(layer, (LRN, Dropout)):
            out = shape
        elif isinstance(layer, Flatten):
            out = (math.prod(shape),)
        elif isinstance(layer, Dense):
            if len(shape) != 1:
                raise ValueError(f"{variant}/{layer.name}: Dense needs a flat input, got {shape}")
            units = num_classes if layer.units is CLASSES else layer.units
            out = (units,)
            params = shape[0] * units + units
            fan_in, fan_out = _fans(layer, None, shape[0], units)
            extra = dict(in_units=shape[0], units=units,
                         init=_init_for(v.init_scheme, layer, fan_in, fan_out))
        else:  # pragma: no cover - the tuple above holds only known layer types
            raise TypeError(f"{variant}: unknown layer {layer!r}")
        if any(d < 1 for d in out):
            raise ValueError(f"{variant}/{layer.name}: input {shape} gives empty output {out}")
        resolved.append(ResolvedLayer(layer, shape, out, params, **extra))
        shape = out
    last = resolved[-1].layer
    if not (isinstance(last, Dense) and not last.relu):
        raise ValueError(f"{variant}: the last layer must be a linear Dense (logits)")
    return resolved


def output_shapes(variant: str, num_classes: int) -> list:
    """[(layer name, output shape)] per layer, channels-last, batch dimension left out."""
    return [(r.layer.name, r.output_shape) for r in resolve(variant, num_classes)]


def count_parameters(variant: str, num_classes: int) -> int:
    """Trainable parameters (weights + biases) of the variant with `num_classes` outputs."""
    return sum(r.parameters for r in resolve(variant, num_classes))


def count_shapes(shapes) -> int:
    """Elements in tensors of these shapes: how every backend counts its model's parameters
    (from the framework's own list of trainable tensors), to hold it to count_parameters."""
    total = 0
    for shape in shapes:
        total += math.prod(int(d) for d in shape)
    return total


def input_shape(variant: str) -> tuple:
    """(H, W, C) of one preprocessed input image."""
    return tuple(get_variant(variant).input_shape)


def flatten_units(variant: str, num_classes: int = 10) -> int:
    """Width of the flattened feature vector that feeds the first fully connected layer."""
    for r in resolve(variant, num_classes):
        if isinstance(r.layer, Flatten):
            return r.output_shape[0]
    raise ValueError(f"{variant} has no Flatten layer")
