"""The report's "Precision" section: per workload and framework, what bf16 (or any precision
other than fp32) changes against fp32 on the same workload, side by side.

A row needs the framework's fp32 runs and its other-precision runs of one workload (experiment x
dataset x model x hardware); the figures are the summary's means over ok seeds: steady-state
training images/s and test accuracy. Speed-up = images/s in that precision / images/s in fp32;
the accuracy change is in percentage points. Input: the summary frame (tables.summary_frame).
Not for: statistics (stats) or the ranking, which stays within one precision.
"""
import math

import pandas as pd

from alexbench.common import registry

WORKLOAD = ["experiment", "dataset", "model", "hardware"]


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def comparison(summary: pd.DataFrame) -> list[dict]:
    """One dict per workload x framework x precision other than fp32 (empty when every run is fp32)."""
    if "precision" not in summary or not len(summary):
        return []
    base = summary[summary["precision"] == registry.DEFAULT_PRECISION]
    rows = []
    for _, other in summary[summary["precision"] != registry.DEFAULT_PRECISION].iterrows():
        same = base
        for key in WORKLOAD + ["framework"]:
            same = same[same[key] == other[key]]
        fp32 = same.iloc[0] if len(same) else None
        fp32_ips = _number(fp32["train_images_per_s_mean"]) if fp32 is not None else math.nan
        fp32_acc = _number(fp32["test_accuracy_mean"]) if fp32 is not None else math.nan
        ips, acc = _number(other["train_images_per_s_mean"]), _number(other["test_accuracy_mean"])
        name = other["precision"]
        rows.append({
            **{key: other[key] for key in WORKLOAD + ["framework"]},
            "precision": name,
            "precision_label": registry.PRECISIONS[name].label if name in registry.PRECISIONS else name,
            "fp32_images_per_s": fp32_ips, "images_per_s": ips,
            "speedup": ips / fp32_ips if fp32_ips > 0 and not math.isnan(ips) else math.nan,
            "fp32_accuracy": fp32_acc, "accuracy": acc,
            "accuracy_change_points": (acc - fp32_acc) * 100,
            "n_ok": int(other["n_ok"]), "fp32_n_ok": int(fp32["n_ok"]) if fp32 is not None else 0,
            "smoke": bool(other["smoke"])})
    return rows
