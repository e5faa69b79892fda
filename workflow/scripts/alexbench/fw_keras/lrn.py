"""Local response normalisation for Keras 3 (TensorFlow backend), TensorFlow's convention.

out = x / (bias + alpha * sum_{c-r..c+r} x^2) ** beta over channels (last axis, NHWC);
the same numbers as fw_gluon/lrn.py and fw_pytorch/lrn.py (tests/test_models.py checks it).
Not for: other normalisations or layouts.
"""
import keras
import tensorflow as tf


def local_response_norm(x, depth_radius: int, bias: float, alpha: float, beta: float):
    """LRN of an NHWC tensor; TensorFlow's own op, which defines the convention."""
    return tf.nn.local_response_normalization(x, depth_radius=depth_radius, bias=bias,
                                              alpha=alpha, beta=beta)


@keras.saving.register_keras_serializable(package="alexbench")
class LocalResponseNorm(keras.layers.Layer):
    """LRN layer (no weights) over the channel axis of NHWC input.

    Always computes in float32: TensorFlow's LRN op has no bfloat16 CPU kernel, so under a
    mixed_bfloat16 policy (fw_keras/precision.py) the input is cast up to float32 here and the
    next layer casts the output back down. Under float32 nothing changes.
    """

    def __init__(self, depth_radius: int, bias: float, alpha: float, beta: float, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, x):
        return local_response_norm(x, self.depth_radius, self.bias, self.alpha, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
