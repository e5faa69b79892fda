"""Published claims against measurements: one verdict per claim, metric, framework and hardware.

A claim comes from config.json's `experiments.<name>.published` (reference, claims, tolerance).
Verdicts: 'reproduced' (within tolerance), 'not reproduced', or 'not comparable' listing every
reason (smoke run, run failed/missing/diverged, or a mismatch on dataset, model, epochs, batch
size, precision (fp32 when unstated), or, for a time metric, different or unstated hardware). Tolerances: absolute for accuracy and loss, relative (0.25 = +-25%) for times
and throughput. Measured = mean over the workload's 'ok' seeds.

When a claim was made after fewer epochs than the run trained and the run validated on the test
set, accuracy/loss are read from history.csv at the claim's epoch (S3 published accuracy after
epoch 9 of 10). Per-epoch time and throughput are rates, so a different epoch count does not stop
them being compared; total training time is then not comparable. Not for reading files or layout.
"""
import math
import re
from dataclasses import dataclass

from alexbench.reporting.runs import framework_rank

RELATIVE = {"train_time_s", "epoch_time_s", "train_images_per_s"}
ACCURACY_LIKE = {"test_accuracy", "test_loss", "train_accuracy", "train_loss"}
HARDWARE_BOUND = RELATIVE
# Used only when a config's tolerance omits a metric; stated in the verdict's reason.
DEFAULT_TOLERANCE = {"test_accuracy": 0.01, "train_accuracy": 0.01, "test_loss": 0.02,
                     "train_loss": 0.02, "train_time_s": 0.25, "epoch_time_s": 0.25,
                     "train_images_per_s": 0.25}
METRIC_LABELS = {"test_accuracy": "test accuracy", "test_loss": "test loss",
                 "train_accuracy": "train accuracy", "train_loss": "train loss",
                 "train_time_s": "training time (s)", "epoch_time_s": "time per epoch (s)",
                 "train_images_per_s": "throughput (images/s)"}


@dataclass
class Verdict:
    experiment: str
    reference: str
    framework: str
    hardware: str
    metric: str
    published: float
    published_hardware: str | None
    published_epochs: int | None
    measured: float | None
    n_seeds: int
    measured_device: str
    verdict: str
    reason: str


def normalise_device(name: str) -> str:
    """Lower-case device name without vendor words, for 'same device?' checks."""
    name = re.sub(r"\(r\)|\(tm\)|nvidia|geforce|corporation|intel|amd", " ", name.lower())
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", name).split())


def same_device(published: str, measured: str) -> bool:
    """True when the published device's name is contained in the measured one after normalising
    ('Tesla V100' matches 'Tesla V100-SXM2-16GB'; 'MX250' does not match 'RTX 3090')."""
    pub, mea = normalise_device(published), normalise_device(measured)
    return bool(pub) and (pub == mea or f" {pub} " in f" {mea} " or mea.startswith(pub + " "))


def _history_at(run, epoch: int):
    for row in run.history:
        if row["epoch"] == epoch:
            return row
    return None


def measured_value(run, metric: str, at_epoch: int | None):
    """One run's value of a claim metric; at_epoch reads history.csv at that epoch instead of the
    final figures (only for accuracy/loss). None when the run does not have it."""
    m = run.metrics
    if at_epoch is not None:
        row = _history_at(run, at_epoch)
        if row is None:
            return None
        return {"test_accuracy": row["val_accuracy"], "test_loss": row["val_loss"],
                "train_accuracy": row["train_accuracy"], "train_loss": row["train_loss"]}[metric]
    if metric == "test_accuracy":
        return m["test"]["accuracy"]
    if metric == "test_loss":
        return m["test"]["loss"]
    if metric in ("train_accuracy", "train_loss"):
        return run.history[-1][metric] if run.history else None
    if metric == "train_time_s":
        return m["train_time_s"]
    if metric == "epoch_time_s":
        times = m["epoch_times_s"]
        return sum(times) / len(times) if times else None
    if metric == "train_images_per_s":
        return m["throughput"]["train_images_per_s"]
    raise ValueError(f"claim metric {metric!r} is not one of {sorted(METRIC_LABELS)}")


