"""Real Fashion-MNIST for the tests, from Debian's `dataset-fashion-mnist` package, without root.

Debian ships Zalando's four IDX files re-compressed: the `.gz` bytes (and so their sha256)
differ from the upstream ones, while the decompressed IDX payload is the same. This module
downloads the package (`apt-get download`, no root needed), unpacks it (`dpkg -x`, no root),
checks every decompressed payload against the upstream sizes and IDX headers, and hands back
the files with their own sha256 and sizes: what the workflow's documented checksum override
(a --configfile merged over config.yaml) needs to take them from a mirror.

    real = fetch_fashion_mnist(cache_dir)        # RealDataUnavailable if apt cannot fetch it
    real.files["train-images-idx3-ubyte.gz"]     # Path in the unpacked package
    real.checksum_override()                     # {"files": {...}, "checksum_source": "..."}

Fixture `real_fashion_mnist` (session scope): skips with the reason where the package cannot
be fetched, unless ALEXBENCH_REALDATA_REQUIRED=1 (CI), which turns the skip into a failure.
The cache folder is $ALEXBENCH_CACHE or ~/.cache/alexbench; a verified unpacked copy is reused.
tests/run fetches it before pytest starts, so the tests themselves touch no network.

    python tests/plugins/debian_fashion_mnist.py [--cache DIR]   # fetch and verify, print JSON

Not for: anything but the tests; users download from the official URLs (config.yaml).
"""
import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "dataset-fashion-mnist"
# Where the package puts the files (its contents list on packages.debian.org).
PACKAGE_DIR = Path("usr/share/datasets/fashion-mnist")
# The upstream files' decompressed sizes and IDX headers: (magic, count, rows, cols) for
# images, (magic, count) for labels. Sizes are 16 + count*28*28 and 8 + count bytes
# (IDX format: http://yann.lecun.com/exdb/mnist/ ; Fashion-MNIST keeps it exactly,
# https://github.com/zalandoresearch/fashion-mnist#get-the-data).
UPSTREAM = {
    "train-images-idx3-ubyte.gz": {"bytes": 47_040_016, "header": (2051, 60_000, 28, 28)},
    "train-labels-idx1-ubyte.gz": {"bytes": 60_008, "header": (2049, 60_000)},
    "t10k-images-idx3-ubyte.gz": {"bytes": 7_840_016, "header": (2051, 10_000, 28, 28)},
    "t10k-labels-idx1-ubyte.gz": {"bytes": 10_008, "header": (2049, 10_000)},
}
REQUIRED_ENV = "ALEXBENCH_REALDATA_REQUIRED"
CHUNK = 1 << 20


class RealDataUnavailable(RuntimeError):
    """The package cannot be fetched here (no apt, no package index, no network)."""


class RealDataInvalid(RuntimeError):
    """The package was fetched but a payload is not the upstream one; names file and problem."""


@dataclass(frozen=True)
class RealFashionMnist:
    version: str                 # the Debian package version, e.g. 0.0~git20200523.55506a9-1
    files: dict                  # official file name -> Path of the (re-compressed) .gz
    sha256: dict                 # official file name -> sha256 of that .gz
    sizes: dict                  # official file name -> size of that .gz in bytes

    @property
    def provenance(self) -> str:
        return (f"Debian package {PACKAGE} {self.version} (re-compressed by Debian; decompressed "
                f"IDX payloads checked against the upstream sizes and headers)")

    def checksum_override(self) -> dict:
        """The `datasets.fashion_mnist` entry of a --configfile merged over config.yaml."""
        return {"checksum_source": self.provenance,
                "files": {name: {"sha256": self.sha256[name], "bytes": self.sizes[name]}
                          for name in UPSTREAM}}


def default_cache_dir() -> Path:
    return Path(os.environ.get("ALEXBENCH_CACHE") or Path.home() / ".cache" / "alexbench")


def _run(args, cwd=None, timeout=600) -> str:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise RealDataUnavailable(f"{args[0]} is not installed (not a Debian-like system?)") from e
    except subprocess.TimeoutExpired as e:
        raise RealDataUnavailable(f"{' '.join(args)} took over {timeout} s") from e
    if proc.returncode != 0:
        raise RealDataUnavailable(f"{' '.join(args)} exited {proc.returncode}: "
                                  f"{proc.stderr.strip()[-500:]}")
    return proc.stdout


