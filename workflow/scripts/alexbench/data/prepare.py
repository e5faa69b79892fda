"""Turn a dataset's verified official files into the framework-neutral form training reads.

Output (docs/design.md, "Data contract"), in `resources/prepared/{dataset}/`:
`train-images.npy`, `test-images.npy` (uint8 NHWC), `train-labels.npy`, `test-labels.npy`
(int64), and `meta.json` last. Everything is written into a temporary sibling folder that is
renamed into place at the end, so an interrupted preparation leaves nothing that looks
complete. Memory stays small whatever the input: IDX files are copied chunk by chunk after
their headers were checked against config (never more than a header declares is inflated),
CIFAR-10 batches one at a time, Imagenette JPEGs decoded one at a time; archives are size-checked
member by member before extraction (`archive.MemberPolicy`). Errors about archive contents name
the downloaded archive and the member, never the temporary folder.

Not for: downloading or checking checksums (done before), nor per-variant preprocessing such
as crops and scaling (`alexbench.common.preprocess`).
"""
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexbench.common import prepared_contract
from alexbench.data import official, readers
from alexbench.data.archive import MemberPolicy, safe_extract
from alexbench.data.download import sha256_of
from alexbench.data.readers import DataFormatError

log = logging.getLogger("alexbench.data.prepare")

IMAGENETTE_SIDE = 256
PROGRESS_EVERY_IMAGES = 1000
DEFAULT_MAX_INFLATED_MB = 2048
# No Imagenette JPEG comes near this; a larger member is not a photo of that dataset.
IMAGENETTE_MAX_IMAGE_BYTES = 50 << 20
# Small text members the official archives carry (class names, notes, label lists).
TEXT_MEMBER_MAX_BYTES = 16 << 20


@dataclass(frozen=True)
class DatasetSpec:
    """What config.yaml declares a dataset to be; anything else is refused by file name."""
    image_shape: tuple[int, int, int]      # one prepared image, (H, W, C)
    classes: int
    max_inflated_mb: int = DEFAULT_MAX_INFLATED_MB

    @property
    def max_inflated_bytes(self) -> int:
        return self.max_inflated_mb << 20


def _require(path: Path, shown: str | None = None) -> Path:
    if not path.is_file():
        raise DataFormatError(f"{shown or path}: missing (expected an official dataset file here)")
    return path


class _NpyStream:
    """Write a .npy file of known shape and dtype chunk by chunk, so a split is never resident.

    Streaming writes keep memory flat: neither the whole split nor a mapping of it (whose
    dirty pages count against a job's memory) is ever held.
    """

    def __init__(self, path: Path, dtype, shape: tuple[int, ...]):
        self.path, self.dtype, self.shape = path, np.dtype(dtype), shape
        self.expected_bytes = int(np.prod(shape, dtype=np.int64)) * self.dtype.itemsize
        self.written_bytes = 0
        self._file = open(path, "wb")
        np.lib.format.write_array_header_1_0(self._file, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
            "shape": shape})

    def write(self, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array, dtype=self.dtype).tobytes()
        self.written_bytes += len(data)
        self._file.write(data)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        self._file.close()
        if exc_type is None and self.written_bytes != self.expected_bytes:
            # The header must describe the data.
            raise RuntimeError(f"{self.path}: wrote {self.written_bytes} bytes, meant "
                               f"{self.shape} {self.dtype}")


def _check_spec(dataset: str, spec: DatasetSpec, shape, classes: int, why: str) -> None:
    if tuple(spec.image_shape) != tuple(shape) or spec.classes != classes:
        raise ValueError(
            f"config declares {dataset} as {list(spec.image_shape)} images of {spec.classes} "
            f"classes (datasets.{dataset}.image_shape / classes), but {why} "
            f"{list(shape)} images of {classes} classes")


# ---------------------------------------------------------------- per format

