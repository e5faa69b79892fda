"""Training FLOPs per image, counted from the layer specs, against counts made by hand."""
import pytest

from alexbench.common import flops, layer_specs


def conv(out_hw, out_c, k, in_c, groups=1):
    return out_hw * out_hw * out_c * k * k * (in_c // groups)


def test_the_2012_network_by_hand():
    # 227x227x3 input (the Caffe layer table): conv1 11x11/4 -> 55x55x96; pool -> 27;
    # conv2 5x5 pad 2, 2 groups -> 27x27x256; pool -> 13; conv3 3x3 -> 13x13x384;
    # conv4 3x3, 2 groups -> 13x13x384; conv5 3x3, 2 groups -> 13x13x256; pool -> 6x6x256.
    shape = layer_specs.input_shape("alexnet-2012")
    side = shape[0]
    c1 = (side - 11) // 4 + 1
    p1 = (c1 - 3) // 2 + 1
    p2 = (p1 - 3) // 2 + 1
    p3 = (p2 - 3) // 2 + 1
    macs = (conv(c1, 96, 11, 3) + conv(p1, 256, 5, 96, 2) + conv(p2, 384, 3, 256)
            + conv(p2, 384, 3, 384, 2) + conv(p2, 256, 3, 384, 2)
            + p3 * p3 * 256 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert flops.forward_macs("alexnet-2012", 1000) == macs
    if side == 227:  # the often-quoted figure: about 0.72 G multiply-adds per image
        assert 0.70e9 < macs < 0.74e9
    assert flops.training_flops("alexnet-2012", 1000) == 3 * 2 * macs


def test_the_d2l_network_by_hand():
    # d2l's AlexNet on 224x224x1: conv1 96 11x11/4 pad 1 -> 54; pool 3/2 -> 26; conv2 256 5x5
    # pad 2 -> 26; pool -> 12; conv3 384, conv4 384, conv5 256, 3x3 pad 1 -> 12; pool -> 5;
    # 5*5*256 = 6400 -> 4096 -> 4096 -> 10.
    macs = (conv(54, 96, 11, 1) + conv(26, 256, 5, 96) + conv(12, 384, 3, 256)
            + conv(12, 384, 3, 384) + conv(12, 256, 3, 384)
            + 6400 * 4096 + 4096 * 4096 + 4096 * 10)
    assert flops.forward_macs("alexnet-d2l", 10) == macs
    assert flops.forward_flops("alexnet-d2l", 10) == 2 * macs


@pytest.mark.parametrize("variant", layer_specs.MODEL_NAMES)
def test_every_variant_counts_more_flops_than_parameters(variant):
    # Each weight is used at least once per image, so MACs >= weights (biases aside).
    assert flops.forward_macs(variant, 10) >= layer_specs.count_parameters(variant, 10) * 0.9


def test_achieved_gflops():
    per_image = flops.training_flops("alexnet-d2l", 10)
    assert flops.achieved_gflops("alexnet-d2l", 10, 100.0) == pytest.approx(per_image * 100 / 1e9)
    assert flops.achieved_gflops("alexnet-d2l", 10, None) is None
