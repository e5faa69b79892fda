"""Floating-point operations of one training image, counted from the layer specs (no framework).

Convention (the one MLPerf and most MFU papers use): only the multiply-adds of convolutions and
dense layers count, one multiply-add = 2 FLOPs; bias adds, ReLU, pooling, LRN, dropout and the
loss are left out (under 1% for these networks). A training step costs 3 x the forward pass:
the forward, plus the backward's two products of the same size (gradients of the activations
and of the weights).

Model FLOP utilisation (MFU) = achieved FLOP/s / the machine's measured peak FLOP/s.
"""
from alexbench.common import layer_specs
from alexbench.common.layer_specs import Conv, Dense

TRAINING_PASSES = 3


def forward_macs(variant: str, num_classes: int) -> int:
    """Multiply-adds of one image's forward pass through the convolutions and dense layers."""
    total = 0
    for r in layer_specs.resolve(variant, num_classes):
        if isinstance(r.layer, Conv):
            out_h, out_w, out_c = r.output_shape
            per_output = r.layer.kernel * r.layer.kernel * (r.input_shape[2] // r.layer.groups)
            total += out_h * out_w * out_c * per_output
        elif isinstance(r.layer, Dense):
            total += r.input_shape[0] * r.output_shape[0]
    return total


def forward_flops(variant: str, num_classes: int) -> int:
    return 2 * forward_macs(variant, num_classes)


def training_flops(variant: str, num_classes: int) -> int:
    """FLOPs of one image in one training step (forward + backward)."""
    return TRAINING_PASSES * forward_flops(variant, num_classes)


def achieved_gflops(variant: str, num_classes: int, images_per_s):
    """GFLOP/s that a training throughput stands for (None without a throughput)."""
    if images_per_s is None:
        return None
    return training_flops(variant, num_classes) * images_per_s / 1e9
