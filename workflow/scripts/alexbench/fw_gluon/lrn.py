"""Local response normalisation for MXNet Gluon, TensorFlow's convention.

out = x / (bias + alpha * sum_{c-r..c+r} x^2) ** beta over channels (axis 1, NCHW);
the same numbers as fw_keras/lrn.py and fw_pytorch/lrn.py (tests/test_models.py checks it).
MXNet's LRN divides alpha by the window width (out = x / (knorm + alpha/nsize * sum) ** beta),
so alpha is multiplied by nsize = 2r + 1 here.
Not for: other normalisations or layouts.
"""
from mxnet.gluon import HybridBlock


def local_response_norm(F, x, depth_radius: int, bias: float, alpha: float, beta: float):
    """LRN of an NCHW NDArray or Symbol (F is mxnet.nd or mxnet.sym)."""
    size = 2 * depth_radius + 1
    return F.LRN(x, alpha=alpha * size, beta=beta, knorm=bias, nsize=size)


class LocalResponseNorm(HybridBlock):
    """LRN block (no weights) over the channel axis of NCHW input."""

    def __init__(self, depth_radius: int, bias: float, alpha: float, beta: float, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def hybrid_forward(self, F, x):
        return local_response_norm(F, x, self.depth_radius, self.bias, self.alpha, self.beta)

    def __repr__(self):
        return (f"{type(self).__name__}(depth_radius={self.depth_radius}, bias={self.bias}, "
                f"alpha={self.alpha}, beta={self.beta})")
