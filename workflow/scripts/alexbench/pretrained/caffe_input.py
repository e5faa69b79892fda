"""Caffe's test-time input for the BVLC AlexNet weights, from alexbench's prepared images.

Caffe's ImageNet models read 256x256 images, crop 227x227 from the centre at test time, keep
OpenCV's BGR channel order and subtract the training set's mean image, without scaling to [0, 1]
(models/bvlc_alexnet/train_val.prototxt: crop_size 227, mean_file). We subtract its per-channel
mean instead of the mean image, B 104.0, G 116.7, R 122.7 (Caffe's own classification example
gives 104.007, 116.669, 122.679 for ilsvrc_2012_mean.npy). Prepared Imagenette images are RGB,
shorter side resized to 256 and centre-cropped to 256x256 (docs/design.md), so this module only
crops, reorders and subtracts. numpy only; every framework gets the same float32 NHWC batch.
"""
import numpy as np

from alexbench.common.preprocess import crop_and_flip

CROP = 227
MEAN_BGR = (104.0, 116.7, 122.7)


def caffe_batch(images_rgb_u8: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) RGB -> float32 (N, 227, 227, 3) BGR minus MEAN_BGR, centre crop."""
    images = np.asarray(images_rgb_u8)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB images (N, H, W, 3), got {images.dtype} "
                         f"{images.shape}")
    crops = crop_and_flip(images, CROP, train=False, rng=None)
    bgr = crops[..., ::-1].astype(np.float32)
    return bgr - np.asarray(MEAN_BGR, dtype=np.float32)
