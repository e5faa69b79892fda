"""Turn a batch of prepared uint8 images into one variant's float32 NHWC network input.

Every framework trains on exactly these arrays (the harness calls `prepare_batch` once per batch
and hands the result to the framework backend), so input cost and input values are the same
across frameworks. Numpy only; must work with numpy 1.23 (gluon env) and 2.x.

Per variant (docs/seeds.md):
- alexnet-mnist (S0): /255.
- alexnet-cifar-256 (S1): per-image standardisation (tf.image.per_image_standardization),
  then bilinear resize 32 -> 256.
- alexnet-lrn-32 (S2): zero-pad 28 -> 32 (2 px each side), /255.
- alexnet-224 (S3): bilinear resize 32 -> 224, /255.
- alexnet-d2l (D): bilinear resize 28 -> 224, /255, no normalisation.
- alexnet-2012 (S4): 227 crop (train: random position + random horizontal flip from `rng`;
  test: centre), minus the per-channel ImageNet mean, no /255.

Bilinear resizing uses half-pixel centres without antialiasing, as tf.image.resize(bilinear) and
torch interpolate(align_corners=False) do, as two matrix products with cached interpolation
matrices. The products run in float64 and round once to float32, so BLAS differences between the
envs' numpy builds cannot change the float32 result.

Not for: reading datasets (prepared.py), shuffling or batching (the harness).
"""
from __future__ import annotations

import functools

import numpy as np

from alexbench.common import layer_specs

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)


def input_shape(variant: str) -> tuple:
    """(H, W, C) of one preprocessed image for `variant`."""
    return layer_specs.input_shape(variant)


@functools.lru_cache(maxsize=None)
def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float64 matrix M with out = M @ in along one axis (read-only).

    Half-pixel centres: source coordinate (i + 0.5) * in/out - 0.5, clamped at the edges.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"resize sizes must be positive, got {in_size} -> {out_size}")
    scale = in_size / out_size
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.clip(src, 0.0, in_size - 1)
    lower = np.floor(src).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    frac = src - lower
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), 1.0 - frac)
    np.add.at(matrix, (rows, upper), frac)
    matrix.setflags(write=False)
    return matrix


def resize_bilinear(images: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize an (N, H, W, C) batch to (N, out_h, out_w, C) float32, bilinear, half-pixel centres."""
    n, h, w, c = images.shape
    # Channels first, so that each image plane is an (H, W) matrix and matmul multiplies the
    # N*C planes in turn: rows @ plane @ cols.T lands in (N, C, Ho, Wo), which for one channel
    # is already NHWC. Two large products over the whole batch (np.tensordot) did the same
    # sums but left a (Ho, N, C, Wo) result to transpose, and took 1.2-1.6 times the CPU
    # (bench/README.md); the float32 results are identical.
    # Contiguous planes: numpy 1.23's matmul hands strided ones to its own loop, not to BLAS.
    planes = np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2), dtype=np.float64)
    rows = bilinear_matrix(h, out_h)
    cols = bilinear_matrix(w, out_w)
    resized = rows @ (planes @ cols.T)
    return np.ascontiguousarray(resized.transpose(0, 2, 3, 1), dtype=np.float32)


def per_image_standardization(images: np.ndarray) -> np.ndarray:
    """(x - mean) / max(std, 1/sqrt(numel)) per image, as tf.image.per_image_standardization."""
    x = np.asarray(images, dtype=np.float64)
    numel = x[0].size
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    adjusted = np.maximum(std, 1.0 / np.sqrt(numel))
    return ((x - mean) / adjusted).astype(np.float32)


def zero_pad_to(images: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Centre the images in a zero canvas of out_h x out_w (same dtype)."""
    n, h, w, c = images.shape
    dh, dw = out_h - h, out_w - w
    if dh < 0 or dw < 0 or dh % 2 or dw % 2:
        raise ValueError(f"cannot zero-pad {h}x{w} symmetrically to {out_h}x{out_w}")
    return np.pad(images, ((0, 0), (dh // 2, dh // 2), (dw // 2, dw // 2), (0, 0)))


def crop_and_flip(images: np.ndarray, size: int, train: bool, rng) -> np.ndarray:
    """size x size crops: random position and random horizontal flip when training, else centred."""
    n, h, w, c = images.shape
    if h < size or w < size:
        raise ValueError(f"cannot crop {size}x{size} from {h}x{w} images")
    if train:
        if rng is None:
            raise ValueError("training crops need a numpy Generator (rng)")
        # One draw per array, in a fixed order, so a seed fixes every crop and flip.
        tops = rng.integers(0, h - size + 1, size=n)
        lefts = rng.integers(0, w - size + 1, size=n)
        flips = rng.random(n) < 0.5
    else:
        tops = np.full(n, (h - size) // 2)
        lefts = np.full(n, (w - size) // 2)
        flips = np.zeros(n, dtype=bool)
    out = np.empty((n, size, size, c), dtype=images.dtype)
    for i in range(n):
        crop = images[i, tops[i]:tops[i] + size, lefts[i]:lefts[i] + size]
        out[i] = crop[:, ::-1] if flips[i] else crop
    return out


def _scale_01(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / np.float32(255.0)


def _alexnet_mnist(images, shape, train, rng):
    return _scale_01(images)


def _alexnet_cifar_256(images, shape, train, rng):
    return resize_bilinear(per_image_standardization(images), shape[0], shape[1])


def _alexnet_lrn_32(images, shape, train, rng):
    return _scale_01(zero_pad_to(images, shape[0], shape[1]))


def _resize_then_scale(images, shape, train, rng):
    resized = resize_bilinear(images, shape[0], shape[1])
    resized /= np.float32(255.0)  # in place: no second batch-sized array
    return resized


def _alexnet_2012(images, shape, train, rng):
    crops = crop_and_flip(images, shape[0], train, rng).astype(np.float32)
    return crops - np.asarray(IMAGENET_MEAN_RGB, dtype=np.float32)


_PIPELINES = {
    "alexnet-mnist": _alexnet_mnist,
    "alexnet-cifar-256": _alexnet_cifar_256,
    "alexnet-lrn-32": _alexnet_lrn_32,
    "alexnet-224": _resize_then_scale,
    "alexnet-2012": _alexnet_2012,
    "alexnet-d2l": _resize_then_scale,
}


def prepare_batch(images_u8: np.ndarray, variant: str, train: bool,
                  rng: "np.random.Generator | None" = None) -> np.ndarray:
    """uint8 (N, H, W, C) prepared images -> float32 (N, *input_shape(variant)) network input.

    `rng` drives the random crops and flips of training batches (alexnet-2012 only); the other
    variants do not augment and ignore it.
    """
    shape = input_shape(variant)  # raises on an unknown variant
    images = np.asarray(images_u8)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"{variant}: expected a uint8 batch (N, H, W, C), "
                         f"got {images.dtype} with shape {images.shape}")
    if images.shape[-1] != shape[-1]:
        raise ValueError(f"{variant}: expects {shape[-1]}-channel images, got shape {images.shape}")
    out = _PIPELINES[variant](images, shape, train, rng)
    if out.shape[1:] != shape or out.dtype != np.float32:
        raise ValueError(f"{variant}: images of shape {images.shape[1:]} became {out.shape[1:]} "
                         f"{out.dtype}, expected {shape} float32")
    return out
