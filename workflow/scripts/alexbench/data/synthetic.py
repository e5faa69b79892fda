"""Small datasets in the official file formats, for tests and the demo mode.

The files have the official names, containers and layouts (gzip'd IDX files, the CIFAR-10
binary tar.gz, Imagenette's .tgz of JPEG folders), so they travel the same download, extract
and prepare path as the real data. Images are learnable: each class draws its own pattern (a
band or a centred box at a class-specific height, in a class-specific colour) under noise.
The patterns are left-right symmetric, so horizontal-flip augmentation keeps them apart.

Output is a pure function of (dataset, format, seed, counts): gzip and tar headers carry fixed
times and owners, so the same arguments give byte-identical archives. `SHA256SUMS` (sha256sum
format) is written last.

Not for: benchmarking accuracy (the patterns are far easier than the real data).
"""
import csv
import gzip
import hashlib
import io
import logging
import os
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from alexbench.data import official

log = logging.getLogger("alexbench.data.synthetic")

NUM_CLASSES = 10
FIXED_MTIME = 1_577_836_800  # 2020-01-01T00:00:00Z, in every tar and gzip header
JPEG_QUALITY = 90
SUMS_FILE = "SHA256SUMS"

DEFAULT_COUNTS = {  # format -> (train, test); Imagenette: about 20 images a class a split
    "idx": (512, 256),
    "cifar10-binary": (512, 256),
    "imagenette": (200, 200),
}
# 10 colours far enough apart that colour alone nearly separates the classes.
CLASS_COLOURS = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190),
], dtype=np.float32)


# ---------------------------------------------------------------- images

def _rng(dataset: str, seed: int, purpose: str) -> np.random.Generator:
    # Different datasets (and splits) with the same seed must not share images.
    return np.random.default_rng([seed, zlib.crc32(f"{dataset}/{purpose}".encode())])


def balanced_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    """Labels 0-9 in equal shares (as equal as `count` allows), shuffled."""
    return rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)


