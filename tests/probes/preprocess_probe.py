"""Run common/preprocess.py inside one framework venv; prints one JSON document (last stdout line).

    python tests/probes/preprocess_probe.py {keras|gluon|pytorch} --inputs batches.npz

--inputs holds one uint8 NHWC batch per variant (key = variant name). For each variant the probe
reports the sha256 of prepare_batch's float32 output (test split, and train split with
numpy.random.default_rng(7)), so tests can check that every env's numpy gives identical bytes.
Where the framework has its own reference it also reports the largest difference from it:
keras: tf.image.resize(bilinear, no antialias) and tf.image.per_image_standardization;
pytorch: torch.nn.functional.interpolate(bilinear, align_corners=False, antialias=False).
Used by tests/test_preprocess.py.
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from alexbench.common import preprocess  # noqa: E402

RESIZES = [((32, 32), (256, 256)), ((28, 28), (224, 224)), ((32, 32), (224, 224)),
           ((9, 7), (20, 13)), ((20, 13), (9, 7))]  # the last: downscaling, where there is no antialias


def _resize_inputs():
    rng = np.random.default_rng(3)
    return [(rng.random((2,) + src + (3,)) * 255).astype(np.float32) for src, _ in RESIZES]


def reference_diffs(framework: str) -> dict:
    diffs = {}
    if framework == "keras":
        import tensorflow as tf
        for (src, dst), x in zip(RESIZES, _resize_inputs()):
            ref = tf.image.resize(x, dst, method="bilinear", antialias=False).numpy()
            diffs[f"resize {src}->{dst}"] = float(np.abs(preprocess.resize_bilinear(x, *dst) - ref).max())
        u8 = np.random.default_rng(4).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
        u8[2] = 77  # a constant image takes the 1/sqrt(numel) floor of the standard deviation
        ref = tf.image.per_image_standardization(u8).numpy()
        diffs["per_image_standardization"] = float(np.abs(preprocess.per_image_standardization(u8) - ref).max())
    elif framework == "pytorch":
        import torch
        import torch.nn.functional as F
        for (src, dst), x in zip(RESIZES, _resize_inputs()):
            t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
            ref = F.interpolate(t, size=dst, mode="bilinear", align_corners=False, antialias=False)
            ref = ref.numpy().transpose(0, 2, 3, 1)
            diffs[f"resize {src}->{dst}"] = float(np.abs(preprocess.resize_bilinear(x, *dst) - ref).max())
    return diffs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("framework", choices=["keras", "gluon", "pytorch"])
    ap.add_argument("--inputs", required=True)
    args = ap.parse_args()
    batches = np.load(args.inputs)
    hashes = {}
    for variant in batches.files:
        test = preprocess.prepare_batch(batches[variant], variant, train=False)
        train = preprocess.prepare_batch(batches[variant], variant, train=True,
                                         rng=np.random.default_rng(7))
        hashes[variant] = {"test": hashlib.sha256(test.tobytes()).hexdigest(),
                           "train": hashlib.sha256(train.tobytes()).hexdigest()}
    print(json.dumps({"framework": args.framework, "numpy": np.__version__, "sha256": hashes,
                      "reference_max_abs_diff": reference_diffs(args.framework)}))


if __name__ == "__main__":
    main()
