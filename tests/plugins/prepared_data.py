"""Fixture: tiny prepared dataset folders in the data contract's format (docs/design.md).

`prepared_data(kind, train_count=64, test_count=32)` returns a folder holding train/test
images (uint8 NHWC) and labels (int64) as .npy plus meta.json (written last), for three kinds:
mnist-like 28x28x1, cifar-like 32x32x3, imagenette-like 256x256x3. Each class lights up its own
block of a grid over faint noise (and, in colour, its own channel mix), so a network can learn
the classes in a few steps; the rest of a run's behaviour is real. Folders are cached per
session. Not for: testing the data preparation itself (that reads official files).
"""
import hashlib
import json

import numpy as np
import pytest

KINDS = {
    "mnist": {"dataset": "mnist", "format": "idx", "image_shape": (28, 28, 1)},
    "cifar": {"dataset": "cifar10", "format": "cifar10-binary", "image_shape": (32, 32, 3)},
    "imagenette": {"dataset": "imagenette-320", "format": "imagenette",
                   "image_shape": (256, 256, 3)},
}
IMAGENETTE_INDICES = [0, 217, 482, 491, 497, 566, 569, 571, 574, 701]
GRID = (3, 4)  # rows x columns of blocks: room for 12 classes


def class_images(labels, image_shape, rng):
    """uint8 images whose bright block (and colour) depends on the label, over noise 0..40."""
    h, w, c = image_shape
    images = rng.integers(0, 41, size=(len(labels), h, w, c), dtype=np.uint8)
    bh, bw = h // GRID[0], w // GRID[1]
    for i, label in enumerate(labels):
        row, col = divmod(int(label), GRID[1])
        block = rng.integers(180, 256, size=(bh, bw, c), dtype=np.uint8)
        if c == 3:  # class-dependent colour: dim one channel per class
            block[..., int(label) % 3] //= 3
        images[i, row * bh:(row + 1) * bh, col * bw:(col + 1) * bw] = block
    return images


def write_prepared(folder, kind="mnist", train_count=64, test_count=32, num_classes=10, seed=0):
    """Write a prepared dataset folder of `kind`; meta.json last, as the preparation does."""
    spec = KINDS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {"train": train_count, "test": test_count}
    for split, count in counts.items():
        labels = rng.permutation(np.arange(count) % num_classes).astype(np.int64)
        np.save(folder / f"{split}-images.npy", class_images(labels, spec["image_shape"], rng))
        np.save(folder / f"{split}-labels.npy", labels)
    meta = {"dataset": spec["dataset"], "format": spec["format"],
            "classes": [f"class{k}" for k in range(num_classes)],
            "image_shape": list(spec["image_shape"]), "train_count": train_count,
            "test_count": test_count,
            # What preparation records: the sha256 of each file it read (here, its own arrays).
            "sources": {f"{split}-{part}.npy": hashlib.sha256((folder / f"{split}-{part}.npy").read_bytes()).hexdigest()
                        for split in counts for part in ("images", "labels")}}
    if kind == "imagenette":
        meta["imagenet_indices"] = IMAGENETTE_INDICES[:num_classes]
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    return folder


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory):
    """Factory: prepared_data(kind, train_count=64, test_count=32) -> cached folder Path."""
    cache = {}

    def make(kind="mnist", train_count=64, test_count=32, num_classes=10):
        key = (kind, train_count, test_count, num_classes)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"prepared-{kind}-{train_count}-{test_count}")
            cache[key] = write_prepared(folder, kind, train_count, test_count, num_classes)
        return cache[key]

    return make
