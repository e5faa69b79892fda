"""Mixed precision the MXNet way: AMP (mxnet.contrib.amp) with bfloat16 on CPU.

bf16: amp.init(target_dtype="bfloat16") before the model is built rewrites MXNet's operator
functions so that Convolution and FullyConnected take bfloat16 inputs (amp_cast nodes in the
hybridized graph) while the parameters and their gradients stay float32: the optimiser updates
float32 master weights; no loss scaling (bfloat16 has float32's exponent range). MXNet's own
lists keep softmax/log_softmax (the loss), Dropout and Flatten in float32; LRN, Pooling and relu
run in the dtype that reaches them. bench/gluon_bf16_probe.py showed every probed variant
training this way on CPU within 0.5% of float32's losses (docs/precision.md).
GPU: MXNet 1.9.1's AMP pairs bfloat16 with the CPU only; the registry refuses gluon x bf16 on gpu.
amp.init is process-wide and cannot be undone: one precision per process (train.py is one run).
https://mxnet.apache.org/versions/1.9.1/api/python/docs/tutorials/performance/backend/amp.html
"""
import numpy as np
import mxnet as mx
from mxnet.contrib import amp

_enabled = None  # the precision AMP was set up for in this process


def enable(precision: str) -> None:
    """Set this process up for `precision` before any model is built (fp32: nothing)."""
    global _enabled
    if precision == "fp32":
        if _enabled not in (None, "fp32"):
            raise RuntimeError("MXNet AMP is process-wide: this process already trains in "
                               f"{_enabled}, it cannot also build an fp32 model")
        _enabled = "fp32"
        return
    if precision != "bf16":
        raise ValueError(f"unknown precision {precision!r}")
    if _enabled == "fp32":
        raise RuntimeError("MXNet AMP must start before any model is built: this process "
                           "already built an fp32 model")
    if _enabled is None:
        amp.init(target_dtype="bfloat16")
    _enabled = "bf16"


def matmul_operands(a, b, precision: str):
    """The peak matmul's operands in `precision`: AMP's own cast to bfloat16 for bf16."""
    if precision == "fp32":
        return a, b
    return mx.nd.amp_cast(a, dtype=np.dtype([("bfloat16", np.uint16)])), \
        mx.nd.amp_cast(b, dtype=np.dtype([("bfloat16", np.uint16)]))
