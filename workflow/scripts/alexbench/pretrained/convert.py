"""Convert the checked .caffemodel once into a framework-neutral .npz, and load that back.

The .npz holds float32 arrays `<layer>.weights` and `<layer>.bias` under layer_specs' names
(conv1..conv5, fc1..fc3) in Caffe's layouts: convolution weights (out, in/groups, kh, kw), the
groups one after another along `out` and `in` as Caffe splits them; inner-product weights (out,
in), fc1's `in` in Caffe's flatten order (channel, row, column). Plus `meta`: uint8 bytes of a
JSON document (source file and digest, layouts, input convention, LRN). No object arrays: it is
loaded with allow_pickle=False. Each framework's loader (fw_*/pretrained.py) does its own
layout conversion from this one file.

Bounded memory: layers are written into the zip as they are read (one layer held at a time),
into a temporary file that replaces the output only when every layer checked out; a refused
model leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from alexbench.pretrained import caffe_input
from alexbench.pretrained.caffemodel import (MODEL, NUM_CLASSES, CaffeModelError, expected_table,
                                             iter_checked_layers)

FORMAT = "alexbench-caffe-weights/1"


class WeightsFileError(ValueError):
    """A converted .npz is not what the loaders expect; the message names the file and array."""


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_member(archive: zipfile.ZipFile, key: str, array: np.ndarray) -> None:
    with archive.open(f"{key}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)


def metadata(source: Path) -> dict:
    return {
        "format": FORMAT, "model": MODEL, "num_classes": NUM_CLASSES,
        "source_file": source.name, "source_sha256": file_sha256(source),
        "layers": {e.spec_name: e.caffe_name for e in expected_table()},
        "layout": {"convolution": "Caffe OIHW: (out, in/groups, kh, kw), groups in order",
                   "inner_product": "Caffe (out, in); fc1 input flattened as (channel, row, column)"},
        "input": {"channels": "BGR", "mean_bgr": list(caffe_input.MEAN_BGR),
                  "crop": caffe_input.CROP, "scale": 1.0},
        "lrn": {"caffe": {"local_size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}},
    }


def convert(caffemodel, out, table=None) -> Path:
    """Check `caffemodel` against the expected table (default: BVLC AlexNet's; tests pass a
    small one) and write it as `out` (.npz), atomically."""
    caffemodel, out = Path(caffemodel), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for expected, weights, bias in iter_checked_layers(caffemodel, table):
                _write_member(archive, f"{expected.spec_name}.weights", weights)
                _write_member(archive, f"{expected.spec_name}.bias", bias)
                del weights, bias
            meta = json.dumps(metadata(caffemodel), sort_keys=True).encode()
            _write_member(archive, "meta", np.frombuffer(meta, dtype=np.uint8))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def load(path) -> tuple[dict, dict]:
    """({spec layer name: (weights, bias)}, meta) from a converted .npz, every array checked
    against the expected table (dtype float32, Caffe's shapes)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if "meta" not in keys:
                raise WeightsFileError(f"{path}: no 'meta' array; not written by convert.py")
            meta = json.loads(npz["meta"].tobytes().decode())
            if meta.get("format") != FORMAT:
                raise WeightsFileError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
            layers = {}
            for expected in expected_table():
                pair = []
                for role, shape in zip(("weights", "bias"), expected.shapes):
                    key = f"{expected.spec_name}.{role}"
                    if key not in keys:
                        raise WeightsFileError(f"{path}: array {key!r} is missing")
                    array = npz[key]
                    if array.dtype != np.float32 or array.shape != tuple(shape):
                        raise WeightsFileError(f"{path}: array {key!r} is {array.dtype} "
                                               f"{array.shape}, expected float32 {tuple(shape)}")
                    pair.append(array)
                layers[expected.spec_name] = tuple(pair)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        if isinstance(e, WeightsFileError):
            raise
        raise WeightsFileError(f"{path}: not a readable .npz ({e})") from e
    return layers, meta


__all__ = ["CaffeModelError", "WeightsFileError", "convert", "load", "FORMAT"]
