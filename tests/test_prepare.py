"""prepare.py turns official-format files into the data contract of docs/design.md, and a failed
preparation names its cause and leaves nothing that looks complete (nor loses an earlier result).
The CLI runs in the report venv, as the workflow calls it."""
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from alexbench.data import official, readers
from alexbench.data.synthetic import synthesize, tar_gz_bytes

REPO = Path(__file__).resolve().parents[1]
CASES = {  # dataset -> (format, train, test, image shape, first class name)
    "mnist": ("idx", 50, 30, [28, 28, 1], "0"),
    "fashion_mnist": ("idx", 50, 30, [28, 28, 1], "T-shirt/top"),
    "cifar10": ("cifar10-binary", 50, 30, [32, 32, 3], "airplane"),
    "imagenette-160": ("imagenette", 20, 10, [256, 256, 3], "tench"),
    "imagenette-320": ("imagenette", 10, 10, [256, 256, 3], "tench"),
}
META_KEYS = {"dataset", "format", "classes", "image_shape", "train_count", "test_count", "sources"}


def spec_args(dataset: str) -> list[str]:
    """--image-shape/--classes as the workflow passes them, from config.yaml."""
    declared = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"][dataset]
    return ["--image-shape", *map(str, declared["image_shape"]), "--classes",
            str(declared["classes"])]