def judge(published: float, measured: float, metric: str, tolerance: float, tol_note: str = "") -> tuple:
    """('reproduced' | 'not reproduced', reason) for one number against its tolerance."""
    diff = measured - published
    if metric in RELATIVE:
        rel = diff / published
        ok = abs(rel) <= tolerance
        return ("reproduced" if ok else "not reproduced",
                f"measured {rel:+.0%} from published; tolerance ±{tolerance:.0%}{tol_note}")
    ok = abs(diff) <= tolerance + 1e-12
    return ("reproduced" if ok else "not reproduced",
            f"|{measured:.4g} − {published:.4g}| = {abs(diff):.4g} {'≤' if ok else '>'} {tolerance:g}{tol_note}")


def _precheck(runs, metric, claim, exp) -> tuple:
    """(reason not comparable | None, ok runs, at_epoch) before looking at the numbers."""
    ok = [r for r in runs if r.status == "ok"]
    if not runs:
        return "this framework and hardware were not part of the run", [], None
    if not ok:
        states = sorted({r.status for r in runs})
        detail = "; ".join(f"seed {r.seed}: {r.status}" + (f" ({r.failure_reason})" if r.failure_reason else
                           f" after {r.metrics['epochs_completed']} epochs" if r.metrics else "")
                           for r in runs)
        return f"run {'/'.join(states)}: {detail}", [], None
    if any(r.metrics["smoke"] for r in ok):
        return "smoke run (1 epoch, few images): not comparable with published figures", ok, None
    if any(r.metrics.get("subset") for r in ok):
        return "subset run (first images of each split): not comparable with published figures", ok, None
    # Every mismatch, in the order dataset, model, epochs, batch size, precision, hardware.
    epoch_reason, at_epoch = _epoch_check(ok, metric, claim)
    mismatches = (_axis_mismatches(claim, ok, ("dataset", "model")) + ([epoch_reason] if epoch_reason else [])
                  + _axis_mismatches(claim, ok, ("batch_size", "precision")))
    if metric in HARDWARE_BOUND:
        published_hw = claim.get("hardware")
        devices = sorted({r.metrics["device"]["name"] for r in ok})
        if not published_hw:
            mismatches.append("the source did not state its hardware, so time/throughput cannot be compared")
        elif not all(same_device(published_hw, d) for d in devices):
            mismatches.append(f"different hardware: published on {published_hw}, measured on {', '.join(devices)}")
    if mismatches:
        return "; ".join(mismatches), ok, None
    return None, ok, at_epoch


# Axes besides epochs and hardware on which a run must match a claim, from the run's identity and
# settings. A claim without precision means fp32; the run's precision is its identity's (the run
# table's, checked equal to metrics.json's settings.precision when read; fp32 in older folders).
def _run_axes(run) -> dict:
    settings = run.metrics["settings"]
    return {"dataset": run.dataset, "model": run.model, "batch_size": settings.get("batch_size"),
            "precision": run.precision}


AXIS_LABELS = {"dataset": "dataset", "model": "model", "batch_size": "batch size", "precision": "precision"}


def _axis_mismatches(claim, ok, keys) -> list[str]:
    """Every axis among `keys` (of AXIS_LABELS) on which the runs differ from the claim, as
    'different dataset: published with mnist, run with fashion_mnist'."""
    out = []
    for key in keys:
        label = AXIS_LABELS[key]
        published = claim.get(key, "fp32" if key == "precision" else None)
        measured = sorted({str(_run_axes(r)[key]) for r in ok})
        if published is None:
            out.append(f"the claim does not state its {label}")
        elif measured != [str(published)]:
            out.append(f"different {label}: published with {published}, run with {'/'.join(measured)}")
    return out


