"""Mixed precision the PyTorch way: torch.autocast around forward and loss.

bf16: torch.autocast(device_type, dtype=torch.bfloat16) (CPU and CUDA) runs convolutions and
linear layers in bfloat16 while the weights, their gradients and the optimiser stay float32 (the
master weights); no loss scaling, since bfloat16 has float32's exponent range. The loss is
cross-entropy on float32 logits (the trainer calls .float()). LRN (F.local_response_norm) runs in
whatever dtype reaches it, bfloat16 after a bf16 convolution: autocast lists none of its ops.
fp32: nothing changes. https://pytorch.org/docs/stable/amp.html
Not for: refusing unsupported hardware (alexbench/harness/precision.py does, before import).
"""
import contextlib

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def autocast(device, precision: str):
    """The context a forward pass and its loss run in for `precision` on `device`."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def matmul_dtype(precision: str):
    """The dtype of the peak matmul's operands (the denominator of FLOP utilisation)."""
    return DTYPES[precision]
