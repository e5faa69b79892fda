"""Official-format readers: they decode the formats as specified (docs/datasets.md) and reject damaged
files with an error that names the file and the problem."""
import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alexbench.data import readers
from alexbench.data.official import IMAGENETTE_WNIDS
from alexbench.data.readers import DataFormatError


def write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


def idx_images(count=3, rows=4, cols=5, magic=2051) -> bytes:
    pixels = np.arange(count * rows * cols, dtype=np.uint64) * 7919 % 256  # position-dependent
    return struct.pack(">4I", magic, count, rows, cols) + pixels.astype(np.uint8).tobytes()


def idx_labels(labels, magic=2049) -> bytes:
    return struct.pack(">2I", magic, len(labels)) + bytes(labels)


# ---------------------------------------------------------------- IDX

def test_idx_pair_is_read_as_nhwc_and_int64(tmp_path):
    images, labels = readers.read_idx_split(write_gz(tmp_path / "i.gz", idx_images()),
                                            write_gz(tmp_path / "l.gz", idx_labels([7, 0, 9])))
    assert images.shape == (3, 4, 5, 1) and images.dtype == np.uint8
    assert images[1, 0, 2, 0] == (20 + 2) * 7919 % 256  # row-major after the 16-byte header
    assert labels.tolist() == [7, 0, 9] and labels.dtype == np.int64


@pytest.mark.parametrize("data, problem", [
    (idx_images(magic=2049), "magic number 2049, expected 2051"),
    (idx_images()[:-7], "truncated"),
    (idx_images() + b"\0", "trailing bytes"),
    (b"\0\0\x08", "shorter than the 16-byte IDX header"),
], ids=["bad-magic", "truncated-data", "trailing-data", "no-header"])
def test_damaged_idx_images_name_file_and_problem(tmp_path, data, problem):
    path = write_gz(tmp_path / "train-images-idx3-ubyte.gz", data)
    with pytest.raises(DataFormatError) as excinfo:
        readers.read_idx_images(path)
    assert str(path) in str(excinfo.value) and problem in str(excinfo.value)


def test_truncated_gzip_stream_names_file(tmp_path):
    whole = gzip.compress(idx_images(count=200, rows=28, cols=28))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(DataFormatError, match=f"{path}: damaged gzip stream"):
        readers.read_idx_images(path)


def test_idx_label_magic_and_range_are_checked(tmp_path):
    path = write_gz(tmp_path / "labels.gz", idx_labels([1, 2], magic=2051))
    with pytest.raises(DataFormatError, match="magic number 2051, expected 2049"):
        readers.read_idx_labels(path)
    path = write_gz(tmp_path / "labels.gz", idx_labels([1, 10]))
    with pytest.raises(DataFormatError, match=f"{path}: label 10 out of range"):
        readers.read_idx_labels(path)


def test_idx_image_and_label_counts_must_match(tmp_path):
    images = write_gz(tmp_path / "images.gz", idx_images(count=3))
    labels = write_gz(tmp_path / "labels.gz", idx_labels([1, 2]))
    with pytest.raises(DataFormatError, match="holds 3 images but .*labels.gz holds 2 labels"):
        readers.read_idx_split(images, labels)


# ---------------------------------------------------------------- CIFAR-10 binary

def cifar_record(label: int, red: np.ndarray, green: int, blue: int) -> bytes:
    """One record written straight from the spec: label, 1024 R, 1024 G, 1024 B bytes."""
    return (bytes([label]) + red.astype(np.uint8).tobytes() + bytes([green] * 1024)
            + bytes([blue] * 1024))


def test_cifar_records_become_hwc_images(tmp_path):
    red = np.arange(1024) % 251
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_record(3, red, 7, 9) + cifar_record(9, red[::-1], 1, 2))
    images, labels = readers.read_cifar_batch(path)
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 9]
    assert images[0, 0, 1].tolist() == [1, 7, 9]     # (row 0, col 1): red byte 1
    assert images[0, 1, 0].tolist() == [32, 7, 9]    # (row 1, col 0): red byte 32, row-major
    assert images[1, 31, 31].tolist() == [0, 1, 2]