def _epoch_check(ok, metric, claim) -> tuple:
    """(reason the epochs make the claim not comparable | None, epoch to read history at | None)."""
    claim_epochs = claim.get("epochs")
    run_epochs = sorted({r.metrics["epochs_completed"] for r in ok})
    if claim_epochs is None or run_epochs == [claim_epochs]:
        return None, None
    if max(run_epochs) < claim_epochs or len(run_epochs) > 1:
        return f"fewer epochs: run trained {'/'.join(map(str, run_epochs))}, published after {claim_epochs}", None
    # The run trained longer than the claim.
    if metric in ("epoch_time_s", "train_images_per_s"):
        return None, None
    validation = sorted({r.metrics["settings"]["validation"] for r in ok})
    if metric in ("train_accuracy", "train_loss") or (metric in ACCURACY_LIKE and validation == ["test"]):
        return None, claim_epochs
    return (f"different epochs: run trained {run_epochs[0]}, published after {claim_epochs}, "
            f"and the run validated on {validation[0]}, not the test set, so no figure at that epoch"), None


def evaluate_claims(config: dict, runs) -> list[Verdict]:
    """Every published claim of every experiment that has expected runs, per framework and
    hardware among those runs (config.json may say hardware 'auto'; the runs say what was run).
    Experiments without any expected run (left out by experiments_only) are skipped."""
    verdicts = []
    for exp_name, exp in (config.get("experiments") or {}).items():
        published = exp.get("published")
        exp_runs = [r for r in runs if r.experiment == exp_name]
        if not published or not exp_runs:
            continue
        tolerance = published.get("tolerance") or {}
        frameworks = sorted({r.framework for r in exp_runs}, key=framework_rank)
        hardware_kinds = sorted({r.hardware for r in exp_runs})
        for claim in published.get("claims", []):
            for framework in ([claim["framework"]] if claim.get("framework") else frameworks):
                for hardware in hardware_kinds:
                    wl = [r for r in exp_runs if r.framework == framework and r.hardware == hardware]
                    for metric, value in claim["metrics"].items():
                        verdicts.append(_verdict(exp_name, published, claim, framework, hardware,
                                                 metric, value, tolerance, wl, exp))
    return verdicts



def _verdict(exp_name, published, claim, framework, hardware, metric, value, tolerance, wl, exp):
    if metric not in METRIC_LABELS:
        raise ValueError(f"config experiments.{exp_name}.published.claims: metric {metric!r} "
                         f"is not one of {sorted(METRIC_LABELS)}")
    reason, ok, at_epoch = _precheck(wl, metric, claim, exp)
    values = [measured_value(r, metric, at_epoch) for r in ok]
    values = [v for v in values if v is not None and math.isfinite(v)]
    measured = sum(values) / len(values) if values else None
    devices = ", ".join(sorted({r.metrics["device"]["name"] for r in ok}))
    diverged = [r for r in wl if r.status != "ok"]
    if reason is None and measured is None:
        reason = f"the runs do not record {METRIC_LABELS[metric]}" + (
            f" at epoch {at_epoch}" if at_epoch else "")
    if reason is None:
        tol = tolerance.get(metric)
        note = ""
        if tol is None:
            tol = DEFAULT_TOLERANCE[metric]
            note = " (default tolerance: none in config)"
        if at_epoch:
            note += f"; read at epoch {at_epoch} from history.csv"
        if diverged:
            note += f"; {len(diverged)} of {len(wl)} seeds excluded ({', '.join(r.status for r in diverged)})"
        verdict, reason = judge(value, measured, metric, tol, note)
    else:
        verdict = "not comparable"
    return Verdict(experiment=exp_name, reference=published.get("reference", ""), framework=framework,
                   hardware=hardware, metric=metric, published=value,
                   published_hardware=claim.get("hardware"), published_epochs=claim.get("epochs"),
                   measured=measured, n_seeds=len(values), measured_device=devices,
                   verdict=verdict, reason=reason)