def run_prepare(dataset: str, fmt: str, downloads: Path, out: Path, *extra: str):
    return subprocess.run([str(REPO / ".venvs/report/bin/python"), "workflow/scripts/prepare.py",
                           "--dataset", dataset, "--format", fmt, "--downloads", str(downloads),
                           "--out", str(out), *spec_args(dataset), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def synthesize_case(dataset: str, folder: Path) -> dict:
    fmt, train_count, test_count, *_ = CASES[dataset]
    return synthesize(dataset, fmt, folder, seed=0, train_count=train_count, test_count=test_count)


def assert_no_leftovers(parent: Path, keep: set):
    assert {p.name for p in parent.iterdir()} == keep, "temporary folders were left behind"


@pytest.mark.parametrize("dataset", sorted(CASES))
def test_prepare_writes_the_data_contract(tmp_path, dataset):
    fmt, train_count, test_count, shape, first_class = CASES[dataset]
    sums = synthesize_case(dataset, tmp_path / "downloads")
    out = tmp_path / "prepared" / dataset
    proc = run_prepare(dataset, fmt, tmp_path / "downloads", out)
    assert proc.returncode == 0, proc.stderr
    assert_no_leftovers(out.parent, {dataset})
    assert {p.name for p in out.iterdir()} == {"train-images.npy", "train-labels.npy",
                                               "test-images.npy", "test-labels.npy", "meta.json"}
    for split, count in (("train", train_count), ("test", test_count)):
        images = np.load(out / f"{split}-images.npy")
        labels = np.load(out / f"{split}-labels.npy")
        assert images.dtype == np.uint8 and list(images.shape) == [count, *shape]
        assert labels.dtype == np.int64 and labels.shape == (count,)
        assert set(labels.tolist()) == set(range(10))
        assert images.std() > 10, "images look blank"
    meta = json.loads((out / "meta.json").read_text())
    expected_keys = META_KEYS | ({"imagenet_indices"} if fmt == "imagenette" else set())
    assert set(meta) == expected_keys
    assert (meta["dataset"], meta["format"]) == (dataset, fmt)
    assert meta["image_shape"] == shape
    assert (meta["train_count"], meta["test_count"]) == (train_count, test_count)
    assert len(meta["classes"]) == 10 and meta["classes"][0] == first_class
    assert meta["sources"] == sums
    if fmt == "imagenette":
        assert meta["imagenet_indices"] == [0, 217, 482, 491, 497, 566, 569, 571, 574, 701]


def test_idx_pixels_and_labels_survive_unchanged(tmp_path):
    synthesize_case("mnist", tmp_path / "downloads")
    out = tmp_path / "prepared"
    assert run_prepare("mnist", "idx", tmp_path / "downloads", out).returncode == 0
    images, labels = readers.read_idx_split(tmp_path / "downloads" / "t10k-images-idx3-ubyte.gz",
                                            tmp_path / "downloads" / "t10k-labels-idx1-ubyte.gz")
    assert np.array_equal(np.load(out / "test-images.npy"), images)
    assert np.array_equal(np.load(out / "test-labels.npy"), labels)


def test_failed_preparation_keeps_the_earlier_result(tmp_path):
    downloads = tmp_path / "downloads"
    synthesize_case("mnist", downloads)
    out = tmp_path / "prepared" / "mnist"
    assert run_prepare("mnist", "idx", downloads, out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # New training files that prepare fine, then a damaged test file: a preparation writing
    # in place would already have replaced the training arrays when it fails.
    synthesize("mnist", "idx", downloads, seed=1, train_count=50, test_count=30)
    damaged = downloads / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:500])
    proc = run_prepare("mnist", "idx", downloads, out)
    assert proc.returncode == 1
    assert f"{damaged}: damaged gzip stream" in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert_no_leftovers(out.parent, {"mnist"})


def rewrite_tgz(archive: Path, change) -> None:
    """Rebuild an archive's files through `change(files)`, which edits the {name: bytes} dict."""
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    change(files)
    archive.write_bytes(tar_gz_bytes(archive.name, files))


def test_undecodable_jpeg_in_the_archive_is_named(tmp_path):
    downloads = tmp_path / "downloads"
    synthesize_case("imagenette-160", downloads)
    victim = {}

    def spoil(files):
        victim["name"] = sorted(n for n in files if "/val/n03000684/" in n)[0]
        files[victim["name"]] = b"\xff\xd8 this is not a JPEG body" * 40

    rewrite_tgz(downloads / "imagenette2-160.tgz", spoil)
    out = tmp_path / "prepared" / "imagenette-160"
    proc = run_prepare("imagenette-160", "imagenette", downloads, out)
    assert proc.returncode == 1
    assert f"{victim['name']}: cannot decode image" in proc.stderr
    assert_no_leftovers(out.parent, set())


def test_hostile_member_in_a_downloaded_archive_is_refused(tmp_path):
    downloads = tmp_path / "downloads"
    synthesize_case("cifar10", downloads)
    archive = downloads / official.CIFAR_ARCHIVE
    raw = io.BytesIO()
    with tarfile.open(archive) as source, tarfile.open(fileobj=raw, mode="w:gz") as target:
        for member in source.getmembers():
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
        evil = tarfile.TarInfo("cifar-10-batches-bin/../../escaped.txt")
        evil.size = 4
        target.addfile(evil, io.BytesIO(b"evil"))
    archive.write_bytes(raw.getvalue())
    out = tmp_path / "prepared" / "cifar10"
    proc = run_prepare("cifar10", "cifar10-binary", downloads, out)
    assert proc.returncode == 1
    assert "refusing member 'cifar-10-batches-bin/../../escaped.txt'" in proc.stderr
    assert not list(tmp_path.rglob("escaped.txt"))
    assert_no_leftovers(out.parent, set())


def test_missing_official_file_is_named(tmp_path):
    synthesize_case("mnist", tmp_path / "downloads")
    (tmp_path / "downloads" / "t10k-labels-idx1-ubyte.gz").unlink()
    proc = run_prepare("mnist", "idx", tmp_path / "downloads", tmp_path / "prepared")
    assert proc.returncode == 1
    assert "t10k-labels-idx1-ubyte.gz: missing" in proc.stderr


def test_sources_are_the_sha256_of_the_inputs(tmp_path):
    synthesize_case("cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared"
    assert run_prepare("cifar10", "cifar10-binary", tmp_path / "downloads", out).returncode == 0
    archive = tmp_path / "downloads" / official.CIFAR_ARCHIVE
    assert json.loads((out / "meta.json").read_text())["sources"] == {
        archive.name: hashlib.sha256(archive.read_bytes()).hexdigest()}