def candidate_version() -> str:
    """The version apt would download, or RealDataUnavailable when the index does not know it."""
    out = _run(["apt-cache", "policy", PACKAGE])
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate" and value.strip() and value.strip() != "(none)":
            return value.strip()
    raise RealDataUnavailable(f"apt knows no candidate for {PACKAGE} (run apt-get update?)")


def check_payload(name: str, path: Path) -> None:
    """Decompress `path` in chunks (bounded memory) and compare size and IDX header with
    upstream; RealDataInvalid names the file and what differs."""
    expected = UPSTREAM[name]
    header_len = 4 * len(expected["header"])
    size, head = 0, b""
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                if len(head) < header_len:
                    head += chunk[:header_len - len(head)]
                size += len(chunk)
                if size > expected["bytes"]:
                    raise RealDataInvalid(f"{path}: decompresses to more than the upstream "
                                          f"{expected['bytes']} bytes")
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise RealDataInvalid(f"{path}: not a valid gzip stream ({e})") from e
    if size != expected["bytes"]:
        raise RealDataInvalid(f"{path}: decompresses to {size} bytes, upstream "
                              f"{name} has {expected['bytes']}")
    header = struct.unpack(f">{len(expected['header'])}I", head)
    if header != expected["header"]:
        raise RealDataInvalid(f"{path}: IDX header {header} differs from upstream "
                              f"{expected['header']} (magic, count[, rows, cols])")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _unpack(version: str, cache_dir: Path) -> Path:
    """Download and unpack the package into cache_dir/<package>_<version>/ (atomically: a
    half-unpacked folder never has the final name)."""
    target = cache_dir / f"{PACKAGE}_{version}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as work:
        # apt-get download writes the .deb into the current folder; as root, apt warns that its
        # sandbox user cannot write there and downloads anyway.
        _run(["apt-get", "download", "-q", f"{PACKAGE}={version}"], cwd=work)
        debs = list(Path(work).glob(f"{PACKAGE}_*.deb"))
        if len(debs) != 1:
            raise RealDataUnavailable(f"apt-get download left {debs} in {work}")
        unpacked = Path(work) / "root"
        _run(["dpkg", "-x", str(debs[0]), str(unpacked)])
        if target.exists():  # another process finished first
            shutil.rmtree(unpacked)
        else:
            os.replace(unpacked, target)
    return target


def fetch_fashion_mnist(cache_dir: Path | None = None) -> RealFashionMnist:
    """Fetch (or reuse), verify and describe the package's four files."""
    cache_dir = Path(cache_dir or default_cache_dir())
    version = candidate_version()
    root = _unpack(version, cache_dir)
    files, sha256, sizes = {}, {}, {}
    for name in UPSTREAM:
        path = root / PACKAGE_DIR / name
        if not path.is_file():
            raise RealDataInvalid(f"{PACKAGE} {version}: {PACKAGE_DIR / name} is not in the package")
        check_payload(name, path)
        files[name], sha256[name], sizes[name] = path, _sha256(path), path.stat().st_size
    return RealFashionMnist(version=version, files=files, sha256=sha256, sizes=sizes)


@pytest.fixture(scope="session")
def real_fashion_mnist() -> RealFashionMnist:
    """The verified package files; skip (or fail under ALEXBENCH_REALDATA_REQUIRED=1)."""
    try:
        return fetch_fashion_mnist()
    except RealDataUnavailable as reason:
        if os.environ.get(REQUIRED_ENV) == "1":
            pytest.fail(f"real Fashion-MNIST unavailable ({REQUIRED_ENV}=1): {reason}")
        pytest.skip(f"real Fashion-MNIST unavailable: {reason}")


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(description="Fetch and verify Debian's real Fashion-MNIST.")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder")
    args = parser.parse_args(argv)
    try:
        real = fetch_fashion_mnist(args.cache)
    except (RealDataUnavailable, RealDataInvalid) as e:
        print(f"real Fashion-MNIST unavailable: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"version": real.version, "files": {k: str(v) for k, v in real.files.items()},
                      "override": real.checksum_override()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

