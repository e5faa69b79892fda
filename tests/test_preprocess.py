"""common/preprocess.py: each variant's input, the bilinear resize, crops and flips, and that every
framework env (numpy 1.23 and 2.x) produces byte-identical batches.

The resize is checked against a naive per-pixel loop of the half-pixel formula, against PIL here,
and against tf.image.resize / torch interpolate in their venvs (tests/probes/preprocess_probe.py).
"""
import hashlib

import numpy as np
import pytest
from PIL import Image

from alexbench.common import layer_specs, preprocess
from conftest import FRAMEWORKS, run_json_in_env

STORED_SHAPES = {"alexnet-mnist": (28, 28, 1), "alexnet-cifar-256": (32, 32, 3),
                 "alexnet-lrn-32": (28, 28, 1), "alexnet-224": (32, 32, 3),
                 "alexnet-d2l": (28, 28, 1), "alexnet-2012": (256, 256, 3)}


def images(variant, n=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n,) + STORED_SHAPES[variant], dtype=np.uint8)


@pytest.mark.parametrize("variant", layer_specs.MODEL_NAMES)
@pytest.mark.parametrize("train", [False, True])
def test_shapes_and_dtype(variant, train):
    out = preprocess.prepare_batch(images(variant), variant, train=train, rng=np.random.default_rng(0))
    assert out.shape == (3,) + layer_specs.input_shape(variant) == (3,) + preprocess.input_shape(variant)
    assert out.dtype == np.float32 and out.flags.c_contiguous


