"""Open a prepared dataset folder (resources/prepared/{dataset}/) for training, and split it.

The folder's format is the data contract in docs/design.md: uint8 NHWC images and int64 labels
as .npy files, with meta.json written last. Arrays are memory-mapped so a large set (Imagenette
at 256x256) is read batch by batch, never copied whole. Every mismatch raises
PreparedDataError naming the file. Also here: the first-N subsets used by smoke mode and the
seeded hold-out split. Not here: preprocessing (common/preprocess.py) or writing the folder
(alexbench.data).
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexbench.common import prepared_contract as contract


class PreparedDataError(ValueError):
    """A prepared dataset folder breaks the data contract; the message names the file."""


@dataclass
class Split:
    """Images (N, H, W, C) uint8 — possibly a memory map — and labels (N,) int64."""
    images: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)


@dataclass
class PreparedDataset:
    meta: dict
    train: Split
    test: Split

    @property
    def num_classes(self):
        return len(self.meta["classes"])


def _load_array(path, dtype, ndim):
    if not path.exists():
        raise PreparedDataError(f"{path}: missing from the prepared dataset folder")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise PreparedDataError(f"{path}: not a readable .npy file ({e})") from e
    if array.dtype != np.dtype(dtype) or array.ndim != ndim:
        raise PreparedDataError(f"{path}: expected {dtype} with {ndim} dimensions, "
                                f"found {array.dtype} with shape {array.shape}")
    return array


def open_prepared(data_dir):
    """Open and check a prepared dataset folder; returns a PreparedDataset of memory maps."""
    data_dir = Path(data_dir)
    meta_path = data_dir / contract.META_FILE
    if not meta_path.exists():
        raise PreparedDataError(f"{meta_path}: missing (it is written last, so the preparation "
                                "did not finish)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise PreparedDataError(f"{meta_path}: not valid JSON ({e})") from e
    problems = contract.meta_problems(meta)
    if problems:
        raise PreparedDataError(f"{meta_path}: does not match {contract.META_SCHEMA.name}: "
                                + "; ".join(problems))
    num_classes = len(meta["classes"])
    image_shape = tuple(meta["image_shape"])
    splits = {}
    for split in contract.SPLITS:
        images_path = data_dir / contract.images_file(split)
        labels_path = data_dir / contract.labels_file(split)
        images = _load_array(images_path, "uint8", 4)
        labels = _load_array(labels_path, "int64", 1)
        count = meta[f"{split}_count"]
        if images.shape[1:] != image_shape:
            raise PreparedDataError(f"{images_path}: image shape {images.shape[1:]} is not "
                                    f"meta.json's image_shape {list(image_shape)}")
        if len(images) != count:
            raise PreparedDataError(f"{images_path}: {len(images)} images, meta.json's "
                                    f"{split}_count is {count}")
        if len(labels) != count:
            raise PreparedDataError(f"{labels_path}: {len(labels)} labels, meta.json's "
                                    f"{split}_count is {count}")
        if count and (labels.min() < 0 or labels.max() >= num_classes):
            raise PreparedDataError(f"{labels_path}: labels span {labels.min()}..{labels.max()}, "
                                    f"outside 0..{num_classes - 1} ({num_classes} classes in "
                                    "meta.json)")
        splits[split] = Split(images, labels)
    return PreparedDataset(meta, splits["train"], splits["test"])


def first_n(split, n):
    """The first n examples (all when n is None): smoke mode's small, reproducible subset."""
    if n is None or n >= len(split):
        return split
    return Split(split.images[:n], split.labels[:n])


def parse_validation(spec):
    """'test' -> None; 'holdout:0.2' -> ('fraction', 0.2); 'holdout:5000' -> ('count', 5000)."""
    if spec == "test":
        return None
    kind, _, value = str(spec).partition(":")
    try:
        if kind != "holdout" or not value:
            raise ValueError
        if "." in value or "e" in value.lower():
            fraction = float(value)
            if not 0.0 < fraction < 1.0:
                raise ValueError
            return ("fraction", fraction)
        count = int(value)
        if count < 1:
            raise ValueError
        return ("count", count)
    except ValueError:
        raise ValueError(f"settings.validation: {spec!r} is not 'test', 'holdout:<fraction in "
                         "(0, 1)>' or 'holdout:<count>'") from None


def holdout_indices(n_train, spec, seed, full_count=None):
    """Seeded split of range(n_train) into (train_indices, validation_indices), both sorted.

    For 'test' every index trains and validation_indices is None (validate on the test set).
    `full_count`: size of the whole training set when n_train is a smoke-mode subset of it; a
    hold-out count then keeps its share of the whole set (5000 of 50000 -> 10% of the subset),
    so 'holdout:5000' still works on 256 images. A count that leaves no training image is an
    error.
    """
    parsed = parse_validation(spec)
    everything = np.arange(n_train, dtype=np.int64)
    if parsed is None:
        return everything, None
    kind, value = parsed
    if kind == "fraction":
        n_val = int(round(n_train * value))
    elif full_count is not None and n_train < full_count:
        n_val = max(1, int(round(n_train * value / full_count)))
    else:
        n_val = value
    if not 1 <= n_val < n_train:
        raise ValueError(f"settings.validation: {spec!r} holds out {n_val} of {n_train} training "
                         "images; it must leave at least one on each side")
    order = np.random.default_rng(seed).permutation(n_train)
    # Sorted so that reading a memory map walks forward through the file.
    return np.sort(order[n_val:]), np.sort(order[:n_val])
