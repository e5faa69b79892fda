"""The BVLC AlexNet forward pass in plain numpy (float64), straight from Caffe's definitions, for
checking every framework's conversion. Independent of alexbench's code on purpose: the layer
table, crop, channel order and mean are written out here from models/bvlc_alexnet/deploy.prototxt
and Caffe's layer sources, not imported.

- Convolution: direct cross-correlation, one kernel position at a time; `group` splits input
  and output channels into consecutive halves (conv_layer.cpp).
- LRN across channels: x / (k + alpha / n * sum of squares over the n channels around) ** beta,
  zero-padded at the ends (lrn_layer.cpp).
- Max pooling: output size ceil((H - k) / s) + 1, windows clipped at the border (pooling_layer.cpp).
- InnerProduct: y = W x + b with W (out, in), x the blob flattened (channel, row, column).
- Input: centre 227 crop of a 256 image, channels B, G, R, minus the mean, no scaling.
"""
import math

import numpy as np

MEAN_BGR = (104.0, 116.7, 122.7)
# name, kind, settings: deploy.prototxt of models/bvlc_alexnet
NET = [
    ("conv1", "conv", dict(stride=4, pad=0, group=1)), ("relu",), ("norm1", "lrn"), ("pool1", "pool"),
    ("conv2", "conv", dict(stride=1, pad=2, group=2)), ("relu",), ("norm2", "lrn"), ("pool2", "pool"),
    ("conv3", "conv", dict(stride=1, pad=1, group=1)), ("relu",),
    ("conv4", "conv", dict(stride=1, pad=1, group=2)), ("relu",),
    ("conv5", "conv", dict(stride=1, pad=1, group=2)), ("relu",), ("pool5", "pool"),
    ("fc6", "fc"), ("relu",), ("fc7", "fc"), ("relu",), ("fc8", "fc"),
]


def caffe_input(images_rgb_u8):
    n, h, w, _ = images_rgb_u8.shape
    top, left = (h - 227) // 2, (w - 227) // 2
    crop = images_rgb_u8[:, top:top + 227, left:left + 227, :].astype(np.float64)
    bgr = crop[..., [2, 1, 0]] - np.array(MEAN_BGR)
    return bgr.transpose(0, 3, 1, 2)  # NCHW, as Caffe's blobs


def convolution(x, weights, bias, stride, pad, group):
    n, c, h, w = x.shape
    out_c, in_per_group, k, _ = weights.shape
    assert c == in_per_group * group
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out = np.zeros((n, out_c, oh, ow))
    og = out_c // group
    for g in range(group):
        xs = x[:, g * in_per_group:(g + 1) * in_per_group]
        ws = weights[g * og:(g + 1) * og].astype(np.float64)
        for i in range(k):
            for j in range(k):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return out + bias.astype(np.float64)[None, :, None, None]


def lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    sq = np.pad(x ** 2, ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
    sums = sum(sq[:, i:i + x.shape[1]] for i in range(size))
    return x / (k + alpha / size * sums) ** beta


def max_pool(x, size=3, stride=2):
    n, c, h, w = x.shape
    oh, ow = math.ceil((h - size) / stride) + 1, math.ceil((w - size) / stride) + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * stride:min(i * stride + size, h),
                                j * stride:min(j * stride + size, w)].max(axis=(2, 3))
    return out


def forward(images_rgb_u8, weights):
    """Logits (N, 1000) float64; `weights` maps Caffe layer names to (weights, bias) as stored."""
    x = caffe_input(images_rgb_u8)
    for step in NET:
        if step[0] == "relu":
            x = np.maximum(x, 0)
        elif step[1] == "conv":
            w, b = weights[step[0]]
            x = convolution(x, w, b, **step[2])
        elif step[1] == "lrn":
            x = lrn(x)
        elif step[1] == "pool":
            x = max_pool(x)
        else:
            w, b = weights[step[0]]
            x = x.reshape(len(x), -1) @ w.astype(np.float64).T + b
    return x