def test_value_ranges_per_variant():
    for variant in ("alexnet-mnist", "alexnet-lrn-32", "alexnet-224", "alexnet-d2l"):
        out = preprocess.prepare_batch(images(variant), variant, train=True)
        assert 0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.9, variant
    x = images("alexnet-mnist")
    np.testing.assert_array_equal(preprocess.prepare_batch(x, "alexnet-mnist", False),
                                  x.astype(np.float32) / np.float32(255))
    x = images("alexnet-cifar-256")
    std = preprocess.per_image_standardization(x)
    np.testing.assert_allclose(std.mean(axis=(1, 2, 3)), 0.0, atol=1e-6)
    np.testing.assert_allclose(std.std(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(preprocess.prepare_batch(x, "alexnet-cifar-256", train=False),
                                  preprocess.resize_bilinear(std, 256, 256))  # standardise, then resize


def test_lrn_32_pads_two_zero_pixels_each_side():
    x = images("alexnet-lrn-32") | 1  # no zero pixels inside, so the border is recognisable
    out = preprocess.prepare_batch(x, "alexnet-lrn-32", train=False)
    np.testing.assert_array_equal(out[:, 2:30, 2:30], x / np.float32(255))
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not out[:, border].any()


def naive_bilinear(img, out_h, out_w):
    """Per-pixel half-pixel-centre bilinear interpolation of one (H, W) image, edges clamped."""
    h, w = img.shape
    out = np.empty((out_h, out_w))
    for i in range(out_h):
        y = min(max((i + 0.5) * h / out_h - 0.5, 0.0), h - 1)
        y0 = int(np.floor(y)); y1 = min(y0 + 1, h - 1); fy = y - y0
        for j in range(out_w):
            x = min(max((j + 0.5) * w / out_w - 0.5, 0.0), w - 1)
            x0 = int(np.floor(x)); x1 = min(x0 + 1, w - 1); fx = x - x0
            top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("src,dst", [((28, 28), (224, 224)), ((32, 32), (256, 256)),
                                     ((32, 32), (224, 224)), ((5, 9), (17, 4))])
def test_resize_matches_naive_loop(src, dst):
    img = np.random.default_rng(2).random(src) * 255
    got = preprocess.resize_bilinear(img[None, :, :, None], *dst)[0, :, :, 0]
    np.testing.assert_allclose(got, naive_bilinear(img, *dst), rtol=1e-6, atol=1e-4)


def test_resize_upscaling_matches_pil():
    img = (np.random.default_rng(3).random((28, 28)) * 255).astype(np.float32)
    ref = np.asarray(Image.fromarray(img, mode="F").resize((224, 224), Image.BILINEAR))
    got = preprocess.resize_bilinear(img[None, :, :, None], 224, 224)[0, :, :, 0]
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_resize_keeps_constant_images_constant():
    x = np.full((2, 32, 32, 3), 173, dtype=np.uint8)
    out = preprocess.prepare_batch(x, "alexnet-224", train=False)
    np.testing.assert_allclose(out, 173 / 255, rtol=1e-6)
    for in_size, out_size in ((28, 224), (32, 256), (32, 224), (7, 3)):
        np.testing.assert_allclose(preprocess.bilinear_matrix(in_size, out_size).sum(1), 1.0, rtol=1e-12)


def test_per_image_standardization_floors_the_std_of_flat_images():
    x = np.full((1, 32, 32, 3), 9, dtype=np.uint8)
    x[0, 0, 0, 0] = 10  # tiny std: the 1/sqrt(numel) floor applies, as in TensorFlow
    out = preprocess.per_image_standardization(x)
    mean = x.mean()
    np.testing.assert_allclose(out, (x - mean) * np.sqrt(x.size), rtol=1e-5)


def test_2012_test_crop_is_centred_and_mean_subtracted():
    x = images("alexnet-2012")
    out = preprocess.prepare_batch(x, "alexnet-2012", train=False)
    expected = x[:, 14:241, 14:241].astype(np.float32) - np.float32([123.68, 116.779, 103.939])
    np.testing.assert_array_equal(out, expected)


def test_2012_train_crops_are_seeded_windows_with_flips():
    x = images("alexnet-2012", n=16)
    a = preprocess.prepare_batch(x, "alexnet-2012", train=True, rng=np.random.default_rng(11))
    b = preprocess.prepare_batch(x, "alexnet-2012", train=True, rng=np.random.default_rng(11))
    c = preprocess.prepare_batch(x, "alexnet-2012", train=True, rng=np.random.default_rng(12))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    mean = np.float32([123.68, 116.779, 103.939])
    flipped = 0
    for i in range(len(x)):
        crop = np.rint(a[i] + mean).astype(np.uint8)
        windows = []
        for f in (False, True):
            view = crop[:, ::-1] if f else crop
            for t in range(30):
                for l in range(30):  # a cheap corner test first, then the whole window
                    if (np.array_equal(view[:3, :3], x[i, t:t + 3, l:l + 3])
                            and np.array_equal(view, x[i, t:t + 227, l:l + 227])):
                        windows.append((t, l, f))
        assert len(windows) == 1, f"image {i}: not one crop of its source"
        flipped += windows[0][2]
    assert 0 < flipped < len(x)  # both flipped and unflipped crops occur
    with pytest.raises(ValueError, match="rng"):
        preprocess.prepare_batch(x, "alexnet-2012", train=True, rng=None)


def test_bad_batches_are_rejected_by_name():
    with pytest.raises(ValueError, match="alexnet-d2l.*uint8"):
        preprocess.prepare_batch(np.zeros((2, 28, 28, 1), np.float32), "alexnet-d2l", train=False)
    with pytest.raises(ValueError, match="alexnet-224.*3-channel"):
        preprocess.prepare_batch(images("alexnet-mnist"), "alexnet-224", train=False)
    with pytest.raises(ValueError, match="alexnet-mnist"):
        preprocess.prepare_batch(images("alexnet-224")[..., :1], "alexnet-mnist", train=False)
    with pytest.raises(ValueError, match="unknown model variant"):
        preprocess.prepare_batch(images("alexnet-mnist"), "lenet", train=False)


def test_every_env_prepares_identical_batches(tmp_path):
    batches = {v: images(v, n=3, seed=5) for v in layer_specs.MODEL_NAMES}
    np.savez(tmp_path / "batches.npz", **batches)
    expected = {}
    for variant, x in batches.items():
        test = preprocess.prepare_batch(x, variant, train=False)
        train = preprocess.prepare_batch(x, variant, train=True, rng=np.random.default_rng(7))
        expected[variant] = {"test": hashlib.sha256(test.tobytes()).hexdigest(),
                             "train": hashlib.sha256(train.tobytes()).hexdigest()}
    for fw in FRAMEWORKS:
        result = run_json_in_env(f"{fw}-cpu", ["tests/probes/preprocess_probe.py", fw,
                                               "--inputs", tmp_path / "batches.npz"], timeout=300)
        assert result["sha256"] == expected, f"{fw} env (numpy {result['numpy']}) differs"
        # tf.image.resize / torch interpolate on 0..255 images: float32 rounding only
        for check, diff in result["reference_max_abs_diff"].items():
            assert diff < 2e-3, f"{fw}: {check} differs by {diff}"
        if fw in ("keras", "pytorch"):
            assert len(result["reference_max_abs_diff"]) >= 5