def class_image(label: int, side: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """A (side, side, channels) uint8 image of class `label`'s pattern under noise.

    Classes 0-4 draw a full-width band, 5-9 a centred box, at one of five heights; both are
    left-right symmetric. A small random vertical shift keeps the task from being a lookup.
    """
    row, kind = label % 5, label // 5
    band_height = max(side // 6, 2)
    centre = (row + 0.5) * side / 5 + rng.normal(0, side / 40)
    top = int(np.clip(round(centre - band_height / 2), 0, side - band_height))
    image = rng.normal(40, 25, size=(side, side, channels)).astype(np.float32)
    colour = CLASS_COLOURS[label] if channels == 3 else np.array([220.0], np.float32)
    if kind == 0:
        left, right = 0, side
    else:
        half = max(side // 5, 1)
        left, right = side // 2 - half, side // 2 + half
    image[top:top + band_height, left:right] = colour + rng.normal(0, 20, size=(
        band_height, right - left, channels))
    return np.clip(image, 0, 255).astype(np.uint8)


def class_images(labels: np.ndarray, side: int, channels: int,
                 rng: np.random.Generator) -> np.ndarray:
    return np.stack([class_image(int(y), side, channels, rng) for y in labels]) if len(labels) \
        else np.zeros((0, side, side, channels), np.uint8)


# ---------------------------------------------------------------- deterministic containers

def gzip_bytes(data: bytes, name: str) -> bytes:
    """gzip `data` with a fixed header (mtime, name), so equal data gives equal bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buffer, mtime=FIXED_MTIME) as f:
        f.write(data)
    return buffer.getvalue()


def tar_gz_bytes(archive_name: str, files: dict[str, bytes]) -> bytes:
    """A gzip'd tar of `files` (member name -> bytes) plus their parent folders, with fixed
    metadata (mtime, owner, modes) and sorted member order."""
    folders = set()
    for name in files:
        parts = name.split("/")[:-1]
        folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(folders | set(files)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
            if name in files:
                info.mode, info.size = 0o644, len(files[name])
                tar.addfile(info, io.BytesIO(files[name]))
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
    return gzip_bytes(raw.getvalue(), archive_name.removesuffix(".gz").removesuffix(".tgz"))


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------- formats

def _idx_files(dataset: str, seed: int, train_count: int, test_count: int) -> dict[str, bytes]:
    files = {}
    for split, count in (("train", train_count), ("test", test_count)):
        rng = _rng(dataset, seed, split)
        labels = balanced_labels(count, rng)
        images = class_images(labels, 28, 1, rng)[..., 0]
        images_name, labels_name = official.IDX_FILES[split]
        files[images_name] = gzip_bytes(
            struct.pack(">4I", 2051, count, 28, 28) + images.tobytes(), images_name)
        files[labels_name] = gzip_bytes(
            struct.pack(">2I", 2049, count) + labels.astype(np.uint8).tobytes(), labels_name)
    return files


def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: label byte, then the R, G and B planes (row-major)."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels.astype(np.uint8)[:, None], planes], axis=1).tobytes()


def _cifar_files(dataset: str, seed: int, train_count: int, test_count: int) -> dict[str, bytes]:
    if train_count < len(official.CIFAR_TRAIN_BATCHES) or test_count < 1:
        raise ValueError(f"cifar10-binary needs at least {len(official.CIFAR_TRAIN_BATCHES)} "
                         f"training images (one per batch file) and 1 test image")
    folder = official.CIFAR_FOLDER
    members = {
        # The original ends with a blank line too.
        f"{folder}/{official.CIFAR_META}":
            ("\n".join(official.CIFAR_CLASS_NAMES) + "\n\n").encode(),
        f"{folder}/readme.html": b"<html><body>Synthetic CIFAR-10 (alexbench demo data): same "
                                 b"binary format as the original.</body></html>\n",
    }
    rng = _rng(dataset, seed, "train")
    labels = balanced_labels(train_count, rng)
    images = class_images(labels, 32, 3, rng)
    batches = np.array_split(np.arange(train_count), len(official.CIFAR_TRAIN_BATCHES))
    for name, index in zip(official.CIFAR_TRAIN_BATCHES, batches):
        members[f"{folder}/{name}"] = cifar_records(images[index], labels[index])
    rng = _rng(dataset, seed, "test")
    labels = balanced_labels(test_count, rng)
    members[f"{folder}/{official.CIFAR_TEST_BATCH}"] = cifar_records(
        class_images(labels, 32, 3, rng), labels)
    return {official.CIFAR_ARCHIVE: tar_gz_bytes(official.CIFAR_ARCHIVE, members)}


def imagenette_jpeg(label: int, shorter_side: int, rng: np.random.Generator,
                    grayscale: bool = False) -> bytes:
    """A JPEG whose shorter side is `shorter_side`, with the class pattern in the centred
    square (the part that preparation's centre crop keeps) and noise beside it."""
    aspect = rng.choice([1.0, 1.25, 4 / 3, 1.5])
    longer_side = int(round(shorter_side * aspect))
    portrait = rng.random() < 0.25
    height, width = (longer_side, shorter_side) if portrait else (shorter_side, longer_side)
    canvas = np.clip(rng.normal(40, 25, size=(height, width, 3)), 0, 255).astype(np.uint8)
    top, left = (height - shorter_side) // 2, (width - shorter_side) // 2
    canvas[top:top + shorter_side, left:left + shorter_side] = class_image(
        label, shorter_side, 3, rng)
    image = Image.fromarray(canvas, "RGB")
    if grayscale:  # the real archive holds some single-channel JPEGs too
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _imagenette_files(dataset: str, seed: int, train_count: int, test_count: int,
                      variant: int) -> dict[str, bytes]:
    if min(train_count, test_count) < NUM_CLASSES:
        raise ValueError(f"imagenette needs at least {NUM_CLASSES} images per split "
                         f"(every class folder must hold one)")
    folder = official.imagenette_folder(variant)
    members, csv_rows = {}, []
    for split, count in (("train", train_count), ("val", test_count)):
        rng = _rng(dataset, seed, split)
        labels = np.sort(balanced_labels(count, rng))
        numbers = rng.choice(50_000, size=count, replace=False) + 1
        for i, (label, number) in enumerate(zip(labels, numbers)):
            wnid = official.IMAGENETTE_WNIDS[label]
            file_name = (f"{wnid}_{number}.JPEG" if split == "train"
                         else f"ILSVRC2012_val_{number:08d}.JPEG")
            relpath = f"{split}/{wnid}/{file_name}"
            members[f"{folder}/{relpath}"] = imagenette_jpeg(
                int(label), variant, rng, grayscale=(split == "train" and i == 0))
            csv_rows.append([relpath] + [wnid] * 5 + [str(split == "val")])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "noisy_labels_0", "noisy_labels_1", "noisy_labels_5",
                     "noisy_labels_25", "noisy_labels_50", "is_valid"])
    writer.writerows(csv_rows)
    members[f"{folder}/{official.IMAGENETTE_NOISY_CSV}"] = text.getvalue().encode()
    archive = official.imagenette_archive(variant)
    return {archive: tar_gz_bytes(archive, members)}


def synthesize(dataset: str, fmt: str, out: Path, seed: int = 0, train_count: int | None = None,
               test_count: int | None = None, variant: int | None = None) -> dict[str, str]:
    """Write the dataset's official files into `out`, then SHA256SUMS; return {file: sha256}."""
    if fmt not in official.FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {official.FORMATS}")
    default_train, default_test = DEFAULT_COUNTS[fmt]
    train_count = default_train if train_count is None else train_count
    test_count = default_test if test_count is None else test_count
    if train_count < 1 or test_count < 1:
        raise ValueError("--train-count and --test-count must be at least 1")
    if fmt == "idx":
        files = _idx_files(dataset, seed, train_count, test_count)
    elif fmt == "cifar10-binary":
        files = _cifar_files(dataset, seed, train_count, test_count)
    else:
        files = _imagenette_files(dataset, seed, train_count, test_count,
                                  official.imagenette_variant(dataset, variant))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, data in sorted(files.items()):
        write_atomic(out / name, data)
        sums[name] = hashlib.sha256(data).hexdigest()
        log.info("wrote %s (%d bytes, sha256 %s)", out / name, len(data), sums[name])
    # Last: its presence says every file above is complete.
    write_atomic(out / SUMS_FILE, "".join(f"{h}  {n}\n" for n, h in sorted(sums.items())).encode())
    return sums
