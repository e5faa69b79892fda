"""The published BVLC AlexNet weights in Keras's alexnet-2012 model (1000 classes, Caffe's LRN).

Layout conversions from the framework-neutral .npz (pretrained/convert.py), each checked by
tests/test_pretrained.py against an independent numpy forward pass of the Caffe net:
- convolutions: Keras's Conv2D kernel is (kh, kw, in/groups, out); with groups=2 TensorFlow
  splits `out` into the groups in order, as Caffe does: Caffe's (out, in/groups, kh, kw)
  transposed by (2, 3, 1, 0). Both are cross-correlations.
- fc1 (Caffe's fc6): Flatten of NHWC orders the 6x6x256 features (row, column, channel), Caffe
  (channel, row, column); the kernel's rows are reordered accordingly and the (out, in) weight
  transposed to Keras's (in, out). fc2/fc3: transposed only.
- input: the BGR, mean-subtracted NHWC batch of pretrained/caffe_input.py as it comes.
The public names match fw_gluon/pretrained.py and fw_pytorch/pretrained.py.
"""
import keras
import numpy as np
import tensorflow as tf

from alexbench.common import layer_specs
from alexbench.fw_keras.models import build_model, count_parameters

MODEL, NUM_CLASSES = "alexnet-2012", 1000


def flatten_input_shape() -> tuple:
    """(H, W, C) of the feature map the Flatten layer receives, from layer_specs."""
    for r in layer_specs.resolve(MODEL, NUM_CLASSES):
        if isinstance(r.layer, layer_specs.Flatten):
            return r.input_shape
    raise ValueError(f"{MODEL} has no Flatten layer")


def keras_kernel(name: str, weights: np.ndarray, first_dense: bool) -> np.ndarray:
    """Caffe's weights in Keras's kernel layout (see the module docstring)."""
    if weights.ndim == 4:                       # (out, in/groups, kh, kw) -> (kh, kw, in/groups, out)
        return np.ascontiguousarray(weights.transpose(2, 3, 1, 0))
    if first_dense:                             # rows (c, h, w) -> (h, w, c), then (in, out)
        h, w, c = flatten_input_shape()
        out = weights.shape[0]
        return np.ascontiguousarray(
            weights.reshape(out, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, out))
    return np.ascontiguousarray(weights.T)


def build_pretrained_model(layers: dict, device):
    """alexnet-2012 with Caffe's LRN, weights from `layers` ({name: (weights, bias)})."""
    model = build_model(MODEL, NUM_CLASSES, device=device, lrn=layer_specs.CAFFE_ALEXNET_LRN)
    first_dense = True
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            continue
        weights, bias = layers[layer.name]
        kernel = keras_kernel(layer.name, weights, isinstance(layer, keras.layers.Dense) and first_dense)
        if isinstance(layer, keras.layers.Dense):
            first_dense = False
        if tuple(layer.kernel.shape) != kernel.shape:
            raise ValueError(f"{layer.name}: model kernel {tuple(layer.kernel.shape)} != {kernel.shape}")
        layer.set_weights([kernel, bias])
    # One traced graph for inference, as the trainer's evaluation step runs (not op by op).
    model.predict_logits = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return model


def parameter_count(model) -> int:
    return count_parameters(model)


def logits(model, x_nhwc: np.ndarray, device) -> np.ndarray:
    """float32 (N, 1000) logits of a float32 NHWC batch; training=False turns dropout off."""
    with tf.device(device):
        out = model.predict_logits(tf.constant(np.asarray(x_nhwc, dtype=np.float32)))
    return np.asarray(out, dtype=np.float32)


def peak_gpu_mb(device):
    if "GPU" not in device:
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20
