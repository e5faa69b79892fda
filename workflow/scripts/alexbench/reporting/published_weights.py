"""The report's "Published weights" section: the BVLC AlexNet weights evaluated in each
framework, beside what BVLC published, with the cross-framework agreement.

Reads each evaluation's metrics.json through alexbench.pretrained.contract and the agreement
JSON written by agree_pretrained.py; computes nothing new. The verdict is fixed: Imagenette's
val images are ten ILSVRC2012 classes of the same validation distribution, so 1000-way accuracy
on them is not the published 1000-class figure (easier or harder depending on the classes).
Not for laying out HTML (templates/published_weights.html.j2).
"""
from __future__ import annotations

import json
from pathlib import Path

from alexbench.common.run_contract import ContractError
from alexbench.pretrained import contract

VERDICT = "not comparable: 10-class subset of the same val distribution"


def _evaluation(run_dir: Path) -> dict:
    """One evaluation's row: its figures, or its status when metrics.json is missing or broken."""
    parts = Path(run_dir).parts
    row = {"framework": parts[-4], "dataset": parts[-3], "model": parts[-2], "hardware": parts[-1],
           "run_dir": str(run_dir), "status": "ok"}
    path = Path(run_dir) / contract.METRICS_FILE
    if not path.exists():
        return {**row, "status": "missing"}
    try:
        m = contract.read_metrics(path)
    except ContractError as e:
        return {**row, "status": "failed", "reason": str(e)}
    return {**row, "top1": m["test"]["top1_accuracy"], "top5": m["test"]["top5_accuracy"],
            "ten_way": m["test"]["accuracy_10way"], "images": m["settings"]["images"],
            "images_per_s": m["throughput"]["eval_images_per_s"], "device": m["device"]["name"],
            "threads": m["device"]["threads"], "peak_rss_mb": m["memory"]["peak_rss_mb"],
            "peak_gpu_mb": m["memory"]["peak_gpu_mb"], "smoke": m["smoke"],
            "version": _version(m["versions"]), "parameters": m["parameters"],
            "weights": m["run"]["weights"]}


def _version(versions: dict) -> str:
    """'keras 3.15.1, tensorflow 2.21.0' from framework_detail, else the framework's version."""
    detail = versions.get("framework_detail") or {}
    return ", ".join(f"{k} {v}" for k, v in sorted(detail.items())) or versions["framework"]


def build_section(config: dict, run_dirs, agreement_paths) -> dict | None:
    """Context for the template, or None when the configuration evaluates no weights."""
    run_dirs = list(run_dirs or [])
    if not run_dirs:
        return None
    evaluations = [_evaluation(Path(d)) for d in run_dirs]
    agreements = []
    for path in agreement_paths or []:
        path = Path(path)
        if path.exists():
            doc = json.loads(path.read_text(encoding="utf-8"))
            agreements.append({"hardware": path.stem, "dataset": path.parts[-3],
                               "model": path.parts[-2], **doc})
    published = []
    for name, entry in (config.get("weights") or {}).items():
        claim = entry.get("published")
        if claim:
            published.append({"weights": name, "reference": claim["reference"],
                              "dataset": claim.get("dataset", ""), "top1": claim["top1_accuracy"],
                              "top5": claim["top5_accuracy"], "evaluated_on": entry["dataset"]})
    by_hardware = {}
    for row in evaluations:
        by_hardware.setdefault(row["hardware"], []).append(row)
    return {"evaluations": evaluations, "by_hardware": by_hardware, "agreements": agreements,
            "published": published, "verdict": VERDICT}
