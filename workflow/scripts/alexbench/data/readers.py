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

CHUNK_BYTES = 1 << 20


class IdxFile:
    """An open IDX file (gzip if its name ends in .gz) whose header has been read and checked.

    Nothing past the header is read until asked, and then never more than the header declares
    plus one byte (to see trailing bytes): a small .gz that inflates to gigabytes is refused
    after reading what its header promises, not after inflating all of it.

        with IdxFile(path, IDX_IMAGES_MAGIC, 3) as idx:
            count, rows, cols = idx.shape
            for chunk in idx.chunks():   # bytes, at most CHUNK_BYTES each
                ...
    """

    def __init__(self, path: Path, magic: int, dims: int, name: str | None = None):
        self.path = Path(path)
        self.name = name or str(self.path)  # what messages call the file
        self.magic = magic
        try:
            self._file = gzip.open(self.path, "rb") if self.path.suffix == ".gz" \
                else open(self.path, "rb")
        except FileNotFoundError as exc:
            raise DataFormatError(f"{self.name}: file not found") from exc
        try:
            self.shape = self._read_header(dims)
        except BaseException:
            self._file.close()
            raise
        self.data_bytes = int(np.prod(self.shape, dtype=np.int64))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._file.close()

    def _read(self, size: int) -> bytes:
        try:
            return self._file.read(size)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise DataFormatError(f"{self.name}: damaged gzip stream (truncated or corrupt): "
                                  f"{exc}") from exc

    def _read_header(self, dims: int) -> tuple[int, ...]:
        header_bytes = 4 + 4 * dims
        header = self._read(header_bytes)
        if len(header) < header_bytes:
            raise DataFormatError(f"{self.name}: {len(header)} bytes is shorter than the "
                                  f"{header_bytes}-byte IDX header")
        found_magic, *shape = struct.unpack(f">{1 + dims}I", header)
        if found_magic != self.magic:
            kind = "images" if self.magic == IDX_IMAGES_MAGIC else "labels"
            raise DataFormatError(f"{self.name}: IDX magic number {found_magic}, expected "
                                  f"{self.magic} ({kind})")
        return tuple(shape)

    def describe_shape(self) -> str:
        return " x ".join(map(str, self.shape))

    def chunks(self, chunk_bytes: int = CHUNK_BYTES):
        """The data bytes the header declares, in chunks; then checks nothing follows them."""
        remaining = self.data_bytes
        while remaining:
            chunk = self._read(min(chunk_bytes, remaining))
            if not chunk:
                got = self.data_bytes - remaining
                raise DataFormatError(f"{self.name}: header says {self.describe_shape()} but "
                                      f"the file holds {got} data bytes, expected "
                                      f"{self.data_bytes} (truncated)")
            remaining -= len(chunk)
            yield chunk
        if self._read(1):
            raise DataFormatError(f"{self.name}: header says {self.describe_shape()} but the "
                                  f"file holds more than the {self.data_bytes} data bytes that "
                                  f"declares (trailing bytes)")

    def read_all(self) -> bytes:
        return b"".join(self.chunks())


def read_idx_images(path: Path) -> np.ndarray:
    """uint8 images of shape (N, rows, cols) from an IDX3 file (gzip if it ends in .gz)."""
    with IdxFile(path, IDX_IMAGES_MAGIC, 3) as idx:
        count, rows, cols = idx.shape
        if rows == 0 or cols == 0:
            raise DataFormatError(f"{idx.name}: images of size {rows} x {cols}")
        data = idx.read_all()
    return np.frombuffer(data, dtype=np.uint8).reshape(count, rows, cols)


def check_labels(labels: np.ndarray, num_classes: int, name: str, first_index: int = 0) -> None:
    """Raise DataFormatError naming the file and the record of the first label >= num_classes."""
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise DataFormatError(f"{name}: label {labels[bad[0]]} out of range "
                              f"0..{num_classes - 1} (record {first_index + bad[0]})")


def read_idx_labels(path: Path, num_classes: int = 10) -> np.ndarray:
    """int64 labels of shape (N,) from an IDX1 file; every label must be below num_classes."""
    with IdxFile(path, IDX_LABELS_MAGIC, 1) as idx:
        labels = np.frombuffer(idx.read_all(), dtype=np.uint8).astype(np.int64)
        check_labels(labels, num_classes, idx.name)
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

