"""The published BVLC AlexNet weights in Gluon's alexnet-2012 model (1000 classes, Caffe's LRN).

Layout conversions from the framework-neutral .npz (pretrained/convert.py), each checked by
tests/test_pretrained.py against an independent numpy forward pass of the Caffe net:
- convolutions: Gluon's Conv2D weight is (out, in/groups, kh, kw) with the groups in order along
  `out`, exactly Caffe's layout: copied as is; both are cross-correlations.
- fully connected: Dense's weight is (units, in_units) like Caffe's, and Flatten of NCHW
  flattens (channel, row, column) as Caffe does: copied as is.
- input: the BGR, mean-subtracted batch of pretrained/caffe_input.py, transposed to NCHW.
The public names match fw_keras/pretrained.py and fw_pytorch/pretrained.py.
"""
import mxnet as mx
import numpy as np
from mxnet.gluon import nn

from alexbench.common import layer_specs
from alexbench.fw_gluon.models import build_model, count_parameters

MODEL, NUM_CLASSES = "alexnet-2012", 1000


def build_pretrained_model(layers: dict, device):
    """alexnet-2012 with Caffe's LRN, weights from `layers` ({name: (weights, bias)}), hybridized."""
    model = build_model(MODEL, NUM_CLASSES, device=device, lrn=layer_specs.CAFFE_ALEXNET_LRN)
    blocks = {b.prefix[len(model.prefix):].rstrip("_"): b for b in model
              if isinstance(b, (nn.Conv2D, nn.Dense))}
    for name, (weights, bias) in layers.items():
        block = blocks[name]
        if tuple(block.weight.shape) != weights.shape:
            raise ValueError(f"{name}: model weight {tuple(block.weight.shape)} != {weights.shape}")
        block.weight.set_data(mx.nd.array(weights, ctx=device, dtype=np.float32))
        block.bias.set_data(mx.nd.array(bias, ctx=device, dtype=np.float32))
    model.hybridize(static_alloc=True)
    return model


def parameter_count(model) -> int:
    return count_parameters(model)


def logits(model, x_nhwc: np.ndarray, device) -> np.ndarray:
    """float32 (N, 1000) logits of a float32 NHWC batch; not recording, so dropout is off."""
    x = mx.nd.array(np.asarray(x_nhwc, dtype=np.float32), ctx=device).transpose((0, 3, 1, 2))
    return model(x).asnumpy().astype(np.float32, copy=False)


def peak_gpu_mb(device):
    """GPU memory in use now (MXNet 1.x has no peak counter; its pool keeps what it took)."""
    if device.device_type != "gpu":
        return None
    free, total = mx.context.gpu_memory_info(device.device_id)
    return (total - free) / 2 ** 20
