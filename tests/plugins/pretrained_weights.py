"""A full-size synthetic BVLC AlexNet .caffemodel, its converted .npz and the numpy reference
logits, built once per session (244 MB each, a few seconds), plus the probe images.

    def test_x(full_model, probe_images):
        full_model.caffemodel, full_model.npz      # paths
        full_model.weights                         # {caffe name: (weights, bias)} as generated
        full_model.reference_logits                # caffe_reference.forward(probe_images, weights)
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

PROBE_IMAGE_COUNT = 4


@dataclass
class FullModel:
    caffemodel: Path
    npz: Path
    weights: dict
    reference_logits: np.ndarray


def make_probe_images() -> np.ndarray:
    """uint8 RGB (4, 256, 256, 3): colour ramps and stripes at different angles and frequencies,
    so the random network tells them apart (uniform noise all lands in one class)."""
    rows, cols = np.mgrid[0:256, 0:256].astype(np.float64) / 255.0
    rng = np.random.default_rng(7)
    images = []
    for i in range(PROBE_IMAGE_COUNT):
        angle, freq = rng.uniform(0, np.pi), 2 + 6 * i
        wave = 0.5 + 0.5 * np.sin(freq * np.pi * (rows * np.cos(angle) + cols * np.sin(angle)))
        colour = rng.uniform(0, 255, size=3)
        image = wave[..., None] * colour + (1 - wave[..., None]) * colour[::-1] * rows[..., None]
        images.append(np.clip(image + rng.normal(0, 8, image.shape), 0, 255))
    return np.stack(images).astype(np.uint8)


@pytest.fixture(scope="session")
def probe_images() -> np.ndarray:
    return make_probe_images()


@pytest.fixture(scope="session")
def probe_images_file(probe_images, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("probe_images") / "images.npy"
    np.save(path, probe_images, allow_pickle=False)
    return path


@pytest.fixture(scope="session")
def full_model(tmp_path_factory, probe_images) -> FullModel:
    import caffe_reference
    from alexbench.pretrained import caffemodel, convert

    folder = tmp_path_factory.mktemp("bvlc_alexnet")
    path = caffemodel.write_caffemodel(folder / "bvlc_alexnet.caffemodel",
                                       caffemodel.synthetic_layers(seed=0))
    npz = convert.convert(path, folder / "bvlc_alexnet.npz")
    weights = {name: tuple(arrays) for name, _, arrays in caffemodel.synthetic_layers(seed=0)
               if arrays}
    return FullModel(path, npz, weights, caffe_reference.forward(probe_images, weights))
