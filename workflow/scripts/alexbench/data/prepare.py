"""Turn a dataset's verified official files into the framework-neutral form training reads.

Output (docs/design.md, "Data contract"), in `resources/prepared/{dataset}/`:
`train-images.npy`, `test-images.npy` (uint8 NHWC), `train-labels.npy`, `test-labels.npy`
(int64), and `meta.json` last. Everything is written into a temporary sibling folder that is
renamed into place at the end, so an interrupted preparation leaves nothing that looks
complete. The full 320 px Imagenette archive (about 13,000 JPEGs) needs little memory:
images are decoded one at a time and streamed into the .npy files.

Not for: downloading or checking checksums (done before), nor per-variant preprocessing such
as crops and scaling (`alexbench.common.preprocess`).
"""
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from alexbench.common import prepared_contract
from alexbench.data import official, readers
from alexbench.data.archive import safe_extract
from alexbench.data.download import sha256_of
from alexbench.data.readers import DataFormatError

log = logging.getLogger("alexbench.data.prepare")

IMAGENETTE_SIDE = 256
PROGRESS_EVERY_IMAGES = 1000


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataFormatError(f"{path}: missing (expected an official dataset file here)")
    return path


def _save_split(work: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    np.save(work / f"{split}-images.npy", np.ascontiguousarray(images, dtype=np.uint8))
    np.save(work / f"{split}-labels.npy", labels.astype(np.int64))


# ---------------------------------------------------------------- per format

def _prepare_idx(dataset: str, downloads: Path, work: Path) -> dict:
    if dataset not in official.IDX_CLASS_NAMES:
        raise ValueError(f"no class names known for IDX dataset {dataset!r}; "
                         f"known: {sorted(official.IDX_CLASS_NAMES)}")
    sources = {}
    for split, (images_name, labels_name) in official.IDX_FILES.items():
        images_path = _require(downloads / images_name)
        labels_path = _require(downloads / labels_name)
        images, labels = readers.read_idx_split(images_path, labels_path)
        _save_split(work, split, images, labels)
        sources[images_name], sources[labels_name] = sha256_of(images_path), sha256_of(labels_path)
        log.info("%s: %d %s images of %s", dataset, len(images), split, images.shape[1:])
    return {"classes": official.IDX_CLASS_NAMES[dataset], "sources": sources}


def _prepare_cifar(dataset: str, downloads: Path, work: Path) -> dict:
    archive = _require(downloads / official.CIFAR_ARCHIVE)
    extracted = work / "extracted"
    safe_extract(archive, extracted)
    folder = extracted / official.CIFAR_FOLDER
    splits = (("train", official.CIFAR_TRAIN_BATCHES), ("test", (official.CIFAR_TEST_BATCH,)))
    for split, names in splits:
        parts = [readers.read_cifar_batch(_require(folder / name)) for name in names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        _save_split(work, split, images, labels)
        log.info("%s: %d %s images", dataset, len(images), split)
    classes = readers.read_cifar_class_names(_require(folder / official.CIFAR_META))
    shutil.rmtree(extracted)
    return {"classes": classes, "sources": {archive.name: sha256_of(archive)}}


def _decode_split(items: list, work: Path, split: str) -> None:
    """Decode (path, label) items one by one, appending each image to a .npy file.

    Streaming writes keep memory flat: neither the whole split nor a mapping of it (whose dirty
    pages count against a job's memory) is ever resident.
    """
    shape = (len(items), IMAGENETTE_SIDE, IMAGENETTE_SIDE, 3)
    path = work / f"{split}-images.npy"
    started_s = time.monotonic()
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
            "fortran_order": False, "shape": shape})
        for i, (image_path, _) in enumerate(items):
            f.write(readers.read_imagenette_image(image_path, IMAGENETTE_SIDE).tobytes())
            if (i + 1) % PROGRESS_EVERY_IMAGES == 0 or i + 1 == len(items):
                rate = (i + 1) / max(time.monotonic() - started_s, 1e-6)
                log.info("%s: decoded %d of %d images (%.0f images/s)", split, i + 1, len(items),
                         rate)
    written = np.load(path, mmap_mode="r")
    if written.shape != shape or written.dtype != np.uint8:  # the header must describe the data
        raise RuntimeError(f"{path}: wrote {written.shape} {written.dtype}, meant {shape} uint8")
    np.save(work / f"{split}-labels.npy", np.array([label for _, label in items], dtype=np.int64))


