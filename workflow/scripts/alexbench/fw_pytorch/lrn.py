"""Local response normalisation for PyTorch, TensorFlow's convention.

out = x / (bias + alpha * sum_{c-r..c+r} x^2) ** beta over channels (dim 1, NCHW);
the same numbers as fw_keras/lrn.py and fw_gluon/lrn.py (tests/test_models.py checks it).
torch's LocalResponseNorm divides alpha by the window width (out = x / (k + alpha/n * sum) ** beta),
so alpha is multiplied by n = 2r + 1 here.
Not for: other normalisations or layouts.
"""
import torch.nn.functional as F
from torch import nn


def local_response_norm(x, depth_radius: int, bias: float, alpha: float, beta: float):
    """LRN of an NCHW tensor."""
    size = 2 * depth_radius + 1
    return F.local_response_norm(x, size=size, alpha=alpha * size, beta=beta, k=bias)


class LocalResponseNorm(nn.Module):
    """LRN module (no weights) over the channel axis of NCHW input."""

    def __init__(self, depth_radius: int, bias: float, alpha: float, beta: float):
        super().__init__()
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def forward(self, x):
        return local_response_norm(x, self.depth_radius, self.bias, self.alpha, self.beta)

    def extra_repr(self):
        return f"depth_radius={self.depth_radius}, bias={self.bias}, alpha={self.alpha}, beta={self.beta}"
