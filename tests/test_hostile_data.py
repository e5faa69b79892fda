"""Hostile and broken dataset files, served by a real HTTP server on 127.0.0.1, go through the
workflow's own download and prepare steps: each is refused with a message naming the file (and
the archive member), the limit it broke, no traceback, nothing half-prepared left behind, and
decompression bombs with a bounded peak memory.

The bombs here inflate to a few hundred MB (enough to exceed the bound if anything inflated them
whole) rather than the gigabytes of a real attack; the checks refuse them from their headers, so
the size beyond that does not change what is read.
"""
import gzip
import hashlib
import io
import re
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from alexbench.data import official
from alexbench.data.synthetic import synthesize

from conftest import REPO

PEAK_MEMORY_MB = 200
# Runs a command and reports the largest resident set of its process tree on stderr.
MEASURE_PEAK = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
                "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
                "file=sys.stderr); sys.exit(code)")
CIFAR_BATCH_BYTES = 10_000 * 3073


def declared(dataset: str) -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())["datasets"][dataset]


def spec_args(dataset: str) -> list[str]:
    entry = declared(dataset)
    return ["--image-shape", *map(str, entry["image_shape"]), "--classes", str(entry["classes"])]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(server, dataset: str, downloads: Path) -> None:
    """Download every file the server holds for `dataset` as the download rule does (system
    python3, sha256 of what is served), into downloads/."""
    for served in sorted((server.root / dataset).iterdir()):
        proc = subprocess.run(
            ["python3", "workflow/scripts/download.py", "--out", str(downloads / served.name),
             "--sha256", sha256_file(served), "--url", server.url_for(f"{dataset}/{served.name}")],
            cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr


def prepare_measured(dataset: str, fmt: str, downloads: Path, out: Path, *extra: str):
    """prepare.py in the report venv, as the prepare rule runs it; returns (proc, peak MB)."""
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE_PEAK, str(REPO / ".venvs/report/bin/python"),
         "workflow/scripts/prepare.py", "--dataset", dataset, "--format", fmt,
         "--downloads", str(downloads), "--out", str(out), *spec_args(dataset), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    peak_kb = int(re.search(r"PEAK_RSS_KB (\d+)", proc.stderr).group(1))
    return proc, peak_kb / 1024


def assert_refused_cleanly(proc, out: Path, *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert errors and not any(".preparing-" in line for line in errors), \
        "the error names a temporary folder that is gone by now"
    assert not out.parent.exists() or not list(out.parent.iterdir()), "something was left behind"


class Zeros(io.RawIOBase):
    """`size` zero bytes as a readable stream, never held in memory at once."""

    def __init__(self, size: int):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def gzip_stream(path: Path, head: bytes, zero_bytes: int) -> None:
    """gzip of `head` followed by `zero_bytes` zeros, compressed in 1 MiB steps."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(compressor.compress(head))
        block = bytes(1 << 20)
        for start in range(0, zero_bytes, len(block)):
            f.write(compressor.compress(block[:min(len(block), zero_bytes - start)]))
        f.write(compressor.flush())


def write_tar_gz(path: Path, members: list) -> None:
    """A .tar.gz of (name, bytes or a zero-byte count) members, in the order given."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, int):
                info.size = content
                tar.addfile(info, io.BufferedReader(Zeros(content)))
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def synthetic_members(dataset: str, fmt: str, folder: Path, **counts) -> dict:
    """{member name: bytes} of a small synthetic archive in the official format."""
    synthesize(dataset, fmt, folder, seed=0, **counts)
    archive = next(folder.glob("*.t*gz"))
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def idx_header(magic: int, *shape: int) -> bytes:
    return struct.pack(f">{1 + len(shape)}I", magic, *shape)


@pytest.fixture
def mirror(loopback_server):
    return loopback_server


# ---------------------------------------------------------------- 1. decompression bombs

def test_gzip_idx_bomb_is_refused_after_reading_what_its_header_declares(tmp_path, mirror):
    """A small .gz whose MNIST header is honest but which inflates to 300 MB more."""
    served = mirror.root / "mnist"
    served.mkdir()
    synthesize("mnist", "idx", served, seed=0, train_count=20, test_count=10)
    (served / "SHA256SUMS").unlink()
    bomb = served / "train-images-idx3-ubyte.gz"
    gzip_stream(bomb, idx_header(2051, 20, 28, 28) + bytes(20 * 784), 300 << 20)
    assert bomb.stat().st_size < 2 << 20
    fetch(mirror, "mnist", tmp_path / "downloads")
    out = tmp_path / "prepared" / "mnist"
    proc, peak_mb = prepare_measured("mnist", "idx", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, f"{tmp_path / 'downloads' / bomb.name}: header says "
                                      f"20 x 28 x 28", "(trailing bytes)")
    assert peak_mb < PEAK_MEMORY_MB


def test_idx_header_declaring_more_than_max_inflated_mb_is_refused_unread(tmp_path, mirror):
    """A consistent IDX file of 400,000 (blank) images: valid format, but bigger than allowed."""
    served = mirror.root / "mnist"
    served.mkdir()
    synthesize("mnist", "idx", served, seed=0, train_count=20, test_count=10)
    (served / "SHA256SUMS").unlink()
    count = 400_000
    gzip_stream(served / "train-images-idx3-ubyte.gz", idx_header(2051, count, 28, 28),
                count * 784)
    gzip_stream(served / "train-labels-idx1-ubyte.gz", idx_header(2049, count), count)
    fetch(mirror, "mnist", tmp_path / "downloads")
    out = tmp_path / "prepared" / "mnist"
    proc, peak_mb = prepare_measured("mnist", "idx", tmp_path / "downloads", out,
                                     "--max-inflated-mb", "100")
    assert_refused_cleanly(proc, out, "train-images-idx3-ubyte.gz: header declares 400000 images",
                           "100 MB limit (max_inflated_mb in config)")
    assert peak_mb < PEAK_MEMORY_MB


def test_cifar_member_declaring_more_than_a_batch_is_refused_before_extraction(tmp_path, mirror):
    """data_batch_4.bin declares ten batches' worth (307 MB, valid records): CIFAR-10 batches
    are 10,000 records, so it is refused from its tar header, nothing extracted."""
    members = synthetic_members("cifar10", "cifar10-binary", tmp_path / "synthetic",
                                train_count=50, test_count=10)
    bomb_name = f"{official.CIFAR_FOLDER}/data_batch_4.bin"
    members[bomb_name] = 10 * CIFAR_BATCH_BYTES
    (mirror.root / "cifar10").mkdir()
    archive = mirror.root / "cifar10" / official.CIFAR_ARCHIVE
    write_tar_gz(archive, sorted(members.items()))
    fetch(mirror, "cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared" / "cifar10"
    proc, peak_mb = prepare_measured("cifar10", "cifar10-binary", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, f"{tmp_path / 'downloads' / archive.name}: refusing member "
                                      f"'{bomb_name}': declares 307,300,000 bytes",
                           f"{CIFAR_BATCH_BYTES:,} bytes a CIFAR-10 batch")
    assert peak_mb < PEAK_MEMORY_MB


def test_archive_inflating_beyond_max_inflated_mb_is_refused(tmp_path, mirror):
    members = synthetic_members("cifar10", "cifar10-binary", tmp_path / "synthetic",
                                train_count=500, test_count=10)
    assert sum(map(len, members.values())) > 1 << 20
    (mirror.root / "cifar10").mkdir()
    write_tar_gz(mirror.root / "cifar10" / official.CIFAR_ARCHIVE, sorted(members.items()))
    fetch(mirror, "cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared" / "cifar10"
    proc, peak_mb = prepare_measured("cifar10", "cifar10-binary", tmp_path / "downloads", out,
                                     "--max-inflated-mb", "1")
    assert_refused_cleanly(proc, out, official.CIFAR_ARCHIVE, "refusing member",
                           "more than 1 MB (max_inflated_mb in config)")
    assert peak_mb < PEAK_MEMORY_MB


def test_oversized_imagenette_member_is_refused_naming_the_limit(tmp_path, mirror):
    members = synthetic_members("imagenette-160", "imagenette", tmp_path / "synthetic",
                                train_count=10, test_count=10)
    victim = sorted(n for n in members if n.endswith(".JPEG"))[0]
    members[victim] = 60 << 20
    (mirror.root / "imagenette-160").mkdir()
    write_tar_gz(mirror.root / "imagenette-160" / "imagenette2-160.tgz", sorted(members.items()))
    fetch(mirror, "imagenette-160", tmp_path / "downloads")
    out = tmp_path / "prepared" / "imagenette-160"
    proc, peak_mb = prepare_measured("imagenette-160", "imagenette", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, f"refusing member '{victim}'",
                           "52,428,800 bytes an Imagenette image can be")
    assert peak_mb < PEAK_MEMORY_MB


# ---------------------------------------------------------------- 2. duplicate and extra members

def test_duplicate_member_is_refused_by_name(tmp_path, mirror):
    members = synthetic_members("cifar10", "cifar10-binary", tmp_path / "synthetic",
                                train_count=50, test_count=10)
    twice = f"{official.CIFAR_FOLDER}/data_batch_4.bin"
    listed = sorted(members.items()) + [(twice, members[f"{official.CIFAR_FOLDER}/data_batch_1.bin"])]
    (mirror.root / "cifar10").mkdir()
    write_tar_gz(mirror.root / "cifar10" / official.CIFAR_ARCHIVE, listed)
    fetch(mirror, "cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared" / "cifar10"
    proc, _ = prepare_measured("cifar10", "cifar10-binary", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, f"refusing member '{twice}': the name occurs twice")


def test_unexpected_extra_member_is_ignored_and_logged_by_name(tmp_path, mirror):
    members = synthetic_members("cifar10", "cifar10-binary", tmp_path / "synthetic",
                                train_count=50, test_count=10)
    extra = f"{official.CIFAR_FOLDER}/data_batch_6.bin"
    members[extra] = members[f"{official.CIFAR_FOLDER}/data_batch_1.bin"]
    (mirror.root / "cifar10").mkdir()
    write_tar_gz(mirror.root / "cifar10" / official.CIFAR_ARCHIVE, sorted(members.items()))
    fetch(mirror, "cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared" / "cifar10"
    proc, _ = prepare_measured("cifar10", "cifar10-binary", tmp_path / "downloads", out)
    assert proc.returncode == 0, proc.stderr
    assert f"ignoring unexpected member '{extra}'" in proc.stderr
    assert len(np.load(out / "train-labels.npy")) == 50  # the extra batch was not read


# ---------------------------------------------------------------- 3. errors name archive + member

def test_bad_batch_in_archive_is_named_by_archive_and_member(tmp_path, mirror):
    members = synthetic_members("cifar10", "cifar10-binary", tmp_path / "synthetic",
                                train_count=50, test_count=10)
    damaged = f"{official.CIFAR_FOLDER}/data_batch_2.bin"
    members[damaged] = members[damaged][:-5]
    (mirror.root / "cifar10").mkdir()
    write_tar_gz(mirror.root / "cifar10" / official.CIFAR_ARCHIVE, sorted(members.items()))
    fetch(mirror, "cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared" / "cifar10"
    proc, _ = prepare_measured("cifar10", "cifar10-binary", tmp_path / "downloads", out)
    archive = tmp_path / "downloads" / official.CIFAR_ARCHIVE
    assert_refused_cleanly(proc, out, f"{archive}, member {damaged}: ",
                           "is not a whole number of 3073-byte CIFAR-10 records")


def test_missing_member_is_named_by_archive_and_member(tmp_path, mirror):
    members = synthetic_members("cifar10", "cifar10-binary", tmp_path / "synthetic",
                                train_count=50, test_count=10)
    missing = f"{official.CIFAR_FOLDER}/{official.CIFAR_META}"
    del members[missing]
    (mirror.root / "cifar10").mkdir()
    write_tar_gz(mirror.root / "cifar10" / official.CIFAR_ARCHIVE, sorted(members.items()))
    fetch(mirror, "cifar10", tmp_path / "downloads")
    out = tmp_path / "prepared" / "cifar10"
    proc, _ = prepare_measured("cifar10", "cifar10-binary", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, f"{official.CIFAR_ARCHIVE}, member {missing}: missing")


# ---------------------------------------------------------------- 4. shapes and classes

def test_idx_images_of_another_shape_are_not_mnist(tmp_path, mirror):
    """32x32 IDX images for both splits are well-formed IDX, but not what config says MNIST is."""
    served = mirror.root / "mnist"
    served.mkdir()
    synthesize("mnist", "idx", served, seed=0, train_count=20, test_count=10)
    (served / "SHA256SUMS").unlink()
    for name, count in (("train-images-idx3-ubyte.gz", 20), ("t10k-images-idx3-ubyte.gz", 10)):
        (served / name).write_bytes(gzip.compress(idx_header(2051, count, 32, 32)
                                                  + bytes(count * 32 * 32)))
    fetch(mirror, "mnist", tmp_path / "downloads")
    out = tmp_path / "prepared" / "mnist"
    proc, _ = prepare_measured("mnist", "idx", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, "train-images-idx3-ubyte.gz: images of 32 x 32 pixels, but "
                                      "config declares mnist images as 28 x 28 x 1")


def test_labels_beyond_the_declared_classes_are_refused(tmp_path, mirror):
    served = mirror.root / "mnist"
    served.mkdir()
    synthesize("mnist", "idx", served, seed=0, train_count=20, test_count=10)
    (served / "SHA256SUMS").unlink()
    (served / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_header(2049, 10) + bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 11])))
    fetch(mirror, "mnist", tmp_path / "downloads")
    out = tmp_path / "prepared" / "mnist"
    proc, _ = prepare_measured("mnist", "idx", tmp_path / "downloads", out)
    assert_refused_cleanly(proc, out, "t10k-labels-idx1-ubyte.gz: label 11 out of range 0..9 "
                                      "(record 9)")


def test_every_configured_dataset_declares_the_shape_its_format_gives():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    expected = {"idx": [28, 28, 1], "cifar10-binary": [32, 32, 3], "imagenette": [256, 256, 3]}
    for name, entry in config["datasets"].items():
        assert entry["image_shape"] == expected[entry["format"]], name
        assert entry["classes"] == 10, name
