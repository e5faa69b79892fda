"""Keras 3 models of the six alexbench variants, built from common/layer_specs.py.

One generic builder walks the framework-neutral layer list, so every variant has exactly one
definition shared with fw_gluon/models.py and fw_pytorch/models.py (the files diff line by line).
Each model applies its variant's initialisation (layer_specs.Init) and ends in a linear layer:
logits, with softmax cross-entropy left to the trainer. The model's `description` names its seed
and the bugs of the original that are fixed (layer_specs.describe).

Layout: NHWC input of shape (N, H, W, C), the shared batches as they come.
Not for: training, losses or optimisers (loop.py).

Memory: kernels are drawn by `SeededDraw` (float32, in row blocks, from a seeded numpy generator,
into one 64-byte aligned array that TensorFlow adopts through DLPack without a copy) instead of
keras.initializers.RandomUniform/RandomNormal, whose TensorFlow graph holds the whole kernel
about three times: for S1's 3.5 GB fc1 kernel that was a 10.6 GB build peak, now ~3.9 GB.
`model.initial_draws` maps each kernel's variable path to its SeededDraw, so the trainer can tell
(and restore) a kernel that still holds its initial values without copying it.
"""
import contextlib
import random

import keras
import numpy as np
import tensorflow as tf

from alexbench.common import layer_specs
from alexbench.common.layer_specs import LRN, Conv, Dense, Dropout, Flatten, Pad, Pool
from alexbench.fw_keras.lrn import LocalResponseNorm

MODEL_NAMES = layer_specs.MODEL_NAMES
TF_ALIGN_BYTES = 64  # Eigen's largest alignment (AVX-512); TensorFlow checks it on every tensor


def build_model(variant: str, num_classes: int, device=None, lrn=None) -> keras.Model:
    """The variant's network with `num_classes` logits, initialised, on `device`.

    device: a TensorFlow device string such as "/gpu:0"; None leaves placement to TensorFlow;
    "meta" creates the variables without values (a deferred-initialisation scope), for counting
    parameters without memory: such a model cannot run.
    lrn: a layer_specs.LRNParams replacing every LRN layer's settings (Caffe's for the
    published weights), or None for the variant's own.
    """
    resolved = layer_specs.resolve(variant, num_classes, lrn)
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
    model.initial_draws = {layer.kernel.path: layer.kernel_initializer for layer in model.layers
                           if isinstance(getattr(layer, "kernel_initializer", None), SeededDraw)}
    return model


def adopt_numpy(array: np.ndarray) -> tf.Tensor:
    """A CPU tensor sharing `array`'s memory (DLPack, no copy); `array` must be 64-byte aligned.

    A tf.Variable created or assigned from it takes the buffer over without copying (converting a
    numpy array the usual way copied a 3.5 GB kernel twice). Do not use `array` afterwards.
    """
    if array.ctypes.data % TF_ALIGN_BYTES:
        raise ValueError(f"adopt_numpy needs {TF_ALIGN_BYTES}-byte aligned memory "
                         "(TensorFlow aborts on unaligned tensors); use aligned_empty()")
    return tf.experimental.dlpack.from_dlpack(np.ascontiguousarray(array).__dlpack__())


def aligned_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a TF_ALIGN_BYTES boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + TF_ALIGN_BYTES, np.uint8)
    offset = (-raw.ctypes.data) % TF_ALIGN_BYTES
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def count_parameters(model) -> int:
    """Number of trainable parameters (weights + biases) held by the model's layers."""
    return layer_specs.count_shapes(v.shape for v in model.trainable_weights)


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


class SeededDraw(keras.initializers.Initializer):
    """float32 weights from U(-scale, scale) ("uniform") or N(0, scale^2) ("normal"), drawn in
    row blocks of about BLOCK_ELEMENTS from numpy's PCG64 generator seeded with `seed`.

    The same distributions as keras.initializers.RandomUniform(-scale, scale) (u * 2*scale - scale
    with u uniform in [0, 1) at float32 resolution, as TensorFlow computes it) and RandomNormal(0,
    scale), without full-size temporaries. Seeded as Keras seeds its own initialisers: a seed
    drawn from Python's `random` at construction (keras.utils.set_random_seed seeds it), so one
    seed builds the same weights. numpy's generator draws one stream, so the values do not depend
    on the block size: blocks() and __call__ give the same array.
    """

    BLOCK_ELEMENTS = 1 << 22  # 16 MiB of float32 per block

    def __init__(self, dist: str, scale: float, seed=None):
        if dist not in ("uniform", "normal"):
            raise ValueError(f"unknown weight distribution {dist!r}")
        self.dist, self.scale = dist, float(scale)
        self.seed = random.randint(1, 10**9) if seed is None else int(seed)

    def blocks(self, shape, block_elements=None):
        """Yield (first row, block) over axis 0 of `shape`; the blocks concatenate to __call__'s."""
        shape = tuple(int(d) for d in shape)
        row = int(np.prod(shape[1:], dtype=np.int64))
        rows = max(1, (block_elements or self.BLOCK_ELEMENTS) // max(row, 1))
        rng = np.random.Generator(np.random.PCG64(self.seed))
        for start in range(0, shape[0], rows):
            block = np.empty((min(rows, shape[0] - start),) + shape[1:], np.float32)
            if self.dist == "uniform":
                rng.random(dtype=np.float32, out=block)
                block *= np.float32(2.0 * self.scale)  # in place: no float64 or extra copies
                block -= np.float32(self.scale)
            else:
                rng.standard_normal(dtype=np.float32, out=block)
                block *= np.float32(self.scale)
            yield start, block

    def draw(self, shape) -> np.ndarray:
        """The whole draw as one 64-byte aligned float32 array (see adopt_numpy)."""
        out = aligned_empty(tuple(int(d) for d in shape), np.float32)
        for start, block in self.blocks(out.shape):
            out[start:start + len(block)] = block
        return out

    def __call__(self, shape, dtype=None):
        """The draw as a tensor that the new variable adopts without a copy."""
        if dtype is not None and keras.backend.standardize_dtype(dtype) != "float32":
            raise ValueError(f"SeededDraw draws float32 weights, not {dtype}")
        return adopt_numpy(self.draw(shape))

    def get_config(self):
        return {"dist": self.dist, "scale": self.scale, "seed": self.seed}


def _initialisers(init) -> dict:
    """The spec's weight distribution (SeededDraw) and constant bias as Keras initialisers."""
    return {"kernel_initializer": SeededDraw(init.weight_dist, init.weight_scale),
            "bias_initializer": keras.initializers.Constant(init.bias)}