def _stream_idx_split(dataset: str, spec: DatasetSpec, images_path: Path, labels_path: Path,
                      work: Path, split: str) -> int:
    """Copy one IDX pair into .npy files, chunk by chunk, after checking both headers."""
    height, width, channels = spec.image_shape
    with readers.IdxFile(images_path, readers.IDX_IMAGES_MAGIC, 3) as images, \
            readers.IdxFile(labels_path, readers.IDX_LABELS_MAGIC, 1) as labels:
        count, rows, cols = images.shape
        if (rows, cols, 1) != (height, width, channels):
            raise DataFormatError(
                f"{images_path}: images of {rows} x {cols} pixels, but config declares {dataset} "
                f"images as {height} x {width} x {channels} (datasets.{dataset}.image_shape)")
        if images.data_bytes > spec.max_inflated_bytes:
            raise DataFormatError(
                f"{images_path}: header declares {count} images ({images.data_bytes:,} bytes), "
                f"more than the {spec.max_inflated_mb} MB limit (max_inflated_mb in config)")
        if labels.shape[0] != count:
            raise DataFormatError(f"{images_path} holds {count} images but {labels_path} holds "
                                  f"{labels.shape[0]} labels")
        with _NpyStream(work / f"{split}-images.npy", np.uint8, (count, rows, cols, 1)) as out:
            for chunk in images.chunks():
                out.write(np.frombuffer(chunk, dtype=np.uint8))
        with _NpyStream(work / f"{split}-labels.npy", np.int64, (count,)) as out:
            for chunk in labels.chunks():
                values = np.frombuffer(chunk, dtype=np.uint8)
                readers.check_labels(values, spec.classes, str(labels_path),
                                     out.written_bytes // 8)
                out.write(values)
    return count


def _prepare_idx(dataset: str, downloads: Path, work: Path, spec: DatasetSpec) -> dict:
    if dataset not in official.IDX_CLASS_NAMES:
        raise ValueError(f"no class names known for IDX dataset {dataset!r}; "
                         f"known: {sorted(official.IDX_CLASS_NAMES)}")
    names = official.IDX_CLASS_NAMES[dataset]
    if spec.classes != len(names) or spec.image_shape[2] != 1:
        _check_spec(dataset, spec, (*spec.image_shape[:2], 1), len(names),
                    f"{dataset}'s IDX files hold")
    sources = {}
    for split, (images_name, labels_name) in official.IDX_FILES.items():
        images_path = _require(downloads / images_name)
        labels_path = _require(downloads / labels_name)
        count = _stream_idx_split(dataset, spec, images_path, labels_path, work, split)
        sources[images_name], sources[labels_name] = sha256_of(images_path), sha256_of(labels_path)
        log.info("%s: %d %s images of %s", dataset, count, split, list(spec.image_shape))
    return {"classes": names, "sources": sources}


def _cifar_policy(spec: DatasetSpec) -> MemberPolicy:
    folder = official.CIFAR_FOLDER
    batches = {f"{folder}/{name}"
               for name in (*official.CIFAR_TRAIN_BATCHES, official.CIFAR_TEST_BATCH)}
    texts = {f"{folder}/{official.CIFAR_META}", f"{folder}/readme.html"}

    def limit(name: str):
        if name in batches:
            return readers.CIFAR_BATCH_MAX_BYTES, "a CIFAR-10 batch (10,000 records)"
        if name in texts:
            return TEXT_MEMBER_MAX_BYTES, "a text member"
        return None

    return MemberPolicy(limit, spec.max_inflated_bytes)


def _prepare_cifar(dataset: str, downloads: Path, work: Path, spec: DatasetSpec) -> dict:
    shape = (readers.CIFAR_SIDE, readers.CIFAR_SIDE, 3)
    _check_spec(dataset, spec, shape, readers.CIFAR_CLASSES, "the CIFAR-10 binary format holds")
    archive = _require(downloads / official.CIFAR_ARCHIVE)
    extracted = work / "extracted"
    safe_extract(archive, extracted, _cifar_policy(spec))
    folder = extracted / official.CIFAR_FOLDER

    def shown(name: str) -> str:  # the temporary folder is gone by the time anyone reads this
        return f"{archive}, member {official.CIFAR_FOLDER}/{name}"

    splits = (("train", official.CIFAR_TRAIN_BATCHES), ("test", (official.CIFAR_TEST_BATCH,)))
    for split, names in splits:
        counts = [readers.cifar_batch_records(_require(folder / n, shown(n)), shown(n))
                  for n in names]
        with _NpyStream(work / f"{split}-images.npy", np.uint8, (sum(counts), *shape)) as images, \
                _NpyStream(work / f"{split}-labels.npy", np.int64, (sum(counts),)) as labels:
            for name in names:  # one batch (at most 30 MB) in memory at a time
                batch_images, batch_labels = readers.read_cifar_batch(folder / name, shown(name))
                images.write(batch_images)
                labels.write(batch_labels)
        log.info("%s: %d %s images", dataset, sum(counts), split)
    meta_name = official.CIFAR_META
    classes = readers.read_cifar_class_names(_require(folder / meta_name, shown(meta_name)),
                                             shown(meta_name))
    shutil.rmtree(extracted)
    return {"classes": classes, "sources": {archive.name: sha256_of(archive)}}


def _decode_split(items: list, work: Path, split: str, shown) -> None:
    """Decode (path, label) items one by one, appending each image to a .npy file."""
    shape = (len(items), IMAGENETTE_SIDE, IMAGENETTE_SIDE, 3)
    started_s = time.monotonic()
    with _NpyStream(work / f"{split}-images.npy", np.uint8, shape) as out:
        for i, (image_path, _) in enumerate(items):
            out.write(readers.read_imagenette_image(image_path, IMAGENETTE_SIDE,
                                                    shown(image_path)))
            if (i + 1) % PROGRESS_EVERY_IMAGES == 0 or i + 1 == len(items):
                rate = (i + 1) / max(time.monotonic() - started_s, 1e-6)
                log.info("%s: decoded %d of %d images (%.0f images/s)", split, i + 1, len(items),
                         rate)
    np.save(work / f"{split}-labels.npy", np.array([label for _, label in items], dtype=np.int64))


def _imagenette_policy(variant: int, spec: DatasetSpec) -> MemberPolicy:
    top = re.escape(official.imagenette_folder(variant))
    image = re.compile(rf"{top}/({'|'.join(official.IMAGENETTE_SPLITS)})/[^/]+/[^/]+")
    text = f"{official.imagenette_folder(variant)}/{official.IMAGENETTE_NOISY_CSV}"

    def limit(name: str):
        if image.fullmatch(name):
            return IMAGENETTE_MAX_IMAGE_BYTES, "an Imagenette image"
        if name == text:
            return TEXT_MEMBER_MAX_BYTES, "a text member"
        return None

    return MemberPolicy(limit, spec.max_inflated_bytes)


def _prepare_imagenette(dataset: str, downloads: Path, work: Path, variant: int | None,
                        spec: DatasetSpec) -> dict:
    variant = official.imagenette_variant(dataset, variant)
    _check_spec(dataset, spec, (IMAGENETTE_SIDE, IMAGENETTE_SIDE, 3),
                len(official.IMAGENETTE_WNIDS), "preparation makes Imagenette")
    archive = _require(downloads / official.imagenette_archive(variant))
    extracted = work / "extracted"
    safe_extract(archive, extracted, _imagenette_policy(variant, spec))
    root = extracted / official.imagenette_folder(variant)
    if not root.is_dir():
        raise DataFormatError(f"{archive}: has no top folder {root.name}/")

    def shown(path: Path) -> str:  # the temporary folder is gone by the time anyone reads this
        return f"{archive}, member {path.relative_to(extracted).as_posix()}"

    for contract_split, archive_split in (("train", "train"), ("test", "val")):
        items = readers.list_imagenette_split(root, archive_split, shown(root))
        log.info("%s: %d %s images (archive folder %s/)", dataset, len(items), contract_split,
                 archive_split)
        _decode_split(items, work, contract_split, shown)
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


def prepare(dataset: str, fmt: str, downloads: Path, out: Path, spec: DatasetSpec,
            variant: int | None = None) -> dict:
    """Prepare `downloads` (official files) into `out`; return the meta.json content.

    `spec` is what config.yaml declares the dataset to be: files that disagree are refused.
    """
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
            found = _prepare_idx(dataset, downloads, work, spec)
        elif fmt == "cifar10-binary":
            found = _prepare_cifar(dataset, downloads, work, spec)
        else:
            found = _prepare_imagenette(dataset, downloads, work, variant, spec)
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
