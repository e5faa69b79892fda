"""The published BVLC AlexNet weights in PyTorch's alexnet-2012 model (1000 classes, Caffe's LRN).

Layout conversions from the framework-neutral .npz (pretrained/convert.py), each checked by
tests/test_pretrained.py against an independent numpy forward pass of the Caffe net:
- convolutions: torch's Conv2d weight is (out, in/groups, kh, kw) with the groups in order along
  `out`, exactly Caffe's layout: copied as is; both are cross-correlations.
- fully connected: nn.Linear's weight is (out, in) like Caffe's, and nn.Flatten of NCHW flattens
  (channel, row, column) as Caffe does: copied as is.
- input: the BGR, mean-subtracted batch of pretrained/caffe_input.py, transposed to NCHW.
The public names match fw_keras/pretrained.py and fw_gluon/pretrained.py.
"""
import numpy as np
import torch

from alexbench.common import layer_specs
from alexbench.fw_pytorch.models import build_model, count_parameters

MODEL, NUM_CLASSES = "alexnet-2012", 1000


def build_pretrained_model(layers: dict, device):
    """alexnet-2012 with Caffe's LRN, weights from `layers` ({name: (weights, bias)}), eval mode."""
    model = build_model(MODEL, NUM_CLASSES, lrn=layer_specs.CAFFE_ALEXNET_LRN)
    modules = dict(model.named_children())
    with torch.no_grad():
        for name, (weights, bias) in layers.items():
            layer = modules[name]
            if tuple(layer.weight.shape) != weights.shape:
                raise ValueError(f"{name}: model weight {tuple(layer.weight.shape)} != {weights.shape}")
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights)))
            layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    return model.to(device).eval()


def parameter_count(model) -> int:
    return count_parameters(model)


def logits(model, x_nhwc: np.ndarray, device) -> np.ndarray:
    """float32 (N, 1000) logits of a float32 NHWC batch; dropout off, no gradients."""
    images = torch.from_numpy(np.require(x_nhwc, np.float32, ["C", "W"])).to(device)
    with torch.inference_mode():
        out = model(images.permute(0, 3, 1, 2).contiguous())
    return out.float().cpu().numpy()


def peak_gpu_mb(device):
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2 ** 20