def _prepare_imagenette(dataset: str, downloads: Path, work: Path, variant: int | None) -> dict:
    variant = official.imagenette_variant(dataset, variant)
    archive = _require(downloads / official.imagenette_archive(variant))
    extracted = work / "extracted"
    safe_extract(archive, extracted)
    root = extracted / official.imagenette_folder(variant)
    if not root.is_dir():
        raise DataFormatError(f"{archive}: has no top folder {root.name}/")
    for contract_split, archive_split in (("train", "train"), ("test", "val")):
        items = readers.list_imagenette_split(root, archive_split)
        log.info("%s: %d %s images (archive folder %s/)", dataset, len(items), contract_split,
                 archive_split)
        _decode_split(items, work, contract_split)
    shutil.rmtree(extracted)
    return {
        "classes": [official.IMAGENETTE_CLASSES[w][1] for w in official.IMAGENETTE_WNIDS],
        "sources": {archive.name: sha256_of(archive)},
        "imagenet_indices": [official.IMAGENETTE_CLASSES[w][0] for w in official.IMAGENETTE_WNIDS],
    }


# ---------------------------------------------------------------- the whole step

def _meta(dataset: str, fmt: str, work: Path, found: dict) -> dict:
    train_images = np.load(work / "train-images.npy", mmap_mode="r")
    test_images = np.load(work / "test-images.npy", mmap_mode="r")
    if len(train_images) == 0 or len(test_images) == 0:
        raise DataFormatError(f"{dataset}: an empty split ({len(train_images)} train, "
                              f"{len(test_images)} test images)")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataFormatError(f"{dataset}: train images {train_images.shape[1:]} and test images "
                              f"{test_images.shape[1:]} differ in shape")
    meta = {
        "dataset": dataset,
        "format": fmt,
        "classes": found["classes"],
        "image_shape": list(train_images.shape[1:]),
        "train_count": len(train_images),
        "test_count": len(test_images),
        "sources": found["sources"],
    }
    if "imagenet_indices" in found:
        meta["imagenet_indices"] = found["imagenet_indices"]
    return meta


def prepare(dataset: str, fmt: str, downloads: Path, out: Path, variant: int | None = None) -> dict:
    """Prepare `downloads` (official files) into `out`; return the meta.json content."""
    downloads, out = Path(downloads), Path(out)
    if fmt not in official.FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {official.FORMATS}")
    if not downloads.is_dir():
        raise DataFormatError(f"{downloads}: downloads folder missing")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.preparing-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        if fmt == "idx":
            found = _prepare_idx(dataset, downloads, work)
        elif fmt == "cifar10-binary":
            found = _prepare_cifar(dataset, downloads, work)
        else:
            found = _prepare_imagenette(dataset, downloads, work, variant)
        meta = _meta(dataset, fmt, work, found)
        problems = prepared_contract.meta_problems(meta)
        if problems:  # a bug of ours, not of the input: the contract is checked on both sides
            raise ValueError(f"{dataset}: meta.json would break the prepared-data contract: "
                             + "; ".join(problems))
        meta_path = work / prepared_contract.META_FILE
        (work / "meta.json.tmp").write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(work / "meta.json.tmp", meta_path)
        _swap_into_place(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("prepared %s -> %s: %d train, %d test images of %s", dataset, out,
             meta["train_count"], meta["test_count"], meta["image_shape"])
    return meta


def _swap_into_place(work: Path, out: Path) -> None:
    """Rename the finished folder to `out`, replacing an older preparation if there is one."""
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(work, out)
        shutil.rmtree(old)
    else:
        os.replace(work, out)
