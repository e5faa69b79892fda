"""Read the datasets' official file formats into numpy arrays, checking each file as it goes.

IDX (MNIST, Fashion-MNIST), CIFAR-10 binary batches, and Imagenette's folder of JPEGs. Every
problem raises DataFormatError naming the file and what is wrong with it, so a damaged download
or a wrong mirror is reported as such rather than as a shape error deep in training.

Not for: downloading, unpacking (`archive.py`) or writing the prepared form (`prepare.py`).
"""
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from alexbench.data.official import IMAGENETTE_WNIDS

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049

CIFAR_SIDE = 32
CIFAR_RECORD_BYTES = 1 + 3 * CIFAR_SIDE * CIFAR_SIDE  # label byte, then R, G, B planes
CIFAR_CLASSES = 10


class DataFormatError(ValueError):
    """A dataset file is not in the format it should be; the message names the file."""


# ---------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)

def _read_maybe_gzip(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: file not found") from exc
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: damaged gzip stream (truncated or corrupt): {exc}") from exc


def _idx_header(path: Path, data: bytes, magic: int, dims: int) -> tuple[int, ...]:
    header_bytes = 4 + 4 * dims
    if len(data) < header_bytes:
        raise DataFormatError(f"{path}: {len(data)} bytes is shorter than the {header_bytes}-byte "
                              f"IDX header")
    found_magic, *shape = struct.unpack(f">{1 + dims}I", data[:header_bytes])
    if found_magic != magic:
        raise DataFormatError(f"{path}: IDX magic number {found_magic}, expected {magic} "
                              f"({'images' if magic == IDX_IMAGES_MAGIC else 'labels'})")
    expected = header_bytes + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "trailing bytes"
        raise DataFormatError(f"{path}: header says {' x '.join(map(str, shape))} but the file "
                              f"holds {len(data) - header_bytes} data bytes, expected "
                              f"{expected - header_bytes} ({problem})")
    return tuple(shape)


def read_idx_images(path: Path) -> np.ndarray:
    """uint8 images of shape (N, rows, cols) from an IDX3 file (gzip if it ends in .gz)."""
    path = Path(path)
    data = _read_maybe_gzip(path)
    count, rows, cols = _idx_header(path, data, IDX_IMAGES_MAGIC, 3)
    if rows == 0 or cols == 0:
        raise DataFormatError(f"{path}: images of size {rows} x {cols}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_labels(path: Path, num_classes: int = 10) -> np.ndarray:
    """int64 labels of shape (N,) from an IDX1 file; every label must be below num_classes."""
    path = Path(path)
    data = _read_maybe_gzip(path)
    _idx_header(path, data, IDX_LABELS_MAGIC, 1)
    labels = np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)
    if labels.size and labels.max() >= num_classes:
        raise DataFormatError(f"{path}: label {labels.max()} out of range 0..{num_classes - 1}")
    return labels


def read_idx_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W, 1) uint8, labels (N,) int64) from a pair of IDX files of equal count."""
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise DataFormatError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                              f"{len(labels)} labels")
    return images[..., np.newaxis], labels


# ---------------------------------------------------------------- CIFAR-10 binary

def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8 NHWC, labels (N,) int64) from one CIFAR-10 .bin batch."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: file not found") from exc
    if len(data) == 0 or len(data) % CIFAR_RECORD_BYTES:
        raise DataFormatError(f"{path}: {len(data)} bytes is not a whole number of "
                              f"{CIFAR_RECORD_BYTES}-byte CIFAR-10 records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels >= CIFAR_CLASSES)
    if bad.size:
        raise DataFormatError(f"{path}: record {bad[0]} has label {labels[bad[0]]}, "
                              f"expected 0..{CIFAR_CLASSES - 1} (not a CIFAR-10 batch?)")
    # Each record stores whole colour planes (CHW); training wants HWC.
    images = records[:, 1:].reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar_class_names(path: Path) -> list[str]:
    """The 10 class names of batches.meta.txt (one a line; blank lines ignored)."""
    path = Path(path)
    try:
        names = [line.strip() for line in path.read_text(encoding="ascii").splitlines()]
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not an ASCII text file: {exc}") from exc
    names = [n for n in names if n]
    if len(names) != CIFAR_CLASSES or len(set(names)) != CIFAR_CLASSES:
        raise DataFormatError(f"{path}: expected {CIFAR_CLASSES} distinct class names, "
                              f"found {len(names)}: {names}")
    return names


# ---------------------------------------------------------------- Imagenette (JPEG folders)

def list_imagenette_split(root: Path, split: str) -> list[tuple[Path, int]]:
    """(JPEG path, label 0-9) for every image of `root/split/<wnid>/`, in sorted order.

    The split must hold exactly the 10 Imagenette class folders, each with at least one image.
    """
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise DataFormatError(f"{split_dir}: missing (an Imagenette archive has train/ and val/)")
    folders = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    unexpected = sorted(set(folders) - set(IMAGENETTE_WNIDS))
    missing = sorted(set(IMAGENETTE_WNIDS) - set(folders))
    if unexpected or missing:
        raise DataFormatError(f"{split_dir}: class folders must be the 10 Imagenette WordNet ids; "
                              f"unexpected {unexpected}, missing {missing}")
    items = []
    for label, wnid in enumerate(IMAGENETTE_WNIDS):
        files = sorted(p for p in (split_dir / wnid).iterdir()
                       if p.is_file() and p.suffix.lower() in (".jpeg", ".jpg"))
        if not files:
            raise DataFormatError(f"{split_dir / wnid}: no JPEG images")
        items.extend((f, label) for f in files)
    return items


def resize_shorter_side(image: Image.Image, side: int) -> Image.Image:
    """Scale (bilinear) so the shorter side is exactly `side` pixels, keeping the aspect ratio."""
    width, height = image.size
    scale = side / min(width, height)
    size = (side, max(side, round(height * scale))) if width <= height else \
        (max(side, round(width * scale)), side)
    return image.resize(size, Image.BILINEAR)


def centre_crop(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def read_imagenette_image(path: Path, side: int = 256) -> np.ndarray:
    """uint8 (side, side, 3): RGB, shorter side resized to `side` (bilinear), centre-cropped."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()  # decode now, so a truncated file fails here with its name
            rgb = image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataFormatError(f"{path}: cannot decode image: {exc}") from exc
    return np.asarray(centre_crop(resize_shorter_side(rgb, side), side), dtype=np.uint8)