def test_cifar_bad_record_length_names_file(tmp_path):
    path = tmp_path / "data_batch_2.bin"
    path.write_bytes(cifar_record(1, np.zeros(1024), 0, 0) * 2 + b"extra")
    with pytest.raises(DataFormatError,
                       match=f"{path}: 6151 bytes is not a whole number of 3073-byte"):
        readers.read_cifar_batch(path)


def test_cifar_label_out_of_range_names_file_and_record(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(cifar_record(1, np.zeros(1024), 0, 0) + cifar_record(12, np.zeros(1024), 0, 0))
    with pytest.raises(DataFormatError, match=f"{path}: record 1 has label 12"):
        readers.read_cifar_batch(path)


def test_cifar_class_names(tmp_path):
    path = tmp_path / "batches.meta.txt"
    path.write_text("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
    assert readers.read_cifar_class_names(path)[9] == "truck"
    path.write_text("airplane\nautomobile\n")
    with pytest.raises(DataFormatError, match=f"{path}: expected 10 distinct class names, found 2"):
        readers.read_cifar_class_names(path)


# ---------------------------------------------------------------- Imagenette

def jpeg_bytes(width: int, height: int, mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 128).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_undecodable_jpeg_names_file(tmp_path, damage):
    path = tmp_path / "n01440764_1.JPEG"
    whole = jpeg_bytes(320, 240)
    path.write_bytes(b"\x00garbage" * 200 if damage == "garbage" else whole[:len(whole) // 2])
    with pytest.raises(DataFormatError, match=f"{path}: cannot decode image"):
        readers.read_imagenette_image(path)


@pytest.mark.parametrize("size, mode",
                         [((213, 160), "RGB"), ((320, 480), "RGB"), ((160, 160), "L")])
def test_imagenette_image_is_resized_and_centre_cropped_to_256_rgb(tmp_path, size, mode):
    path = tmp_path / "x.JPEG"
    path.write_bytes(jpeg_bytes(*size, mode=mode))
    image = readers.read_imagenette_image(path)
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8


def test_resize_keeps_aspect_and_crop_takes_the_centre():
    # Left third black, middle white, right third black: the centre crop sees mostly white.
    canvas = np.zeros((160, 240, 3), np.uint8)
    canvas[:, 80:160] = 255
    resized = readers.resize_shorter_side(Image.fromarray(canvas), 256)
    assert resized.size == (384, 256)
    crop = np.asarray(readers.centre_crop(resized, 256))
    assert crop[:, 64:192].mean() > 250 and crop[:, :40].mean() < 5


def make_imagenette_tree(root: Path, wnids) -> Path:
    for wnid in wnids:
        folder = root / "val" / wnid
        folder.mkdir(parents=True)
        (folder / f"{wnid}_1.JPEG").write_bytes(jpeg_bytes(200, 160))
    return root


def test_imagenette_folders_map_to_sorted_labels(tmp_path):
    root = make_imagenette_tree(tmp_path, reversed(IMAGENETTE_WNIDS))
    items = readers.list_imagenette_split(root, "val")
    assert [label for _, label in items] == list(range(10))
    assert items[0][0].parent.name == "n01440764" and items[9][0].parent.name == "n03888257"


def test_imagenette_unexpected_class_folder_is_named(tmp_path):
    root = make_imagenette_tree(tmp_path, IMAGENETTE_WNIDS[:9] + ["n09999999"])
    with pytest.raises(DataFormatError) as excinfo:
        readers.list_imagenette_split(root, "val")
    assert "unexpected ['n09999999']" in str(excinfo.value)
    assert "missing ['n03888257']" in str(excinfo.value)
    assert str(root / "val") in str(excinfo.value)
