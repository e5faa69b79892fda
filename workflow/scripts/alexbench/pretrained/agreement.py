"""How far the frameworks' logits on the same weights and the same input tensors agree.

For every pair of frameworks: the share of images with the identical top-1 class, and the
largest relative logit difference, per image max |a - b| over the 1000 logits divided by the
image's largest |logit| in the first of the pair (elementwise relative error is meaningless for
logits near zero). The frameworks agree when identical top-1 >= 99.9% and relative difference
<= 1e-3 for every pair (issue 9's criterion). numpy only; reads logits.npy without pickle.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

MIN_IDENTICAL_TOP1 = 0.999
MAX_RELATIVE_DIFFERENCE = 1e-3


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per image: max |a - b| / max |a|."""
    scale = np.maximum(np.abs(a).max(axis=1), np.finfo(np.float32).tiny)
    return np.abs(a.astype(np.float64) - b).max(axis=1) / scale


def framework_of(path) -> str:
    """results/pretrained/<framework>/<dataset>/<model>/<hardware>/logits.npy -> framework."""
    return Path(path).parts[-5]


def compare(logits: dict) -> dict:
    """{framework: (N, classes) logits} -> the agreement document (see module docstring)."""
    if len(logits) < 2:
        raise ValueError(f"agreement needs two or more frameworks, got {sorted(logits)}")
    shapes = {fw: a.shape for fw, a in logits.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"logits differ in shape: {shapes}")
    pairs = []
    for a, b in itertools.combinations(logits, 2):
        rel = relative_difference(logits[a], logits[b])
        same = logits[a].argmax(axis=1) == logits[b].argmax(axis=1)
        pairs.append({"a": a, "b": b, "identical_top1": float(same.mean()),
                      "max_relative_difference": float(rel.max()),
                      "within_tolerance": float((rel <= MAX_RELATIVE_DIFFERENCE).mean())})
    identical = min(p["identical_top1"] for p in pairs)
    worst = max(p["max_relative_difference"] for p in pairs)
    return {"frameworks": list(logits), "images": int(next(iter(shapes.values()))[0]),
            "pairs": pairs, "identical_top1_min": identical, "max_relative_difference": worst,
            "criterion": {"identical_top1_min": MIN_IDENTICAL_TOP1,
                          "max_relative_difference": MAX_RELATIVE_DIFFERENCE},
            "agree": identical >= MIN_IDENTICAL_TOP1 and worst <= MAX_RELATIVE_DIFFERENCE}


def compare_files(paths) -> dict:
    logits = {}
    for path in paths:
        array = np.load(path, allow_pickle=False)
        if array.dtype != np.float32 or array.ndim != 2:
            raise ValueError(f"{path}: expected float32 (images, classes), got {array.dtype} {array.shape}")
        logits[framework_of(path)] = array
    return compare(logits)
