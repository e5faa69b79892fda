"""Synthetic datasets: official names and layouts, byte-identical for a seed, and learnable."""
import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from alexbench.data import official
from alexbench.data.prepare import DatasetSpec, prepare
from alexbench.data.synthetic import FIXED_MTIME, synthesize

REPO = Path(__file__).resolve().parents[1]
SMALL = {  # dataset -> (format, train count, test count): small enough for seconds
    "mnist": ("idx", 120, 60),
    "fashion_mnist": ("idx", 120, 60),
    "cifar10": ("cifar10-binary", 120, 60),
    "imagenette-160": ("imagenette", 30, 20),
    "imagenette-320": ("imagenette", 20, 10),
}


def make(dataset: str, out: Path, seed: int = 0) -> dict:
    fmt, train_count, test_count = SMALL[dataset]
    return synthesize(dataset, fmt, out, seed=seed, train_count=train_count, test_count=test_count)


def file_bytes(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "imagenette-160"])
def test_same_seed_gives_byte_identical_files(tmp_path, dataset):
    make(dataset, tmp_path / "a", seed=3)
    make(dataset, tmp_path / "b", seed=3)
    make(dataset, tmp_path / "c", seed=4)
    first = file_bytes(tmp_path / "a")
    assert first == file_bytes(tmp_path / "b")
    other = file_bytes(tmp_path / "c")
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first if name != "t10k-labels-idx1-ubyte.gz")
    # Equal bytes within one second prove little about clocks: check the stored times directly.
    for name, data in first.items():
        if name.endswith("gz"):
            assert int.from_bytes(data[4:8], "little") == FIXED_MTIME, f"{name}: gzip mtime"
        if name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(tmp_path / "a" / name) as tar:
                assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar} == {(FIXED_MTIME, 0, 0, "")}


def test_cli_writes_official_names_and_sha256sums(tmp_path):
    """The CLI in the report venv gives the same bytes as the library in this process."""
    out = tmp_path / "cli"
    proc = subprocess.run([str(REPO / ".venvs/report/bin/python"), "workflow/scripts/synthesize.py",
                           "--dataset", "mnist", "--format", "idx", "--out", str(out),
                           "--seed", "3",
                           "--train-count", "120", "--test-count", "60"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    make("mnist", tmp_path / "lib", seed=3)
    assert file_bytes(out) == file_bytes(tmp_path / "lib")
    lines = (out / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == sorted(official.official_files("idx"))
    for line in lines:  # sha256sum format: "<hex>  <name>"
        digest, name = line.split("  ")
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_cifar_archive_layout_is_the_official_one(tmp_path):
    make("cifar10", tmp_path)
    with tarfile.open(tmp_path / "cifar-10-binary.tar.gz") as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
        sizes = {m.name: m.size for m in tar.getmembers() if m.name.endswith(".bin")}
    folder = "cifar-10-batches-bin"
    assert names == {f"{folder}/{n}" for n in (*official.CIFAR_TRAIN_BATCHES, "test_batch.bin",
                                                "batches.meta.txt", "readme.html")}
    assert all(size % 3073 == 0 and size > 0 for size in sizes.values())
    assert sum(sizes.values()) == (120 + 60) * 3073


@pytest.mark.parametrize("dataset, side", [("imagenette-160", 160), ("imagenette-320", 320)])
def test_imagenette_archive_layout_and_image_sizes(tmp_path, dataset, side):
    make(dataset, tmp_path)
    top = f"imagenette2-{side}"
    with tarfile.open(tmp_path / f"{top}.tgz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    jpegs = [n for n in files if n.endswith(".JPEG")]
    assert set(files) - set(jpegs) == {f"{top}/noisy_imagenette.csv"}
    for split in ("train", "val"):
        assert {n.split("/")[2] for n in jpegs if n.split("/")[1] == split} == set(
            official.IMAGENETTE_WNIDS)
    assert len(jpegs) == SMALL[dataset][1] + SMALL[dataset][2]
    for name in jpegs:
        with Image.open(io.BytesIO(files[name])) as image:
            assert image.format == "JPEG" and min(image.size) == side, name
    csv_lines = files[f"{top}/noisy_imagenette.csv"].decode().splitlines()
    assert csv_lines[0].startswith("path,noisy_labels_0,")
    assert len(csv_lines) == 1 + len(jpegs)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "imagenette-160"])
def test_classes_are_learnable(tmp_path, dataset):
    """A nearest-centroid classifier on raw prepared pixels separates the classes, so the
    patterns depend on the class and a network has something to learn."""
    make(dataset, tmp_path / "synthetic")
    fmt = SMALL[dataset][0]
    declared = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"][dataset]
    spec = DatasetSpec(tuple(declared["image_shape"]), declared["classes"])
    prepare(dataset, fmt, tmp_path / "synthetic", tmp_path / "prepared", spec)
    load = lambda name: np.load(tmp_path / "prepared" / name)  # noqa: E731
    x_train, y_train = load("train-images.npy").astype(np.float32), load("train-labels.npy")
    x_test, y_test = load("test-images.npy").astype(np.float32), load("test-labels.npy")
    assert np.bincount(y_train, minlength=10).min() >= len(y_train) // 10  # balanced
    centroids = np.stack([x_train[y_train == c].mean(axis=0) for c in range(10)])
    def nearest(x):
        return ((x[:, None] - centroids[None]) ** 2).reshape(len(x), 10, -1).sum(-1).argmin(1)

    accuracy = (nearest(x_test) == y_test).mean()
    assert accuracy >= 0.9, f"{dataset}: nearest-centroid accuracy {accuracy:.2f}"
    # ...and left-right flips (an augmentation some variants use) keep the class.
    assert (nearest(x_test[:, :, ::-1]) == y_test).mean() >= 0.9


def test_too_few_images_for_imagenette_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 10 images per split"):
        synthesize("imagenette-160", "imagenette", tmp_path, train_count=9, test_count=10)