CIFAR_BATCH_RECORDS = 10_000  # every official batch; a larger one is not CIFAR-10
CIFAR_BATCH_MAX_BYTES = CIFAR_BATCH_RECORDS * CIFAR_RECORD_BYTES


def cifar_batch_records(path: Path, name: str | None = None) -> int:
    """How many records the batch file holds, from its size (checked, nothing read)."""
    name = name or str(path)
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError as exc:
        raise DataFormatError(f"{name}: file not found") from exc
    if size == 0 or size % CIFAR_RECORD_BYTES:
        raise DataFormatError(f"{name}: {size} bytes is not a whole number of "
                              f"{CIFAR_RECORD_BYTES}-byte CIFAR-10 records")
    if size > CIFAR_BATCH_MAX_BYTES:
        raise DataFormatError(f"{name}: {size // CIFAR_RECORD_BYTES} records, more than the "
                              f"{CIFAR_BATCH_RECORDS} of a CIFAR-10 batch")
    return size // CIFAR_RECORD_BYTES


def read_cifar_batch(path: Path, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8 NHWC, labels (N,) int64) from one CIFAR-10 .bin batch.

    `name` is what messages call the file (e.g. the archive and member it came from).
    """
    path = Path(path)
    name = name or str(path)
    cifar_batch_records(path, name)  # size checked before reading
    data = path.read_bytes()
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels >= CIFAR_CLASSES)
    if bad.size:
        raise DataFormatError(f"{name}: record {bad[0]} has label {labels[bad[0]]}, "
                              f"expected 0..{CIFAR_CLASSES - 1} (not a CIFAR-10 batch?)")
    # Each record stores whole colour planes (CHW); training wants HWC.
    images = records[:, 1:].reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def read_cifar_class_names(path: Path, name: str | None = None) -> list[str]:
    """The 10 class names of batches.meta.txt (one a line; blank lines ignored)."""
    path = Path(path)
    shown = name or str(path)
    try:
        names = [line.strip() for line in path.read_text(encoding="ascii").splitlines()]
    except FileNotFoundError as exc:
        raise DataFormatError(f"{shown}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{shown}: not an ASCII text file: {exc}") from exc
    names = [n for n in names if n]
    if len(names) != CIFAR_CLASSES or len(set(names)) != CIFAR_CLASSES:
        raise DataFormatError(f"{shown}: expected {CIFAR_CLASSES} distinct class names, "
                              f"found {len(names)}: {names}")
    return names


# ---------------------------------------------------------------- Imagenette (JPEG folders)

def list_imagenette_split(root: Path, split: str,
                          shown_root: str | None = None) -> list[tuple[Path, int]]:
    """(JPEG path, label 0-9) for every image of `root/split/<wnid>/`, in sorted order.

    The split must hold exactly the 10 Imagenette class folders, each with at least one image.
    Messages call `root` `shown_root` (e.g. the archive it was extracted from), when given.
    """
    split_dir = Path(root) / split
    shown_split = f"{shown_root}/{split}" if shown_root else str(split_dir)
    if not split_dir.is_dir():
        raise DataFormatError(f"{shown_split}: missing (an Imagenette archive has train/ and "
                              f"val/)")
    folders = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    unexpected = sorted(set(folders) - set(IMAGENETTE_WNIDS))
    missing = sorted(set(IMAGENETTE_WNIDS) - set(folders))
    if unexpected or missing:
        raise DataFormatError(f"{shown_split}: class folders must be the 10 Imagenette WordNet ids; "
                              f"unexpected {unexpected}, missing {missing}")
    items = []
    for label, wnid in enumerate(IMAGENETTE_WNIDS):
        files = sorted(p for p in (split_dir / wnid).iterdir()
                       if p.is_file() and p.suffix.lower() in (".jpeg", ".jpg"))
        if not files:
            raise DataFormatError(f"{shown_split}/{wnid}: no JPEG images")
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


def read_imagenette_image(path: Path, side: int = 256, name: str | None = None) -> np.ndarray:
    """uint8 (side, side, 3): RGB, shorter side resized to `side` (bilinear), centre-cropped.

    `name` is what messages call the file (e.g. the archive and member it came from).
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()  # decode now, so a truncated file fails here with its name
            rgb = image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataFormatError(f"{name or path}: cannot decode image: {exc}") from exc
    return np.asarray(centre_crop(resize_shorter_side(rgb, side), side), dtype=np.uint8)
